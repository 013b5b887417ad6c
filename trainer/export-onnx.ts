/**
 * Our tfjs-layers → ONNX converter for actors (tf2onnx needs Python + TensorFlow and takes only
 * graph models, so it cannot serve here). An actor is a chain of dense layers; its ONNX graph:
 *
 * | tensor   | shape    | type    | made by                                              |
 * |----------|----------|---------|------------------------------------------------------|
 * | obs      | [N, D]   | float32 | input: core/observation.ts encodings, N any          |
 * | h_k      | [N, H_k] | float32 | Gemm(W_k, b_k) then Relu for hidden layers           |
 * | logits   | [N, A]   | float32 | output: the last Gemm (action preferences)           |
 * | action   | [N]      | int64   | output: ArgMax(logits, axis 1): 0 local, m edge m   |
 *
 * Opset 13 (Gemm, Relu, ArgMax are stable there), IR version 8 (what onnx-proto 8 encodes).
 * Metadata props carry the policy version, the observation encoder version, IED, algorithm and
 * action names, so a runtime can refuse a model that does not fit it.
 */
import onnxProto from 'onnx-proto';
import type { ActorLayer } from './learner.ts';

const { onnx } = onnxProto;

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

export interface OnnxActorMetadata {
  readonly policyVersion: string;
  readonly obsEncoderVersion: string;
  readonly ied: number;
  readonly algo: string;
  readonly actionNames: readonly string[];
}

function floatTensor(name: string, dims: number[], data: Float32Array) {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

/** Serialize an actor (dense chain, as exported by the trainer) to ONNX bytes. */
export function actorToOnnx(layers: readonly ActorLayer[], meta: OnnxActorMetadata): Uint8Array {
  if (layers.length === 0) throw new Error('an actor needs at least one layer');
  const nodes = [];
  const initializers = [];
  let input = 'obs';
  for (const [k, l] of layers.entries()) {
    const last = k === layers.length - 1;
    const gemmOut = last ? 'logits' : `gemm_${k}`;
    initializers.push(floatTensor(`W_${k}`, [l.inputs, l.outputs], l.kernel), floatTensor(`b_${k}`, [l.outputs], l.bias));
    nodes.push(onnx.NodeProto.create({ name: `dense_${k}`, opType: 'Gemm', input: [input, `W_${k}`, `b_${k}`], output: [gemmOut] }));
    input = gemmOut;
    if (l.activation === 'relu') {
      if (last) throw new Error('the output layer of an actor must be linear (its logits)');
      nodes.push(onnx.NodeProto.create({ name: `relu_${k}`, opType: 'Relu', input: [gemmOut], output: [`h_${k}`] }));
      input = `h_${k}`;
    }
  }
  nodes.push(onnx.NodeProto.create({
    name: 'argmax', opType: 'ArgMax', input: ['logits'], output: ['action'],
    attribute: [
      { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
      { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
    ],
  }));
  const first = layers[0] as ActorLayer;
  const outputs = (layers[layers.length - 1] as ActorLayer).outputs;
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'gmel-edge',
    producerVersion: '1',
    docString: `GMEL edge actor of IED ${meta.ied} (${meta.algo})`,
    graph: {
      name: `actor_ied_${meta.ied}`,
      node: nodes,
      initializer: initializers,
      input: [valueInfo('obs', onnx.TensorProto.DataType.FLOAT, ['N', first.inputs])],
      output: [valueInfo('logits', onnx.TensorProto.DataType.FLOAT, ['N', outputs]), valueInfo('action', onnx.TensorProto.DataType.INT64, ['N'])],
    },
    metadataProps: [
      { key: 'gmel.policy_version', value: meta.policyVersion },
      { key: 'gmel.obs_encoder_version', value: meta.obsEncoderVersion },
      { key: 'gmel.ied', value: String(meta.ied) },
      { key: 'gmel.algo', value: meta.algo },
      { key: 'gmel.action_names', value: JSON.stringify(meta.actionNames) },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Read a model's gmel.* metadata (for runtimes and tests). */
export function onnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}

/** Back from ONNX to dense layers (the exporter's own graphs only): for parity checks and benchmarks. */
export function onnxToLayers(bytes: Uint8Array): ActorLayer[] {
  const model = onnx.ModelProto.decode(bytes);
  const graph = model.graph;
  if (!graph) throw new Error('no graph');
  const init = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const floats = (name: string) => {
    const t = init.get(name);
    if (!t?.rawData) throw new Error(`initializer ${name} missing`);
    const raw = t.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  };
  const relus = new Set((graph.node ?? []).filter((n) => n.opType === 'Relu').map((n) => n.name));
  const layers: ActorLayer[] = [];
  for (let k = 0; init.has(`W_${k}`); k++) {
    const dims = (init.get(`W_${k}`)?.dims ?? []).map(Number);
    layers.push({ kernel: floats(`W_${k}`), bias: floats(`b_${k}`), inputs: dims[0] ?? 0, outputs: dims[1] ?? 0, activation: relus.has(`relu_${k}`) ? 'relu' : 'linear' });
  }
  return layers;
}
