/**
 * An IED's actor as an ONNX session: onnxruntime-node (default, native) or onnxruntime-web (wasm, for
 * gateways without native binaries). Refuses a model whose input or output width does not match the
 * observation encoder and action space of the plant.
 *
 * A recurrent (GRU) actor has a second input h [N, H] and output h_next: the session is stateless,
 * the caller keeps each IED's state (zero after a model load) and passes it in with every decision.
 */
import * as ortNode from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { InputError } from '../core/errors.ts';

export type Engine = 'node' | 'web';

export interface Decision {
  readonly action: number;
  readonly micros: number;
  /** the recurrent state after this decision (empty for a feed-forward actor) */
  readonly hidden: Float32Array;
}

export interface ActorSession {
  readonly engine: Engine;
  /** width of the recurrent state the model takes (0: feed-forward) */
  readonly hiddenSize: number;
  /** `hidden`: the IED's state before this decision, hiddenSize floats (ignored when 0) */
  decide(obs: Float32Array, hidden?: Float32Array): Promise<Decision>;
  release(): Promise<void>;
}

const EMPTY = new Float32Array(0);

/** Input and output widths declared by the graph (obs [N, D] → logits [N, A]; h [N, H] if recurrent). */
export function declaredWidths(bytes: Uint8Array): { inputs: number; outputs: number; hidden: number } {
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnxProto.onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new InputError(`not an ONNX model: ${(err as Error).message}`);
  }
  const width = (v: onnxProto.onnx.IValueInfoProto | undefined) => Number(v?.type?.tensorType?.shape?.dim?.[1]?.dimValue ?? -1);
  const logits = model.graph?.output?.find((o) => o.name === 'logits');
  const obs = model.graph?.input?.find((i) => i.name === 'obs');
  if (!obs || !logits) throw new InputError('the model has no "obs" input or no "logits" output');
  const h = model.graph?.input?.find((i) => i.name === 'h');
  const hNext = model.graph?.output?.find((o) => o.name === 'h_next');
  if (Boolean(h) !== Boolean(hNext)) throw new InputError('a recurrent model needs both an "h" input and an "h_next" output');
  if (h && width(h) !== width(hNext)) throw new InputError(`the model's "h" (${width(h)}) and "h_next" (${width(hNext)}) widths differ`);
  return { inputs: width(obs), outputs: width(logits), hidden: h ? width(h) : 0 };
}

export async function createActorSession(bytes: Uint8Array, engine: Engine, expected: { inputs: number; actions: number }): Promise<ActorSession> {
  const widths = declaredWidths(bytes);
  if (widths.inputs !== expected.inputs) throw new InputError(`the model takes ${widths.inputs} inputs, the observation encoder makes ${expected.inputs}`);
  if (widths.outputs !== expected.actions) throw new InputError(`the model chooses among ${widths.outputs} actions, the plant has ${expected.actions}`);
  const ort = engine === 'node' ? ortNode : await import('onnxruntime-web');
  if (engine === 'web') (ort as typeof import('onnxruntime-web')).env.wasm.numThreads = 1;
  const session = await (ort.InferenceSession as typeof ortNode.InferenceSession).create(bytes, {
    ...(engine === 'web' ? { executionProviders: ['wasm'] } : {}),
    logSeverityLevel: 3, // run failures reach the caller as errors (the gateway logs them); no second copy on stderr
  });
  const Tensor = ort.Tensor as typeof ortNode.Tensor;
  const shape = [1, expected.inputs];
  const H = widths.hidden;
  return {
    engine,
    hiddenSize: H,
    async decide(obs, hidden) {
      const t0 = performance.now();
      const feeds: Record<string, ortNode.Tensor> = { obs: new Tensor('float32', obs, shape) };
      if (H > 0) {
        if (!hidden || hidden.length !== H) throw new InputError(`this recurrent model needs a hidden state of ${H} floats, got ${hidden?.length ?? 0}`);
        feeds.h = new Tensor('float32', hidden, [1, H]);
      }
      const out = await session.run(feeds);
      const action = Number((out.action?.data as BigInt64Array)[0]);
      const next = H > 0 ? Float32Array.from(out.h_next?.data as Float32Array) : EMPTY;
      return { action, micros: (performance.now() - t0) * 1000, hidden: next };
    },
    release: () => session.release(),
  };
}
