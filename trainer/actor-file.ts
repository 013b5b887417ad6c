/**
 * Reading an exported actor (TensorFlow.js layers format: model.json + weights.bin) back into plain
 * dense layers, and running it. The forward pass is written out here (a note, as the brief asks): a
 * 3-layer MLP on one observation is ~5k multiply-adds, far below the per-call cost of a tensor
 * library, and evaluation runs it once per IED per slot. test/trainer/export.test.ts pins it to tfjs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActorLayer } from './learner.ts';
import { InputError } from '../core/errors.ts';
import type { ActorMetadata } from './export-tfjs.ts';

interface LayersModelJson {
  modelTopology: { config: { layers: { class_name: string; config: { units: number; activation: string; name: string } }[] } };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  userDefinedMetadata?: ActorMetadata;
}

export interface LoadedActor {
  readonly layers: readonly ActorLayer[];
  readonly metadata: ActorMetadata;
}

export function readActor(dir: string): LoadedActor {
  let json: LayersModelJson;
  try {
    json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as LayersModelJson;
  } catch (err) {
    throw new InputError(`${dir}/model.json: ${(err as Error).message}`);
  }
  const manifest = json.weightsManifest[0];
  if (!manifest) throw new InputError(`${dir}/model.json has no weights manifest`);
  const bin = readFileSync(join(dir, manifest.paths[0] ?? 'weights.bin'));
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  const dense = json.modelTopology.config.layers.filter((l) => l.class_name === 'Dense');
  let offset = 0;
  const take = (n: number) => {
    const out = floats.slice(offset, offset + n);
    offset += n;
    return out;
  };
  const layers = dense.map((l, k) => {
    const kernelSpec = manifest.weights[2 * k];
    const biasSpec = manifest.weights[2 * k + 1];
    if (!kernelSpec || !biasSpec || kernelSpec.shape.length !== 2) throw new InputError(`${dir}: weights of layer ${l.config.name} missing`);
    const [inputs, outputs] = kernelSpec.shape as [number, number];
    const activation = l.config.activation === 'relu' ? 'relu' : 'linear';
    return { kernel: take(inputs * outputs), bias: take(outputs), inputs, outputs, activation } as ActorLayer;
  });
  if (offset !== floats.length) throw new InputError(`${dir}: weights.bin has ${floats.length} floats, the topology needs ${offset}`);
  if (!json.userDefinedMetadata) throw new InputError(`${dir}/model.json lacks userDefinedMetadata (obs encoder version)`);
  return { layers, metadata: json.userDefinedMetadata };
}

/** Logits of one observation; scratch buffers are reused by the caller. */
export function actorLogits(layers: readonly ActorLayer[], obs: ArrayLike<number>, obsOffset: number, scratch: [Float32Array, Float32Array]): Float32Array {
  let input: ArrayLike<number> = obs;
  let inOffset = obsOffset;
  let which = 0;
  for (const l of layers) {
    const out = scratch[which] as Float32Array;
    for (let o = 0; o < l.outputs; o++) {
      let acc = l.bias[o] as number;
      for (let k = 0; k < l.inputs; k++) acc += (input[inOffset + k] as number) * (l.kernel[k * l.outputs + o] as number);
      out[o] = l.activation === 'relu' && acc < 0 ? 0 : acc;
    }
    input = out;
    inOffset = 0;
    which = 1 - which;
  }
  return input as Float32Array;
}
