// Learning that needs bootstrapping. A hand-made chain fed to learner.observe(): each IED decides once, at slot 0,
// between two branches (one-hot states); its reward comes only on the last of T = 4 slots, three transitions
// later: +1 down the good branch, −1 down the bad one, 0 everywhere else. With γ < 1 the value of the decision is
// ±γ³, learnt only by bootstrapping r + γ·V(next) back through the chain. Without bootstrapping (γ = 0) both
// actions are worth 0; with the target's sign flipped (r − γ·V) the values alternate in sign down the chain and
// the decision's is ∓γ³ (three steps: odd), so a learner would choose the bad branch. Each learner must choose
// the good one greedily from the decision state, policies with π(good) > 0.9 and DQN with Q(good) − Q(bad) ≈ 2γ³;
// the control shows that with γ = 0 DQN's gap is 0 and AMARL's policy stays a near-tie.
import t from 'tap';
import { selectBackend } from '../../trainer/backend.ts';
import { Rng } from '../../core/rng.ts';
import { newEpisodeRecord, type EpisodeRecord } from '../../trainer/replay.ts';
import { createLearner } from '../../trainer/algorithms.ts';
import { ActorRunner } from '../../trainer/actor-net.ts';
import type { Algorithm, Learner } from '../../trainer/learner.ts';

await selectBackend('auto');
const [I, T, A, GOOD, GAMMA] = [2, 4, 2, 1, 0.9];
/** one-hot states: the decision, then slots 1 … T down the good branch, then slots 1 … T down the bad one */
const D = 1 + 2 * T;

/** one episode: IED i takes first[i] at slot 0 (its only decision); later actions are arbitrary and do nothing */
function chain(first: readonly number[], rng: Rng): EpisodeRecord {
  const e = newEpisodeRecord(T, I, D);
  first.forEach((a, i) => {
    for (let s = 0; s <= T; s++) e.obs[(s * I + i) * D + (s === 0 ? 0 : (a === GOOD ? 0 : T) + s)] = 1;
    for (let s = 0; s < T; s++) e.actions[s * I + i] = s === 0 ? a : rng.int(A);
    e.hasTask[i] = 1;
    e.rewards[(T - 1) * I + i] = a === GOOD ? 1 : -1;
  });
  return e;
}

/** observe one episode (both first actions drawn at random), then one update round; `rounds` times */
function train(learner: Learner, rounds: number): void {
  const rng = new Rng(1);
  for (let k = 0; k < rounds; k++) {
    learner.observe(chain([rng.int(A), rng.int(A)], rng));
    learner.update();
  }
}

/** each IED's greedy action from the decision state, and its logit (DQN: Q-value) margin good − bad */
function decide(learner: Learner): { actions: number[]; margins: number[] } {
  const obs = new Float32Array(I * D);
  for (let i = 0; i < I; i++) obs[i * D] = 1;
  const actions = new Int32Array(I);
  learner.act(obs, new Uint8Array(I).fill(1), actions, false, new Float32Array(I * learner.hiddenSize));
  const margins = Array.from({ length: I }, (_, i) => {
    const logits = new ActorRunner(learner.actorNet(i)).logits(obs, i * D, new Float32Array(learner.hiddenSize));
    return (logits[GOOD] as number) - (logits[1 - GOOD] as number);
  });
  return { actions: Array.from(actions), margins };
}

/** small networks, faster target tracking (τ) than the defaults; everything else as the algorithm files set it */
const off = { gamma: GAMMA, batchSize: 32, updatesPerRound: 4, tau: 0.05 };
const configs: Record<Algorithm, Record<string, unknown>> = {
  amarl: { ...off, warmupEpisodes: 1, actorHidden: 16, encoderSize: 16, heads: 2, headSize: 8, criticHidden: 16 },
  maddpg: { ...off, warmupEpisodes: 1, hidden: 16 },
  dqn: { ...off, hidden: 16 },
  ac: { gamma: GAMMA, hidden: 16, updatesPerRound: 4 },
};
const ROUNDS = 150;

for (const algo of ['amarl', 'maddpg', 'dqn', 'ac'] as const) {
  t.test(`${algo}: the reward three slots after the decision is learnt through bootstrapping`, async (t) => {
    const learner = createLearner(algo, I, D, A, 1, configs[algo]);
    train(learner, ROUNDS);
    const { actions, margins } = decide(learner);
    t.same(actions, [GOOD, GOOD], `both IEDs choose the good branch (margins good − bad ${margins.map((m) => m.toFixed(3)).join(', ')})`);
    if (algo === 'dqn') {
      const worth = 2 * GAMMA ** 3;
      t.ok(margins.every((m) => Math.abs(m - worth) < 0.25 * worth), `Q(good) − Q(bad) ≈ 2γ³ = ${worth.toFixed(3)}`);
    } else {
      // a policy that learnt the values, not a near-tie (the control below: without bootstrapping, AMARL's is)
      const pGood = margins.map((m) => 1 / (1 + Math.exp(-m)));
      t.ok(pGood.every((p) => p > 0.9), `π(good | decision) > 0.9 (${pGood.map((p) => p.toFixed(3)).join(', ')})`);
    }
    learner.dispose();
  });
}

t.test('control: without bootstrapping (γ = 0) the decision has no value to learn', async (t) => {
  const dqn = createLearner('dqn', I, D, A, 1, { ...configs.dqn, gamma: 0 });
  train(dqn, ROUNDS);
  const q = decide(dqn).margins;
  t.ok(q.every((m) => Math.abs(m) < 0.1), `dqn: Q(good) − Q(bad) ≈ 0 (${q.map((m) => m.toFixed(3)).join(', ')})`);
  dqn.dispose();
  const amarl = createLearner('amarl', I, D, A, 1, { ...configs.amarl, gamma: 0 });
  train(amarl, ROUNDS);
  const pGood = decide(amarl).margins.map((m) => 1 / (1 + Math.exp(-m)));
  t.ok(pGood.some((p) => p <= 0.9), `amarl: π(good | decision) stays a near-tie for some IED (${pGood.map((p) => p.toFixed(3)).join(', ')})`);
  amarl.dispose();
});
