/**
 * The gateway runtime as one bundled, minified JavaScript file (esbuild): dist/gmel-ied.mjs. Only the
 * native inference packages stay outside (onnxruntime-node ships its binary; onnxruntime-web its
 * wasm). A gateway then runs `node gmel-ied.mjs --ieds 7 --broker mqtt://…` without tsx or the
 * trainer. `analyzeGateway` builds the same bundle in memory and says what is inside it
 * (test/architecture.test.ts: no TensorFlow.js, no trainer, twin, plant or CLI; bench/gateway.ts).
 *
 *   npm run build:gateway
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { definedValidators } from '../core/validators.ts';
// the modules whose validators a gateway uses: importing them records their validators
import '../protocol/codec.ts';
import '../core/scenario/load.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * core/validators-precompiled.ts, as bundled: ajv's standalone code for every validator recorded in
 * core/validators.ts, one Ajv (and one CommonJS chunk in its own scope) per option set, so that the
 * gateway never runs ajv's code generator. The code is generated from the same schemas at each build.
 */
export function precompiledValidatorsSource(): string {
  const groups = new Map<boolean, { ajv: Ajv; exports: Record<string, string>; names: Record<string, string> }>();
  let k = 0;
  for (const [name, spec] of definedValidators()) {
    let g = groups.get(spec.allErrors);
    if (!g) groups.set(spec.allErrors, (g = { ajv: new Ajv({ allErrors: spec.allErrors, strict: true, code: { source: true } }), exports: {}, names: {} }));
    const id = `gmel:${name}`;
    g.ajv.addSchema(spec.schema, id);
    const exportName = `v${k++}`;
    g.exports[exportName] = id;
    g.names[name] = exportName;
  }
  const chunks = [...groups.values()].map((g, i) => {
    // standaloneCode is CommonJS (module.exports, require of ajv's small runtime helpers, which esbuild bundles)
    const code = (standaloneCode as unknown as (ajv: Ajv, refs: Record<string, string>) => string)(g.ajv, g.exports);
    // [name, validator] pairs: a name stays a quoted string in the minified bundle (analyzeGateway finds it there)
    const table = Object.entries(g.names).map(([name, e]) => `[${JSON.stringify(name)}, group${i}.${e}]`).join(', ');
    return { code: `const group${i} = (() => { const module = { exports: {} }; const exports = module.exports;\n${code}\nreturn module.exports; })();`, table };
  });
  return `${chunks.map((c) => c.code).join('\n')}\nexport const PRECOMPILED = Object.freeze(Object.fromEntries([${chunks.map((c) => c.table).join(', ')}]));\n`;
}

const precompiledValidators: Plugin = {
  name: 'gmel-precompiled-validators',
  setup(b) {
    b.onLoad({ filter: /core[\\/]validators-precompiled\.ts$/ }, () => ({ contents: precompiledValidatorsSource(), loader: 'js', resolveDir: root }));
  },
};

const OPTIONS: BuildOptions = {
  entryPoints: [join(root, 'runtime-ied', 'main.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // minified (about half the size), with class and function names kept for logs and stack traces
  minify: !process.env.GMEL_NO_MINIFY, // GMEL_NO_MINIFY=1: readable names in a --cpu-prof profile of the bundle
  keepNames: true,
  external: ['onnxruntime-node', 'onnxruntime-web'],
  // CommonJS dependencies bundled into ESM still call require()
  banner: { js: "import { createRequire as __gmelRequire } from 'node:module'; const require = __gmelRequire(import.meta.url);" },
  logLevel: 'warning',
  plugins: [precompiledValidators],
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
  /** validators whose precompiled code the bundle's PRECOMPILED table holds (the plugin ran): their names as keys of it */
  readonly precompiled: readonly string[];
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
  // a ["name", validator] pair is only in the table the plugin writes (core/validators-precompiled.ts as
  // written is empty, and the message validators' names are built from a template)
  const text = result.outputFiles[0]?.text ?? '';
  const precompiled = [...definedValidators().keys()].filter((name) => text.includes(`[${JSON.stringify(name)},`));
  return { bytes, inputs: Object.keys(output?.inputs ?? {}), bytesByPackage, externalImports, precompiled };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await buildGateway());
