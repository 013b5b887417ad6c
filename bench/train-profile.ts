/**
 * Where one AMARL update goes (issue #12), at 50 IEDs × 5 edge servers, batch 64, default networks.
 *
 * tf.profile() on the wasm backend reports each kernel's time through backend.time(), which wraps a single
 * synchronous call: the same figure as timing the kernel directly. We time every kernel ourselves instead, by
 * re-registering each wasm kernel with a timing wrapper, so that every call can be labelled with:
 *
 * | label   | values                                                                                   |
 * |---------|------------------------------------------------------------------------------------------|
 * | step    | sample (replay → batch), critic, actor, polyak (target soft updates)                     |
 * | phase   | prep (input tensors, target / no-grad passes), forward (inside the loss), backward        |
 * |         | (gradients), optimizer (clipping and Adam)                                               |
 * | kernel  | the kernel name; matmuls also by operand shapes (which tells the layer)                  |
 *
 * Time not in any kernel is the framework's own (op dispatch, shape checks, the tape, tidy bookkeeping)
 * plus tensor uploads (backend.write, counted separately) and reads (dataSync, counted separately).
 * Both ways are profiled in one process: trainer/matmul.ts off (every product through tf.matMul, as before
 * issue #12) and on. Run: `npm run bench -- training-profile` (writes training-profile.json).
 */
import * as tf from '@tensorflow/tfjs';
import { loadScenario } from '../core/scenario/load.ts';
import { GmelParallelEnv } from '../sim/env.ts';
import { selectBackend } from '../trainer/backend.ts';
import { collectEpisode } from '../trainer/collect.ts';
import { Amarl } from '../trainer/algos/amarl.ts';
import { useFastMatMul } from '../trainer/matmul.ts';
import { loadavg } from 'node:os';

type Step = 'sample' | 'critic' | 'actor' | 'polyak';
type Phase = 'prep' | 'forward' | 'backward' | 'optimizer';
interface Cell { calls: number; ms: number }

const state = { step: 'polyak' as Step, phase: 'prep' as Phase, on: false };
const cells = new Map<string, Cell>();
function add(key: string, ms: number): void {
  const c = cells.get(key) ?? { calls: 0, ms: 0 };
  c.calls++;
  c.ms += ms;
  cells.set(key, c);
}

/** Every wasm kernel re-registered with a wrapper that times it under the current labels. */
function instrumentKernels(): void {
  for (const config of tf.getKernelsForBackend('wasm')) {
    const inner = config.kernelFunc;
    tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel({
      ...config,
      kernelFunc: (args) => {
        if (!state.on) return inner(args);
        const t0 = performance.now();
        const out = inner(args);
        const ms = performance.now() - t0;
        const name = config.kernelName;
        const shapes = name === 'BatchMatMul' || name === '_FusedMatMul' || name === 'GmelGroupMatMul'
          ? ` ${Object.values(args.inputs).map((t) => `[${(t as tf.TensorInfo).shape.join('×')}]`).join('·')}${args.attrs?.transposeA ? ' tA' : ''}${args.attrs?.transposeB ? ' tB' : ''}`
          : '';
        add(`${state.step}|${state.phase}|${name}${shapes}`, ms);
        return out;
      },
    });
  }
}

/** Uploads (makeTensor → backend.write) and reads (dataSync → readSync) timed on the backend instance. */
function instrumentBackend(): void {
  const backend = tf.backend() as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const method of ['write', 'readSync'] as const) {
    const inner = backend[method]?.bind(backend);
    if (!inner) continue;
    backend[method] = (...a: unknown[]) => {
      if (!state.on) return inner(...a);
      const t0 = performance.now();
      const out = inner(...a);
      add(`${state.step}|${state.phase}|(${method === 'write' ? 'upload: tensor from typed array' : 'read: dataSync'})`, performance.now() - t0);
      return out;
    };
  }
}

