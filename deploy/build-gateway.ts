/**
 * The gateway runtime as one bundled JavaScript file (esbuild): dist/gmel-ied.mjs. Only the native
 * inference packages stay outside (onnxruntime-node ships its binary; onnxruntime-web its wasm).
 * A gateway then runs `node gmel-ied.mjs --ieds 7 --broker mqtt://…` without tsx or the trainer.
 *
 *   npm run build:gateway
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildGateway(outfile = join(root, 'dist', 'gmel-ied.mjs')): Promise<string> {
  await build({
    entryPoints: [join(root, 'runtime-ied', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['onnxruntime-node', 'onnxruntime-web'],
    // CommonJS dependencies bundled into ESM still call require()
    banner: { js: "import { createRequire as __gmelRequire } from 'node:module'; const require = __gmelRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  return outfile;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await buildGateway());
