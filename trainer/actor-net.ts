/**
 * One IED's actor as plain arrays, for export and for running it without a tensor library: a
 * feed-forward chain of dense layers, or (AMARL's option, Sec. IV-B "hidden state h_a") a dense
 * encoder, a GRU cell and a dense head.
 *
 * | kind | forward                                                                                 |
 * |------|-----------------------------------------------------------------------------------------|
 * | mlp  | logits = dense_L(… relu(dense_1(o)))                                                     |
 * | gru  | e = relu(dense(o)); z = σ(e Wz + h Uz + bz); r = σ(e Wr + h Ur + br);                  |
 * |      | ĥ = tanh(e Wh + (r ⊙ h) Uh + bh); h' = z ⊙ h + (1 − z) ⊙ ĥ; logits = dense(h')         |
 *
 * The GRU follows Cho et al. (2014) with the reset gate applied before Uh (Keras' reset_after =
 * false). h starts at zero each episode (or when a gateway loads a model) and steps only when the
 * IED decides a task: slots without a task leave it unchanged, in training, evaluation and live.
 *
 * The forward pass is written out here (a note, as the brief asks): one decision is ~10k
 * multiply-adds, far below the per-call cost of a tensor library, and evaluation runs it once per
 * IED per slot. test/trainer/export.test.ts and gru-actor.test.ts pin it to tfjs and to ONNX.
 */

/** One dense layer of one IED's actor (kernel [in, out] row-major, bias [out]). */
export interface ActorLayer {
  readonly kernel: Float32Array;
  readonly bias: Float32Array;
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: 'relu' | 'linear';
}

/** A GRU cell's weights: input kernels [in, H], recurrent kernels [H, H], biases [H]. */
export interface GruCell {
  readonly inputs: number;
  readonly hidden: number;
  readonly Wz: Float32Array;
  readonly Wr: Float32Array;
  readonly Wh: Float32Array;
  readonly Uz: Float32Array;
  readonly Ur: Float32Array;
  readonly Uh: Float32Array;
  readonly bz: Float32Array;
  readonly br: Float32Array;
  readonly bh: Float32Array;
}

export type ActorNet =
  | { readonly kind: 'mlp'; readonly layers: readonly ActorLayer[] }
  | { readonly kind: 'gru'; readonly encoder: ActorLayer; readonly cell: GruCell; readonly head: ActorLayer };

/** Observation width, action count and recurrent state width (0 for a feed-forward actor). */
export function actorShape(net: ActorNet): { inputs: number; actions: number; hiddenSize: number } {
  if (net.kind === 'mlp') return { inputs: net.layers[0]?.inputs ?? 0, actions: net.layers.at(-1)?.outputs ?? 0, hiddenSize: 0 };
  return { inputs: net.encoder.inputs, actions: net.head.outputs, hiddenSize: net.cell.hidden };
}

function dense(l: ActorLayer, input: ArrayLike<number>, offset: number, out: Float32Array): Float32Array {
  for (let o = 0; o < l.outputs; o++) {
    let acc = l.bias[o] as number;
    for (let k = 0; k < l.inputs; k++) acc += (input[offset + k] as number) * (l.kernel[k * l.outputs + o] as number);
    out[o] = l.activation === 'relu' && acc < 0 ? 0 : acc;
  }
  return out;
}

/** x·W (+ h·U when given) + b for column o. */
function gate(o: number, H: number, x: Float32Array, W: Float32Array, h: ArrayLike<number>, U: Float32Array, b: Float32Array): number {
  let acc = b[o] as number;
  for (let k = 0; k < x.length; k++) acc += (x[k] as number) * (W[k * H + o] as number);
  for (let k = 0; k < H; k++) acc += (h[k] as number) * (U[k * H + o] as number);
  return acc;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Runs one actor with reusable scratch buffers. */
export class ActorRunner {
  private readonly a: Float32Array;
  private readonly b: Float32Array;
  private readonly z: Float32Array;
  private readonly rh: Float32Array;
  private readonly next: Float32Array;
  readonly inputs: number;
  readonly actions: number;
  readonly hiddenSize: number;

  constructor(readonly net: ActorNet) {
    ({ inputs: this.inputs, actions: this.actions, hiddenSize: this.hiddenSize } = actorShape(net));
    const widths = net.kind === 'mlp' ? net.layers.map((l) => l.outputs) : [net.encoder.outputs, net.head.outputs];
    const width = Math.max(1, ...widths);
    this.a = new Float32Array(width);
    this.b = new Float32Array(width);
    const H = this.hiddenSize;
    this.z = new Float32Array(H);
    this.rh = new Float32Array(H);
    this.next = new Float32Array(H);
  }

  /**
   * Logits of the observation at obs[offset .. offset + inputs). For a GRU actor `hidden` (length H)
   * is read and overwritten with h'; a feed-forward actor ignores it. The result is a scratch buffer.
   */
  logits(obs: ArrayLike<number>, offset: number, hidden?: Float32Array): Float32Array {
    const net = this.net;
    if (net.kind === 'mlp') {
      let input: ArrayLike<number> = obs;
      let inOffset = offset;
      let which = false;
      for (const l of net.layers) {
        input = dense(l, input, inOffset, which ? this.b : this.a);
        inOffset = 0;
        which = !which;
      }
      return input as Float32Array;
    }
    if (!hidden || hidden.length !== this.hiddenSize) throw new Error(`a GRU actor needs a hidden state of ${this.hiddenSize} floats`);
    const { cell } = net;
    const H = cell.hidden;
    const e = dense(net.encoder, obs, offset, this.a).subarray(0, net.encoder.outputs);
    for (let o = 0; o < H; o++) {
      this.z[o] = sigmoid(gate(o, H, e, cell.Wz, hidden, cell.Uz, cell.bz));
      this.rh[o] = sigmoid(gate(o, H, e, cell.Wr, hidden, cell.Ur, cell.br)) * (hidden[o] as number);
    }
    for (let o = 0; o < H; o++) {
      const candidate = Math.tanh(gate(o, H, e, cell.Wh, this.rh, cell.Uh, cell.bh));
      const z = this.z[o] as number;
      this.next[o] = z * (hidden[o] as number) + (1 - z) * candidate;
    }
    hidden.set(this.next);
    return dense(net.head, hidden, 0, this.b);
  }
}