/** Phases inside a step: the loss closure runs first (forward), then the engine backpropagates. */
function instrumentPhases(amarl: Amarl): void {
  const engine = tf.engine() as unknown as { gradients: (f: () => tf.Tensor, ...rest: unknown[]) => unknown };
  const gradients = engine.gradients.bind(engine);
  engine.gradients = (f, ...rest) => {
    const out = gradients(() => {
      state.phase = 'forward';
      const y = f();
      state.phase = 'backward';
      return y;
    }, ...rest);
    state.phase = 'optimizer';
    return out;
  };
  const label = <K extends 'criticStep' | 'actorStep'>(method: K, step: Step) => {
    const inner = amarl[method].bind(amarl);
    amarl[method] = ((batch) => {
      [state.step, state.phase] = [step, 'prep'];
      const out = inner(batch);
      [state.step, state.phase] = ['polyak', 'optimizer'];
      return out;
    }) as Amarl[K];
  };
  label('criticStep', 'critic');
  label('actorStep', 'actor');
  const sample = amarl.replay.sample.bind(amarl.replay);
  amarl.replay.sample = (...a) => {
    [state.step, state.phase] = ['sample', 'prep'];
    return sample(...a);
  };
}

function summarise(byPart: (key: string[]) => string, totalMs: number, rounds: number, top = Infinity) {
  const groups = new Map<string, Cell>();
  for (const [key, c] of cells) {
    const k = byPart(key.split('|'));
    const g = groups.get(k) ?? { calls: 0, ms: 0 };
    g.calls += c.calls;
    g.ms += c.ms;
    groups.set(k, g);
  }
  return [...groups].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)
    .map(([k, g]) => ({ what: k, msPerUpdate: g.ms / rounds, callsPerUpdate: g.calls / rounds, share: g.ms / totalMs }));
}

function roundMs(amarl: Amarl, rounds: number): number {
  const t0 = performance.now();
  for (let k = 0; k < rounds; k++) amarl.update();
  return performance.now() - t0;
}

/** One labelled profile of `rounds` update rounds, with trainer/matmul.ts on (fast) or off (plain tf.matMul). */
function profileRounds(amarl: Amarl, rounds: number, fast: boolean) {
  useFastMatMul(fast);
  amarl.update(); // warm-up: first-call allocations
  const plainMs = roundMs(amarl, rounds);
  cells.clear();
  state.on = true;
  const profiledMs = roundMs(amarl, rounds);
  state.on = false;
  useFastMatMul(true);
  const updates = rounds * amarl.config.updatesPerRound;
  const inKernels = [...cells.values()].reduce((s, c) => s + c.ms, 0);
  return {
    msPerUpdateUninstrumented: plainMs / updates,
    msPerUpdateInstrumented: profiledMs / updates,
    msPerUpdateInKernelsAndTransfers: inKernels / updates,
    msPerUpdateOutsideKernels: (profiledMs - inKernels) / updates,
    kernelAndTransferCallsPerUpdate: [...cells.values()].reduce((s, c) => s + c.calls, 0) / updates,
    byStep: summarise(([s]) => s as string, profiledMs, updates),
    byStepAndPhase: summarise(([s, p]) => `${s} ${p}`, profiledMs, updates),
    byKernel: summarise(([, , k]) => (k as string).split(' ')[0] as string, profiledMs, updates),
    byKernelWithShapes: summarise(([s, p, k]) => `${s} ${p} ${k}`, profiledMs, updates, 40),
  };
}

export async function benchTrainingProfile(): Promise<Record<string, unknown>> {
  const backend = await selectBackend('wasm');
  const env = new GmelParallelEnv(loadScenario('gmel2024'));
  const [I, D, A] = [env.world.I, env.world.obsSize, env.world.M + 1];
  const amarl = new Amarl(I, D, A, 1, { warmupEpisodes: 1 });
  for (let e = 0; e < 3; e++) amarl.observe(collectEpisode(env, e, (o, has, a, h) => amarl.act(o, has, a, true, h), amarl.hiddenSize).record);
  instrumentKernels();
  instrumentBackend();
  instrumentPhases(amarl);
  const load = loadavg()[0];
  const plain = profileRounds(amarl, 2, false);
  const fast = profileRounds(amarl, 3, true);
  amarl.dispose();
  return {
    name: 'training-profile',
    scenario: 'gmel2024 (50 IEDs × 5 ESs)', agents: I, obsSize: D, actions: A, batchSize: amarl.config.batchSize,
    backend,
    note: 'one update = replay sample + critic step + actor step + Polyak updates of both targets; ms are per update. plainTfMatMul: trainer/matmul.ts switched off, i.e. every product through tf.matMul as before issue #12 (the actor step already runs its actors once, not twice); fast: as trained now',
    loadAverage1mBeforeAfter: [load, loadavg()[0]],
    plainTfMatMul: plain,
    fast,
    peakRssMB: process.memoryUsage().rss / 2 ** 20,
  };
}
