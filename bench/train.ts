/**
 * Training throughput at 50 IEDs × 5 edge servers, batch 64, per available backend:
 * environment steps/s while training (acting through the actors), AMARL gradient updates/s with the
 * split between critic and actor steps, every algorithm's update round (and AMARL's with GRU actors), peak memory, and the
 * vectorization question: stacked per-agent layers (one batched matmul) vs a JS loop of per-agent
 * matmuls.
 */
import * as tf from '@tensorflow/tfjs';
import { loadScenario } from '../core/scenario/load.ts';
import { Rng } from '../core/rng.ts';
import { GmelParallelEnv } from '../sim/env.ts';
import { selectBackend, type BackendChoice } from '../trainer/backend.ts';
import { collectEpisode } from '../trainer/collect.ts';
import { createLearner } from '../trainer/algorithms.ts';
import { Amarl } from '../trainer/algos/amarl.ts';
import { ALGORITHMS } from '../trainer/learner.ts';

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
}

function vectorization(I: number, B: number, inputs: number, outputs: number, reps: number) {
  const rng = new Rng(1);
  const data = (n: number) => Float32Array.from({ length: n }, () => rng.uniform() - 0.5);
  const x = tf.tensor3d(data(I * B * inputs), [I, B, inputs]);
  const W = tf.variable(tf.tensor3d(data(I * inputs * outputs), [I, inputs, outputs]));
  const xs = tf.unstack(x) as tf.Tensor2D[];
  const Ws = Array.from({ length: I }, () => tf.variable(tf.tensor2d(data(inputs * outputs), [inputs, outputs])));
  const batched = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.sum(tf.relu(tf.matMul(x, W as tf.Tensor3D))) as tf.Scalar, [W]);
    (grads[W.name] as tf.Tensor).dataSync();
  });
  const looped = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.addN(Ws.map((w, i) => tf.sum(tf.relu(tf.matMul(xs[i] as tf.Tensor2D, w as tf.Tensor2D))))) as tf.Scalar, Ws);
    for (const w of Ws) (grads[w.name] as tf.Tensor).dataSync();
  });
  batched();
  looped();
  const [, tb] = time(() => { for (let k = 0; k < reps; k++) batched(); });
  const [, tl] = time(() => { for (let k = 0; k < reps; k++) looped(); });
  tf.dispose([x, W, ...xs, ...Ws]);
  return { layer: `${I} agents × [${B}×${inputs}]·[${inputs}×${outputs}], forward+backward`, stackedMs: tb / reps, loopedMs: tl / reps, speedupOfStacked: tl / tb };
}

async function benchBackend(backend: BackendChoice, episodes: number) {
  const info = await selectBackend(backend);
  const env = new GmelParallelEnv(loadScenario('gmel2024'));
  const [I, D, A] = [env.world.I, env.world.obsSize, env.world.M + 1];
  const amarl = new Amarl(I, D, A, 1, { warmupEpisodes: 1 });
  // environment steps/s while acting through the actors (exploration on)
  let collectMs = 0;
  for (let e = 0; e < episodes; e++) {
    const [c, ms] = time(() => collectEpisode(env, e, (o, has, a, h) => amarl.act(o, has, a, true, h), amarl.hiddenSize));
    amarl.observe(c.record);
    if (e > 0) collectMs += ms;
  }
  const envSteps = (episodes - 1) * env.scenario.episodeSlots;
  // AMARL: critic and actor steps separately, after one warm-up update
  const rng = new Rng(3);
  amarl.criticStep(amarl.replay.sample(64, rng));
  amarl.actorStep(amarl.replay.sample(64, rng));
  const reps = backend === 'cpu' ? 3 : 8;
  let criticMs = 0;
  let actorMs = 0;
  for (let k = 0; k < reps; k++) {
    const batch = amarl.replay.sample(64, rng);
    criticMs += time(() => amarl.criticStep(batch))[1];
    actorMs += time(() => amarl.actorStep(batch))[1];
  }
  amarl.dispose();
  // every algorithm's update round (its own number of gradient steps)
  const rounds: Record<string, { msPerRound: number; gradientStepsPerRound: number }> = {};
  const variants = [...ALGORITHMS.map((algo) => ({ name: algo as string, algo, config: algo === 'amarl' ? { warmupEpisodes: 1 } : {} })), { name: 'amarl (gru actors)', algo: 'amarl' as const, config: { warmupEpisodes: 1, actor: 'gru' } }];
  for (const { name, algo, config } of variants) {
    const learner = createLearner(algo, I, D, A, 1, config);
    for (let e = 0; e < 2; e++) learner.observe(collectEpisode(env, 50 + e, (o, has, a, h) => learner.act(o, has, a, true, h), learner.hiddenSize).record);
    learner.update();
    const [stats, ms] = time(() => learner.update());
    rounds[name] = { msPerRound: ms, gradientStepsPerRound: stats?.steps ?? 0 };
    learner.dispose();
  }
  return {
    backend: info,
    envStepsPerSecondWhileActing: envSteps / (collectMs / 1000),
    iedDecisionsPerSecondWhileActing: (envSteps * I) / (collectMs / 1000),
    amarl: {
      criticStepMs: criticMs / reps,
      actorStepMs: actorMs / reps,
      gradientUpdatesPerSecond: 1000 / ((criticMs + actorMs) / reps),
      note: 'one gradient update = one critic step + one actor step on a batch of 64 joint transitions',
    },
    updateRounds: rounds,
    vectorization: vectorization(I, 64, 64, 64, backend === 'cpu' ? 3 : 10),
    peakRssMB: process.memoryUsage().rss / 2 ** 20,
  };
}

export async function benchTraining(): Promise<Record<string, unknown>> {
  const results = [];
  for (const backend of ['wasm', 'cpu'] as const) results.push(await benchBackend(backend, backend === 'cpu' ? 3 : 6));
  return { name: 'training', scenario: 'gmel2024 (50 IEDs × 5 ESs)', batchSize: 64, results, peakRssMB: process.memoryUsage().rss / 2 ** 20 };
}
