// Hand-made ONNX actors for tests of the runtimes' failure handling.
import onnxProto from 'onnx-proto';
import { OBS_ENCODER_VERSION, observationScales } from '../../core/observation.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { actorToOnnx } from '../../trainer/export-onnx.ts';
import { createActorSession } from '../../runtime-ied/policy.ts';
import type { ModelHandle } from '../../runtime-ied/gateway.ts';

/** The observation scales of a model trained on gmel2024 (core/observation.ts, gmel-obs/2). */
export const GMEL2024_SCALES = observationScales(loadScenario('gmel2024'));
/** The encoder fields of a hand-made actor's ONNX metadata, as a gmel2024 training would record them. */
export const ENCODER_META = { obsEncoderVersion: OBS_ENCODER_VERSION, obsScales: GMEL2024_SCALES } as const;

const { onnx } = onnxProto;

const valueInfo = (name: string, elemType: number, dims: (number | string)[]) =>
  onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });

/**
 * A model that loads (the declared widths fit the plant: obs [N, inputs] → logits [N, actions]) but fails
 * every inference: it reshapes the observation to [−1, actions], which `inputs` floats cannot fill.
 */
export function failingActorOnnx(inputs: number, actions: number): Uint8Array {
  if (inputs % actions === 0) throw new Error('pick widths the reshape cannot fit');
  const shape = onnx.TensorProto.create({ name: 'shape', dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [-1, actions] });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'failing_actor',
      initializer: [shape],
      node: [
        onnx.NodeProto.create({ name: 'reshape', opType: 'Reshape', input: ['obs', 'shape'], output: ['logits'] }),
        onnx.NodeProto.create({
          name: 'argmax', opType: 'ArgMax', input: ['logits'], output: ['action'],
          attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }, { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }],
        }),
      ],
      input: [valueInfo('obs', onnx.TensorProto.DataType.FLOAT, ['N', inputs])],
      output: [valueInfo('logits', onnx.TensorProto.DataType.FLOAT, ['N', actions]), valueInfo('action', onnx.TensorProto.DataType.INT64, ['N'])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** An actor that always offloads to edge server 1 (bias on action 1), for IEDs `ieds` of gmel2024 (5 edge servers). */
export async function offloadingModel(ieds: readonly number[] = [0, 1]): Promise<ModelHandle> {
  const layers = [{ kernel: new Float32Array(20 * 6), bias: Float32Array.of(0, 5, 0, 0, 0, 0), inputs: 20, outputs: 6, activation: 'linear' as const }];
  const bytes = actorToOnnx({ kind: 'mlp', layers }, { policyVersion: 'to-edge-1', ...ENCODER_META, ied: 0, algo: 'test', actionNames: [] });
  const session = await createActorSession(bytes, 'node', { inputs: 20, actions: 6 });
  return { version: 'to-edge-1', scales: GMEL2024_SCALES, sessions: new Map(ieds.map((i) => [i, session])) };
}
