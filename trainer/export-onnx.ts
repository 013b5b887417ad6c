/**
 * Our tfjs-layers → ONNX converter for actors (tf2onnx needs Python + TensorFlow and takes only
 * graph models, so it cannot serve here). A feed-forward actor is a chain of dense layers:
 *
 * | tensor   | shape    | type    | made by                                              |
 * |----------|----------|---------|------------------------------------------------------|
 * | obs      | [N, D]   | float32 | input: core/observation.ts encodings, N any          |
 * | h_k      | [N, H_k] | float32 | Gemm(W_k, b_k) then Relu for hidden layers           |
 * | logits   | [N, A]   | float32 | output: the last Gemm (action preferences)           |
 * | action   | [N]      | int64   | output: ArgMax(logits, axis 1): 0 local, m edge m   |
 *
 * A GRU actor (actor-net.ts) adds input h [N, H] (its state before this decision) and output
 * h_next [N, H]; the cell is spelled out with Gemm, MatMul, Add, Sub, Mul, Sigmoid and Tanh (ONNX's
 * own GRU op has a sequence axis and other gate conventions; the spelled-out form is exact).
 *
 * Opset 13 (Gemm, Relu, ArgMax are stable there), IR version 8 (what onnx-proto 8 encodes).
 * Metadata props carry the policy version, the observation encoder version, IED, algorithm and
 * action names, so a runtime can refuse a model that does not fit it.
 */
import onnxProto from 'onnx-proto';
import { actorShape, type ActorLayer, type ActorNet } from './actor-net.ts';
import type { ObservationScales } from '../core/observation.ts';

const { onnx } = onnxProto;

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

