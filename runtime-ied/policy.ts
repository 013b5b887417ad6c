/**
 * An IED's actor as an ONNX session: onnxruntime-node (default, native) or onnxruntime-web (wasm, for
 * gateways without native binaries). Refuses a model whose input or output width does not match the
 * observation encoder and action space of the plant.
 */
import * as ortNode from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { InputError } from '../core/errors.ts';

export type Engine = 'node' | 'web';

export interface Decision {
  readonly action: number;
  readonly micros: number;
}

export interface ActorSession {
  readonly engine: Engine;
  decide(obs: Float32Array): Promise<Decision>;
  release(): Promise<void>;
}

/** Input and output widths declared by the graph (obs [N, D] → logits [N, A]). */
export function declaredWidths(bytes: Uint8Array): { inputs: number; outputs: number } {
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
  return { inputs: width(obs), outputs: width(logits) };
}

export async function createActorSession(bytes: Uint8Array, engine: Engine, expected: { inputs: number; actions: number }): Promise<ActorSession> {
  const widths = declaredWidths(bytes);
  if (widths.inputs !== expected.inputs) throw new InputError(`the model takes ${widths.inputs} inputs, the observation encoder makes ${expected.inputs}`);
  if (widths.outputs !== expected.actions) throw new InputError(`the model chooses among ${widths.outputs} actions, the plant has ${expected.actions}`);
  const ort = engine === 'node' ? ortNode : await import('onnxruntime-web');
  if (engine === 'web') (ort as typeof import('onnxruntime-web')).env.wasm.numThreads = 1;
  const session = await (ort.InferenceSession as typeof ortNode.InferenceSession).create(bytes, engine === 'web' ? { executionProviders: ['wasm'] } : {});
  const Tensor = ort.Tensor as typeof ortNode.Tensor;
  const shape = [1, expected.inputs];
  return {
    engine,
    async decide(obs) {
      const t0 = performance.now();
      const out = await session.run({ obs: new Tensor('float32', obs, shape) });
      const action = Number((out.action?.data as BigInt64Array)[0]);
      return { action, micros: (performance.now() - t0) * 1000 };
    },
    release: () => session.release(),
  };
}
