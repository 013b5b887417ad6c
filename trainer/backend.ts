/**
 * TensorFlow.js backend selection, fastest first:
 *
 * | order | backend    | package                      | note                                            |
 * |-------|------------|------------------------------|-------------------------------------------------|
 * | 1     | tensorflow | @tensorflow/tfjs-node-gpu    | CUDA; downloads libtensorflow at install: opt-in |
 * | 2     | tensorflow | @tensorflow/tfjs-node        | native CPU; same download: opt-in               |
 * | 3     | wasm       | @tensorflow/tfjs-backend-wasm| a dependency: always there                       |
 * | 4     | cpu        | @tensorflow/tfjs (built in)  | plain JS, slowest                                |
 *
 * The native packages are never dependencies (they cannot be installed from the npm registry alone);
 * they are tried with a dynamic import, so a user who installed one gets it without a code change.
 */
import { InputError } from '../core/errors.ts';
import * as tf from '@tensorflow/tfjs';

export { BACKEND_CHOICES, type BackendChoice } from './presets.ts';
import type { BackendChoice } from './presets.ts';

export interface BackendInfo {
  /** what was asked for */
  readonly requested: BackendChoice;
  /** the package that provides it */
  readonly provider: Exclude<BackendChoice, 'auto'>;
  /** tf.getBackend() after selection */
  readonly tfBackend: string;
}

let selected: BackendInfo | undefined;

async function tryNative(pkg: 'tfjs-node-gpu' | 'tfjs-node'): Promise<boolean> {
  try {
    // a variable specifier keeps bundlers and the type checker from requiring the optional package
    const name = `@tensorflow/${pkg}`;
    await import(name);
    return (await tf.setBackend('tensorflow')) && tf.getBackend() === 'tensorflow';
  } catch {
    return false;
  }
}

async function tryWasm(): Promise<boolean> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

/** Select (once per process) and return the backend; a forced choice that cannot load is an error. */
export async function selectBackend(requested: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (selected && (requested === 'auto' || requested === selected.provider)) return selected;
  const order: Exclude<BackendChoice, 'auto'>[] = requested === 'auto' ? ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] : [requested];
  for (const provider of order) {
    let ok = false;
    if (provider === 'tfjs-node-gpu' || provider === 'tfjs-node') ok = await tryNative(provider);
    else if (provider === 'wasm') ok = await tryWasm();
    else ok = await tf.setBackend('cpu');
    if (ok) {
      await tf.ready();
      selected = { requested, provider, tfBackend: tf.getBackend() };
      return selected;
    }
  }
  throw new InputError(`--backend ${requested} is not available here${requested.startsWith('tfjs-node') ? ` (npm install @tensorflow/${requested}: it downloads libtensorflow at install)` : ''}`);
}
