// Every learner's update: no tensor leak after warm-up, online weights change, targets move by τ.
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../trainer/backend.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { GmelParallelEnv } from '../../sim/env.ts';
import { collectEpisode } from '../../trainer/collect.ts';
import { Amarl } from '../../trainer/algos/amarl.ts';
import { Maddpg } from '../../trainer/algos/maddpg.ts';
import { Dqn } from '../../trainer/algos/dqn.ts';
import { ActorCritic } from '../../trainer/algos/ac.ts';
import type { Learner } from '../../trainer/learner.ts';

await selectBackend('auto');
const env = new GmelParallelEnv(loadScenario('gmel2024', { ieds: 4, edgeServers: 2, episodeSlots: 20, 'arrivals.probability': 0.6 }));
const [I, D, A] = [env.world.I, env.world.obsSize, env.world.M + 1];

const snapshot = (vars: readonly tf.Variable[]) => vars.map((v) => Float32Array.from(v.dataSync()));
const maxDiff = (a: readonly Float32Array[], b: readonly Float32Array[]) =>
  a.reduce((m, x, k) => Math.max(m, ...Array.from(x, (v, j) => Math.abs(v - ((b[k] as Float32Array)[j] as number)))), 0);

function feed(learner: Learner, episodes: number): void {
  for (let k = 0; k < episodes; k++) learner.observe(collectEpisode(env, 100 + k, (o, has, a, h) => learner.act(o, has, a, true, h), learner.hiddenSize).record);
}

type Groups = Record<string, tf.Variable[]>;
const cases: { name: string; make: () => Learner & { variableGroups(): Groups }; online: string[]; targets: [string, string][]; tau: number }[] = [
  { name: 'amarl', make: () => new Amarl(I, D, A, 1, { batchSize: 16, updatesPerRound: 1, warmupEpisodes: 1, tau: 0.1 }), online: ['actors', 'critic'], targets: [['targetActors', 'actors'], ['targetCritic', 'critic']], tau: 0.1 },
  { name: 'amarl (gru actors)', make: () => new Amarl(I, D, A, 1, { actor: 'gru', actorHidden: 16, batchSize: 16, updatesPerRound: 1, warmupEpisodes: 1, tau: 0.1 }), online: ['actors', 'critic'], targets: [['targetActors', 'actors'], ['targetCritic', 'critic']], tau: 0.1 },
  { name: 'maddpg', make: () => new Maddpg(I, D, A, 1, { batchSize: 16, updatesPerRound: 1, tau: 0.1 }), online: ['actors', 'critics'], targets: [['targetActors', 'actors'], ['targetCritics', 'critics']], tau: 0.1 },
  { name: 'dqn', make: () => new Dqn(I, D, A, 1, { batchSize: 16, updatesPerRound: 1, tau: 0.1 }), online: ['online'], targets: [['target', 'online']], tau: 0.1 },
  { name: 'ac', make: () => new ActorCritic(I, D, A, 1, {}), online: ['actor', 'critic'], targets: [], tau: 0 },
];

for (const c of cases) {
  t.test(`${c.name}: update hygiene`, async (t) => {
    const learner = c.make();
    feed(learner, 2);
    t.ok(learner.update(), 'warm-up update ran');
    const tensors = tf.memory().numTensors;
    const groups = learner.variableGroups();
    const before: Record<string, Float32Array[]> = Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, snapshot(v)]));
    const stats = learner.update();
    t.ok(stats && Number.isFinite(stats.criticLoss) && Number.isFinite(stats.actorLoss), 'finite losses');
    t.equal(tf.memory().numTensors, tensors, 'another step leaves numTensors unchanged');
    for (const g of c.online) t.ok(maxDiff(snapshot(groups[g] as tf.Variable[]), before[g] as Float32Array[]) > 0, `${g} weights changed`);
    for (const [target, online] of c.targets) {
      // θ' ← τθ + (1 − τ)θ'  with θ the online weights after the step
      const expected = (before[target] as Float32Array[]).map((old, k) => {
        const now = (groups[online] as tf.Variable[])[k]?.dataSync() as Float32Array;
        return old.map((v, j) => c.tau * (now[j] as number) + (1 - c.tau) * v);
      });
      t.ok(maxDiff(snapshot(groups[target] as tf.Variable[]), expected) < 1e-5, `${target} moved by τ towards ${online}`);
    }
    learner.dispose();
  });
}

t.test('amarl attention: a distribution over the other agents', async (t) => {
  const learner = new Amarl(I, D, A, 2, { batchSize: 8, warmupEpisodes: 1 });
  feed(learner, 1);
  const batch = learner.replay.sample(8, new (await import('../../core/rng.ts')).Rng(3));
  const w = learner.attentionWeights(batch); // [B·heads, I, I]
  const rows = w.length / I;
  let worstSum = 0;
  let worstSelf = 0;
  for (let r = 0; r < rows; r++) {
    const i = r % I;
    let sum = 0;
    for (let j = 0; j < I; j++) sum += w[r * I + j] as number;
    worstSum = Math.max(worstSum, Math.abs(sum - 1));
    worstSelf = Math.max(worstSelf, w[r * I + i] as number);
  }
  t.ok(worstSum < 1e-5, `rows sum to 1 (worst error ${worstSum})`);
  t.ok(worstSelf < 1e-6, `no weight on itself (worst ${worstSelf})`);
  t.ok(Array.from(w).every((x) => x >= 0), 'non-negative');
  learner.dispose();
});

t.test('maddpg straight-through Gumbel: one-hot forward, the soft sample\'s gradient backward', async (t) => {
  const { straightThroughOneHot } = await import('../../trainer/algos/maddpg.ts');
  const x = tf.variable(tf.tensor2d([[1, 2, 0.5]]));
  const w = tf.tensor2d([[1, 5, 2]]);
  const hard = tf.variableGrads(() => tf.sum(tf.mul(straightThroughOneHot(tf.softmax(x)) as tf.Tensor, w)) as tf.Scalar, [x]);
  const soft = tf.variableGrads(() => tf.sum(tf.mul(tf.softmax(x), w)) as tf.Scalar, [x]);
  t.equal(hard.value.dataSync()[0], 5, 'forward: the argmax action, one-hot');
  const g = Array.from((hard.grads[x.name] as tf.Tensor).dataSync());
  const gs = Array.from((soft.grads[x.name] as tf.Tensor).dataSync());
  t.ok(g.every((v, k) => Math.abs(v - (gs[k] as number)) < 1e-6) && g.some((v) => Math.abs(v) > 1e-3), `backward: the softmax gradient ${g.map((v) => v.toFixed(3))}`);
  tf.dispose([x, w, hard.value, soft.value, ...Object.values(hard.grads), ...Object.values(soft.grads)]);
});
