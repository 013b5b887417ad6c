/**
 * Reading an exported actor (TensorFlow.js layers format: model.json + weights.bin, see
 * export-tfjs.ts) back into an ActorNet. Weights are found by name in the weights manifest, so the
 * order tfjs chose to write them in does not matter; every float of weights.bin must be accounted for.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActorLayer, ActorNet } from './actor-net.ts';
import { InputError } from '../core/errors.ts';
import { GRU_LAYERS, type ActorMetadata } from './export-tfjs.ts';

interface LayerJson {
  class_name: string;
  config: { units?: number; activation?: string; name: string };
}

interface LayersModelJson {
  modelTopology: { config: { layers: LayerJson[] } };
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: string }[] }[];
  userDefinedMetadata?: ActorMetadata & { actor?: 'mlp' | 'gru' };
}

export interface LoadedActor {
  readonly net: ActorNet;
  readonly metadata: ActorMetadata;
}

export function readActor(dir: string): LoadedActor {
  let json: LayersModelJson;
  try {
    json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as LayersModelJson;
  } catch (err) {
    throw new InputError(`${dir}/model.json: ${(err as Error).message}`);
  }
  const manifest = json.weightsManifest?.[0];
  if (!manifest) throw new InputError(`${dir}/model.json has no weights manifest`);
  const bin = readFileSync(join(dir, manifest.paths[0] ?? 'weights.bin'));
  const floats = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
  // weights by name ("dense_0/kernel"), in file order
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  for (const w of manifest.weights) {
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (offset + n > floats.length) throw new InputError(`${dir}: weights.bin has ${floats.length} floats, the topology needs more`);
    weights.set(w.name.replace(/\/(kernel|bias)_\d+$/, '/$1'), { shape: w.shape, data: floats.slice(offset, offset + n) });
    offset += n;
  }
  if (offset !== floats.length) throw new InputError(`${dir}: weights.bin has ${floats.length} floats, the topology needs ${offset}`);
  const layersByName = new Map(json.modelTopology.config.layers.map((l) => [l.config.name, l]));
  const get = (name: string, part: 'kernel' | 'bias') => {
    const w = weights.get(`${name}/${part}`);
    if (!w) throw new InputError(`${dir}: weights of layer ${name} (${part}) missing`);
    return w;
  };
  const dense = (name: string): ActorLayer => {
    const kernel = get(name, 'kernel');
    if (kernel.shape.length !== 2) throw new InputError(`${dir}: layer ${name} kernel is not 2-D`);
    const [inputs, outputs] = kernel.shape as [number, number];
    const activation = layersByName.get(name)?.config.activation === 'relu' ? 'relu' : 'linear';
    return { kernel: kernel.data, bias: get(name, 'bias').data, inputs, outputs, activation };
  };
  if (!json.userDefinedMetadata) throw new InputError(`${dir}/model.json lacks userDefinedMetadata (obs encoder version)`);
  const { actor = 'mlp', ...metadata } = json.userDefinedMetadata;
  let net: ActorNet;
  if (actor === 'gru') {
    const g = GRU_LAYERS;
    const encoder = dense(g.encoder);
    const H = get(g.xz, 'kernel').shape[1] ?? 0;
    const k = (name: string) => get(name, 'kernel').data;
    const cell = {
      inputs: encoder.outputs, hidden: H,
      Wz: k(g.xz), Wr: k(g.xr), Wh: k(g.xh), Uz: k(g.hz), Ur: k(g.hr), Uh: k(g.hh),
      bz: get(g.xz, 'bias').data, br: get(g.xr, 'bias').data, bh: get(g.xh, 'bias').data,
    };
    net = { kind: 'gru', encoder, cell, head: dense(g.head) };
  } else {
    const names = json.modelTopology.config.layers.filter((l) => l.class_name === 'Dense').map((l) => l.config.name);
    net = { kind: 'mlp', layers: names.map(dense) };
  }
  return { net, metadata };
}
