/**
 * Each IED's actor in the TensorFlow.js layers format (model.json + weights.bin), built with
 * tf.layers so the files are exactly what tf.loadLayersModel reads, and tagged with the observation
 * encoder's version so the ONNX export and the runtimes can refuse a mismatch.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActorLayer } from './learner.ts';

export interface ActorMetadata {
  readonly obsEncoderVersion: string;
  readonly ied: number;
  readonly algo: string;
  readonly actionNames: readonly string[];
  readonly runName: string;
  readonly episode: number;
}

export function buildActorModel(layers: readonly ActorLayer[]): tf.Sequential {
  const model = tf.sequential();
  layers.forEach((l, k) => {
    model.add(tf.layers.dense({ units: l.outputs, activation: l.activation, inputShape: k === 0 ? [l.inputs] : undefined, name: `dense_${k}` }));
  });
  model.setWeights(layers.flatMap((l) => [tf.tensor2d(l.kernel, [l.inputs, l.outputs]), tf.tensor1d(l.bias)]));
  return model;
}

export async function saveActor(dir: string, layers: readonly ActorLayer[], meta: ActorMetadata): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const model = buildActorModel(layers);
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
          userDefinedMetadata: meta,
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
