/**
 * The gateway runtime as one bundled, minified JavaScript file (esbuild): dist/gmel-ied.mjs. Only the
 * native inference packages stay outside (onnxruntime-node ships its binary; onnxruntime-web its
 * wasm). A gateway then runs `node gmel-ied.mjs --ieds 7 --broker mqtt://…` without tsx or the
 * trainer. `analyzeGateway` builds the same bundle in memory and says what is inside it
 * (test/architecture.test.ts: no TensorFlow.js, no trainer, twin, plant or CLI; bench/gateway.ts).
 *
 *   npm run build:gateway
 */
import { build, type BuildOptions } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const OPTIONS: BuildOptions = {
  entryPoints: [join(root, 'runtime-ied', 'main.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // minified (about half the size), with class and function names kept for logs and stack traces
  minify: true,
  keepNames: true,
  external: ['onnxruntime-node', 'onnxruntime-web'],
  // CommonJS dependencies bundled into ESM still call require()
  banner: { js: "import { createRequire as __gmelRequire } from 'node:module'; const require = __gmelRequire(import.meta.url);" },
  logLevel: 'warning',
};

export async function buildGateway(outfile = join(root, 'dist', 'gmel-ied.mjs')): Promise<string> {
  await build({ ...OPTIONS, outfile });
  return outfile;
}

export interface GatewayBundleReport {
  /** size of the bundle, bytes (onnxruntime excluded: it stays outside) */
  readonly bytes: number;
  /** every source file inside, relative to the repository root */
  readonly inputs: readonly string[];
  /** bytes in the bundle by npm package, or by top-level folder for our own code */
  readonly bytesByPackage: Readonly<Record<string, number>>;
  /** packages the bundle imports from outside itself at run time (the externals it uses) */
  readonly externalImports: readonly string[];
}

/** Build the gateway bundle in memory and report what it holds. */
export async function analyzeGateway(): Promise<GatewayBundleReport> {
  const result = await build({ ...OPTIONS, outfile: join(root, 'dist', 'analyze.mjs'), write: false, metafile: true, logLevel: 'error' });
  const output = Object.values(result.metafile.outputs)[0];
  const bytes = result.outputFiles[0]?.contents.length ?? 0;
  const bytesByPackage: Record<string, number> = {};
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? path.split('/')[0] ?? path;
    bytesByPackage[pkg] = (bytesByPackage[pkg] ?? 0) + input.bytesInOutput;
  }
  const externalImports = [...new Set((output?.imports ?? []).filter((i) => i.external).map((i) => i.path))].sort();
  return { bytes, inputs: Object.keys(output?.inputs ?? {}), bytesByPackage, externalImports };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await buildGateway());
