/**
 * Each IED's actor in the TensorFlow.js layers format (model.json + weights.bin), built with
 * tf.layers so the files are exactly what tf.loadLayersModel reads, and tagged with the observation
 * encoder's version so the ONNX export and the runtimes can refuse a mismatch.
 *
 * | actor | model                         | inputs → outputs                                  |
 * |-------|-------------------------------|---------------------------------------------------|
 * | mlp   | Sequential dense_0 … dense_L  | obs [N, D] → logits [N, A]                        |
 * | gru   | functional (see buildGru)     | [obs [N, D], h [N, H]] → [logits [N, A], h' [N, H]] |
 *
 * tfjs has no GRU layer that takes and returns its state as model inputs and outputs, so the cell is
 * spelled out with dense, add, multiply and activation layers; its layer names are what
 * actor-file.ts reads back.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActorLayer, ActorNet, GruCell } from './actor-net.ts';
import type { ObservationScales } from '../core/observation.ts';

export interface ActorMetadata {
  readonly obsEncoderVersion: string;
  readonly ied: number;
  readonly algo: string;
  readonly actionNames: readonly string[];
  readonly runName: string;
  readonly episode: number;
  /** the observation scales it was trained with (gmel-obs/2: the model's own, core/observation.ts) */
  readonly obsScales?: ObservationScales;
}

/** Layer names of the spelled-out GRU cell: x·W + b and h·U per gate. */
export const GRU_LAYERS = { encoder: 'enc', xz: 'gru_xz', hz: 'gru_hz', xr: 'gru_xr', hr: 'gru_hr', xh: 'gru_xh', hh: 'gru_hh', head: 'head' } as const;

function denseLayer(name: string, units: number, activation: 'relu' | 'linear', useBias = true) {
  return tf.layers.dense({ units, activation, useBias, name });
}

/** h' = ĥ + z ⊙ (h − ĥ); h − ĥ is a fixed dense layer over [h, ĥ] (tfjs has no subtract layer). */
function buildGru(net: { encoder: ActorLayer; cell: GruCell; head: ActorLayer }): tf.LayersModel {
  const { encoder, cell, head } = net;
  const H = cell.hidden;
  const obs = tf.input({ shape: [encoder.inputs], name: 'obs' });
  const h = tf.input({ shape: [H], name: 'h' });
  const n = GRU_LAYERS;
  const e = denseLayer(n.encoder, encoder.outputs, 'relu').apply(obs) as tf.SymbolicTensor;
  const gate = (x: string, u: string, hIn: tf.SymbolicTensor, act: 'sigmoid' | 'tanh', name: string) =>
    tf.layers.activation({ activation: act, name }).apply(
      tf.layers.add({ name: `${name}_sum` }).apply([denseLayer(x, H, 'linear').apply(e) as tf.SymbolicTensor, denseLayer(u, H, 'linear', false).apply(hIn) as tf.SymbolicTensor]),
    ) as tf.SymbolicTensor;
  const z = gate(n.xz, n.hz, h, 'sigmoid', 'z');
  const r = gate(n.xr, n.hr, h, 'sigmoid', 'r');
  const rh = tf.layers.multiply({ name: 'r_h' }).apply([r, h]) as tf.SymbolicTensor;
  const candidate = gate(n.xh, n.hh, rh, 'tanh', 'candidate');
  const both = tf.layers.concatenate({ name: 'h_candidate' }).apply([h, candidate]) as tf.SymbolicTensor;
  const diff = tf.layers.dense({ units: H, useBias: false, trainable: false, name: 'h_minus_candidate' }).apply(both) as tf.SymbolicTensor;
  const next = tf.layers.add({ name: 'h_next' }).apply([candidate, tf.layers.multiply({ name: 'z_diff' }).apply([z, diff]) as tf.SymbolicTensor]) as tf.SymbolicTensor;
  const logits = denseLayer(n.head, head.outputs, 'linear').apply(next) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [obs, h], outputs: [logits, next], name: 'gru_actor' });
  const difference = new Float32Array(2 * H * H);
  for (let k = 0; k < H; k++) {
    difference[k * H + k] = 1;
    difference[(H + k) * H + k] = -1;
  }
  // setWeights copies: the tensors made here are disposed at once
  const set = (name: string, ...w: tf.Tensor[]) => {
    model.getLayer(name).setWeights(w);
    tf.dispose(w);
  };
  const k2 = (data: Float32Array, rows: number) => tf.tensor2d(data, [rows, H]);
  set(n.encoder, tf.tensor2d(encoder.kernel, [encoder.inputs, encoder.outputs]), tf.tensor1d(encoder.bias));
  set(n.xz, k2(cell.Wz, cell.inputs), tf.tensor1d(cell.bz));
  set(n.xr, k2(cell.Wr, cell.inputs), tf.tensor1d(cell.br));
  set(n.xh, k2(cell.Wh, cell.inputs), tf.tensor1d(cell.bh));
  set(n.hz, k2(cell.Uz, H));
  set(n.hr, k2(cell.Ur, H));
  set(n.hh, k2(cell.Uh, H));
  set('h_minus_candidate', k2(difference, 2 * H));
  set(n.head, tf.tensor2d(head.kernel, [head.inputs, head.outputs]), tf.tensor1d(head.bias));
  return model;
}

export function buildActorModel(net: ActorNet): tf.LayersModel {
  if (net.kind === 'gru') return buildGru(net);
  const model = tf.sequential();
  net.layers.forEach((l, k) => {
    model.add(tf.layers.dense({ units: l.outputs, activation: l.activation, inputShape: k === 0 ? [l.inputs] : undefined, name: `dense_${k}` }));
  });
  const weights = net.layers.flatMap((l) => [tf.tensor2d(l.kernel, [l.inputs, l.outputs]), tf.tensor1d(l.bias)]);
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

export async function saveActor(dir: string, net: ActorNet, meta: ActorMetadata): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const model = buildActorModel(net);
  try {
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        const weightsFile = 'weights.bin';
        const json = {
          modelTopology: artifacts.modelTopology,
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tf.version['tfjs-layers']}`,
          convertedBy: null,
          weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs }],
          userDefinedMetadata: { ...meta, actor: net.kind },
        };
        writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
        writeFileSync(join(dir, weightsFile), Buffer.from(artifacts.weightData as ArrayBuffer));
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  } finally {
    model.dispose();
  }
}