export interface OnnxActorMetadata {
  readonly policyVersion: string;
  readonly obsEncoderVersion: string;
  readonly ied: number;
  readonly algo: string;
  readonly actionNames: readonly string[];
  /** the observation scales the actor was trained with (gmel-obs/2) */
  readonly obsScales: ObservationScales;
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

const node = (name: string, opType: string, input: string[], output: string[]) => onnx.NodeProto.create({ name, opType, input, output });

/** The dense chain of a feed-forward actor: obs → … → logits. */
function mlpNodes(layers: readonly ActorLayer[], nodes: onnxProto.onnx.INodeProto[], initializers: onnxProto.onnx.ITensorProto[]): void {
  if (layers.length === 0) throw new Error('an actor needs at least one layer');
  let input = 'obs';
  for (const [k, l] of layers.entries()) {
    const last = k === layers.length - 1;
    const gemmOut = last ? 'logits' : `gemm_${k}`;
    initializers.push(floatTensor(`W_${k}`, [l.inputs, l.outputs], l.kernel), floatTensor(`b_${k}`, [l.outputs], l.bias));
    nodes.push(node(`dense_${k}`, 'Gemm', [input, `W_${k}`, `b_${k}`], [gemmOut]));
    input = gemmOut;
    if (l.activation === 'relu') {
      if (last) throw new Error('the output layer of an actor must be linear (its logits)');
      nodes.push(node(`relu_${k}`, 'Relu', [gemmOut], [`h_${k}`]));
      input = `h_${k}`;
    }
  }
}

/** A GRU actor (actor-net.ts): obs, h → e = relu(dense), the cell's gates, h_next, logits. */
function gruNodes(net: Extract<ActorNet, { kind: 'gru' }>, nodes: onnxProto.onnx.INodeProto[], initializers: onnxProto.onnx.ITensorProto[]): void {
  const { encoder, cell, head } = net;
  const H = cell.hidden;
  initializers.push(
    floatTensor('W_enc', [encoder.inputs, encoder.outputs], encoder.kernel), floatTensor('b_enc', [encoder.outputs], encoder.bias),
    floatTensor('Wz', [cell.inputs, H], cell.Wz), floatTensor('Wr', [cell.inputs, H], cell.Wr), floatTensor('Wh', [cell.inputs, H], cell.Wh),
    floatTensor('Uz', [H, H], cell.Uz), floatTensor('Ur', [H, H], cell.Ur), floatTensor('Uh', [H, H], cell.Uh),
    floatTensor('bz', [H], cell.bz), floatTensor('br', [H], cell.br), floatTensor('bh', [H], cell.bh),
    floatTensor('W_head', [head.inputs, head.outputs], head.kernel), floatTensor('b_head', [head.outputs], head.bias),
  );
  nodes.push(
    node('encoder', 'Gemm', ['obs', 'W_enc', 'b_enc'], ['enc_lin']),
    node('encoder_relu', 'Relu', ['enc_lin'], ['e']),
    node('xz', 'Gemm', ['e', 'Wz', 'bz'], ['xz']), node('hz', 'MatMul', ['h', 'Uz'], ['hz']), node('z_sum', 'Add', ['xz', 'hz'], ['z_lin']), node('z', 'Sigmoid', ['z_lin'], ['z']),
    node('xr', 'Gemm', ['e', 'Wr', 'br'], ['xr']), node('hr', 'MatMul', ['h', 'Ur'], ['hr']), node('r_sum', 'Add', ['xr', 'hr'], ['r_lin']), node('r', 'Sigmoid', ['r_lin'], ['r']),
    node('r_h', 'Mul', ['r', 'h'], ['rh']),
    node('xh', 'Gemm', ['e', 'Wh', 'bh'], ['xh']), node('hh', 'MatMul', ['rh', 'Uh'], ['hh']), node('c_sum', 'Add', ['xh', 'hh'], ['c_lin']), node('candidate', 'Tanh', ['c_lin'], ['candidate']),
    // h' = ĥ + z ⊙ (h − ĥ) = z ⊙ h + (1 − z) ⊙ ĥ
    node('h_minus_c', 'Sub', ['h', 'candidate'], ['h_minus_c']), node('z_diff', 'Mul', ['z', 'h_minus_c'], ['z_diff']), node('h_next', 'Add', ['candidate', 'z_diff'], ['h_next']),
    node('head', 'Gemm', ['h_next', 'W_head', 'b_head'], ['logits']),
  );
}

/** Serialize an actor (as exported by the trainer) to ONNX bytes. */
export function actorToOnnx(net: ActorNet, meta: OnnxActorMetadata): Uint8Array {
  const nodes: onnxProto.onnx.INodeProto[] = [];
  const initializers: onnxProto.onnx.ITensorProto[] = [];
  if (net.kind === 'mlp') mlpNodes(net.layers, nodes, initializers);
  else gruNodes(net, nodes, initializers);
  nodes.push(onnx.NodeProto.create({
    name: 'argmax', opType: 'ArgMax', input: ['logits'], output: ['action'],
    attribute: [
      { name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
      { name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 },
    ],
  }));
  const { inputs, actions, hiddenSize } = actorShape(net);
  const F = onnx.TensorProto.DataType.FLOAT;
  const graphInputs = [valueInfo('obs', F, ['N', inputs])];
  const graphOutputs = [valueInfo('logits', F, ['N', actions]), valueInfo('action', onnx.TensorProto.DataType.INT64, ['N'])];
  if (hiddenSize > 0) {
    graphInputs.push(valueInfo('h', F, ['N', hiddenSize]));
    graphOutputs.push(valueInfo('h_next', F, ['N', hiddenSize]));
  }
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'gmel-edge',
    producerVersion: '1',
    docString: `GMEL edge actor of IED ${meta.ied} (${meta.algo}, ${net.kind})`,
    graph: { name: `actor_ied_${meta.ied}`, node: nodes, initializer: initializers, input: graphInputs, output: graphOutputs },
    metadataProps: [
      { key: 'gmel.policy_version', value: meta.policyVersion },
      { key: 'gmel.obs_encoder_version', value: meta.obsEncoderVersion },
      { key: 'gmel.ied', value: String(meta.ied) },
      { key: 'gmel.algo', value: meta.algo },
      { key: 'gmel.action_names', value: JSON.stringify(meta.actionNames) },
      { key: 'gmel.obs_scales', value: JSON.stringify(meta.obsScales) },
      { key: 'gmel.actor', value: net.kind },
    ],
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Read a model's gmel.* metadata (for runtimes and tests). */
export function onnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
}

/** Back from ONNX to an ActorNet (the exporter's own graphs only): for parity checks and benchmarks. */
export function onnxToActorNet(bytes: Uint8Array): ActorNet {
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
  const dims = (name: string) => (init.get(name)?.dims ?? []).map(Number) as [number, number];
  const dense = (W: string, b: string, activation: 'relu' | 'linear'): ActorLayer => {
    const [inputs, outputs] = dims(W);
    return { kernel: floats(W), bias: floats(b), inputs, outputs, activation };
  };
  if (init.has('Wz')) {
    const encoder = dense('W_enc', 'b_enc', 'relu');
    const [, H] = dims('Wz');
    return {
      kind: 'gru', encoder, head: dense('W_head', 'b_head', 'linear'),
      cell: { inputs: encoder.outputs, hidden: H, Wz: floats('Wz'), Wr: floats('Wr'), Wh: floats('Wh'), Uz: floats('Uz'), Ur: floats('Ur'), Uh: floats('Uh'), bz: floats('bz'), br: floats('br'), bh: floats('bh') },
    };
  }
  const relus = new Set((graph.node ?? []).filter((n) => n.opType === 'Relu').map((n) => n.name));
  const layers: ActorLayer[] = [];
  for (let k = 0; init.has(`W_${k}`); k++) layers.push(dense(`W_${k}`, `b_${k}`, relus.has(`relu_${k}`) ? 'relu' : 'linear'));
  return { kind: 'mlp', layers };
}
