// One update of each learner on a tiny network and a fixed batch against the same update computed here in plain
// JavaScript (float64) from the weights read out of the learner before the step: the bootstrapped targets element
// by element (through the learners' `inspect` test hook), the reported losses, every weight's step (differences
// of the JavaScript loss give ∂L/∂w, and Adam's first step moves a weight by −lr·g/(|g| + ε) ≈ −lr·sign(g);
// clipping rescales g, not its sign), and the direction (the loss at the new weights, targets held, is lower; AC's
// log π of a positive-advantage action rises). Target networks are perturbed away from the online ones, so using
// one for the other changes the targets; sampling noise is the learner's seeded stream replayed in the file's order.
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../trainer/backend.ts';
import { Rng } from '../../core/rng.ts';
import { newEpisodeRecord, type Batch } from '../../trainer/replay.ts';
import { Amarl } from '../../trainer/algos/amarl.ts';
import { Maddpg } from '../../trainer/algos/maddpg.ts';
import { Dqn } from '../../trainer/algos/dqn.ts';
import { ActorCritic } from '../../trainer/algos/ac.ts';

await selectBackend('auto');
const [I, B, D, A, H, GAMMA, SEED] = [2, 4, 3, 3, 4, 0.9, 7];

type P = Float64Array[];
type V = number[];
const read = (vars: readonly tf.Variable[]): P => vars.map((v) => Float64Array.from(v.dataSync()));
const at = (p: P, k: number) => p[k] as Float64Array;
const relu = (x: number) => Math.max(0, x);
const lrelu = (x: number) => (x > 0 ? x : 0.01 * x);
const sum = (x: V) => x.reduce((s, v) => s + v, 0);
const argmax = (x: V) => x.reduce((best, v, k) => (v > (x[best] as number) ? k : best), 0);
const oneHot = (a: number) => Array.from({ length: A }, (_, k) => (k === a ? 1 : 0));
const logSoftmax = (x: V) => x.map((v) => v - Math.max(...x) - Math.log(sum(x.map((u) => Math.exp(u - Math.max(...x))))));
const softmax = (x: V) => logSoftmax(x).map(Math.exp);
/** x·W[i] + b[i] of a stacked AgentDense (W [I, in, out], b [I, 1, out]); i = 0 for a SharedDense */
function dense(W: Float64Array, b: Float64Array | undefined, i: number, x: V, out: number): V {
  const n = x.length;
  return Array.from({ length: out }, (_, o) => x.reduce((acc, xk, k) => acc + xk * (W[(i * n + k) * out + o] as number), b ? (b[i * out + o] as number) : 0));
}
/** AgentMlp: in → H → H → out, relu, relu, linear */
const mlp = (p: P, i: number, x: V, out: number) =>
  dense(at(p, 4), at(p, 5), i, dense(at(p, 2), at(p, 3), i, dense(at(p, 0), at(p, 1), i, x, H).map(relu), H).map(relu), out);
/** Gumbel(0, 1) noise as learner.ts gumbelNoise draws it, from a replayed stream */
const gumbel = (rng: Rng) => -Math.log(-Math.log(rng.uniform() * (1 - 2e-7) + 1e-7));
const draw = (rng: Rng, f: (r: Rng) => number) => Array.from({ length: I * B * A }, () => f(rng));

function makeBatch(seed: number): Batch {
  const rng = new Rng(seed);
  const u = () => Math.fround(rng.uniform() * 2 - 1);
  const [obs, nextObs] = [Float32Array.from({ length: I * B * D }, u), Float32Array.from({ length: I * B * D }, u)];
  const [actions, rewards] = [Int32Array.from({ length: I * B }, () => rng.int(A)), Float32Array.from({ length: I * B }, u)];
  const hasTask = Uint8Array.from({ length: I * B }, (_, k) => (k % 3 === 2 ? 0 : 1)); // some rows without a task
  const done = Float32Array.from({ length: B }, (_, b) => (b === B - 1 ? 1 : 0)); // and one terminal row
  return { size: B, obs, nextObs, actions, rewards, hasTask, done, hidden: new Float32Array(0), nextHidden: new Float32Array(0) };
}
const agents = Array.from({ length: I }, (_, i) => i);
/** f over the (IED, batch row) grid, agent-major like the learners' [I, B] tensors */
const grid = (f: (i: number, b: number) => number): V => Array.from({ length: I * B }, (_, k) => f(Math.floor(k / B), k % B));
/** r + γ(1 − done)·next for row (i, b) */
const bootstrap = (batch: Batch, i: number, b: number, next: number) => cell(batch.rewards, i, b) + GAMMA * (1 - (batch.done[b] as number)) * next;
/** row (i, b) of an agent-major [I, B, w] array; all IEDs' rows at b */
const row = (x: Float32Array, i: number, b: number, w = D): V => Array.from(x.subarray((i * B + b) * w, (i * B + b + 1) * w));
const cell = (x: ArrayLike<number>, i: number, b: number) => x[i * B + b] as number;
const obsAt = (x: Float32Array, b: number) => agents.map((i) => row(x, i, b));
/** −Σ_i mean over IED i's rows with a task of f(logits), + reg·mean(logits²) (maddpg.ts:174-175, amarl.ts:358-359) */
function policyLoss(p: P, batch: Batch, reg: number, f: (i: number, b: number, logits: V) => number): number {
  let [l, squares] = [0, 0];
  for (const i of agents) {
    let [total, rows] = [0, 0];
    for (let b = 0; b < B; b++) {
      const logits = mlp(p, i, row(batch.obs, i, b), A);
      squares += sum(logits.map((v) => v * v));
      if (cell(batch.hasTask, i, b)) [total, rows] = [total + f(i, b, logits), rows + 1];
    }
    l -= total / Math.max(rows, 1);
  }
  return l + (reg * squares) / (I * B * A);
}

/** target ← online + U(−0.25, 0.25) noise, so the target networks differ from the online ones */
function perturb(target: readonly tf.Variable[], online: readonly tf.Variable[], seed: number): void {
  const rng = new Rng(seed);
  target.forEach((v, k) => {
    const data = Float32Array.from((online[k] as tf.Variable).dataSync(), (x) => x + 0.5 * (rng.uniform() - 0.5));
    tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
  });
}

/** the update's targets, through the learners' test hook */
function capture(learner: { inspect?: (name: string, value: tf.Tensor) => void }): Record<string, Float32Array> {
  const seen: Record<string, Float32Array> = {};
  learner.inspect = (name, value) => void (seen[name] = Float32Array.from(value.dataSync()));
  return seen;
}

/** ∂L/∂w by differences; NaN at a kink (a relu input exactly 0: one-sided differences disagree) */
function fdGrad(p: P, loss: (p: P) => number, h = 1e-6): P {
  const l0 = loss(p);
  return p.map((w) =>
    Float64Array.from(w, (x, j) => {
      w[j] = x + h;
      const up = (loss(p) - l0) / h;
      w[j] = x - h;
      const down = (l0 - loss(p)) / h;
      w[j] = x;
      return Math.abs(up - down) > 1e-4 + 1e-3 * Math.abs(up) ? NaN : (up + down) / 2;
    }),
  );
}

function checkTargets(t: Test, what: string, got: Float32Array | undefined, want: V): void {
  const worst = got && got.length === want.length ? Math.max(...want.map((y, k) => Math.abs((got[k] as number) - y))) : Infinity;
  t.ok(worst < 1e-4, `${what}: targets equal the hand computation (worst |Δ| ${worst.toExponential(2)}; [${want.map((y) => y.toFixed(3)).join(' ')}])`);
}

/**
 * The reported loss equals the hand-computed one at the old weights; every weight with |∂L/∂w| > 1e-4 (not at a
 * kink) moved by −lr·sign(∂L/∂w) within 5 % of lr; the hand-computed loss, targets held, is lower at the new weights.
 */
function checkUpdate(t: Test, what: string, reported: number, loss: (p: P) => number, before: P, after: P, lr: number): void {
  const [l0, l1, grad] = [loss(before), loss(after), fdGrad(before, loss)];
  t.ok(Math.abs(reported - l0) <= 1e-4 * Math.max(1, Math.abs(l0)), `${what}: reported loss ${reported.toFixed(6)} = hand-computed ${l0.toFixed(6)}`);
  let [checked, total, wrong, first] = [0, 0, 0, ''];
  before.forEach((w, k) =>
    w.forEach((x, j) => {
      total++;
      const g = at(grad, k)[j] as number;
      if (!(Math.abs(g) >= 1e-4)) return;
      checked++;
      const step = (at(after, k)[j] as number) - x;
      if (Math.abs(step + lr * Math.sign(g)) <= 0.05 * lr) return;
      wrong++;
      first ||= ` (first: variable ${k}[${j}], ∂L/∂w ${g.toExponential(2)}, step ${step.toExponential(2)})`;
    }),
  );
  t.ok(checked >= 20 && wrong === 0, `${what}: ${checked - wrong}/${checked} weights with a clear gradient (of ${total}) stepped by −lr·sign(∂L/∂w)${first}`);
  t.ok(l1 < l0, `${what}: the loss at the new weights, targets held, fell from ${l0.toFixed(5)} to ${l1.toFixed(5)}`);
}

t.test('dqn: double-DQN target, TD loss and step', async (t) => {
  const learner = new Dqn(I, D, A, SEED, { hidden: H, gamma: GAMMA, batchSize: B });
  const { online, target } = learner.variableGroups();
  perturb(target, online, 11);
  const batch = makeBatch(1);
  const [p, pt] = [read(online), read(target)];
  // DuelingQ.q: h = relu(relu(o W1 + b1) W2 + b2); Q = V(h) + adv(h) − mean adv(h)
  const q = (p: P, i: number, x: V) => {
    const h = dense(at(p, 2), at(p, 3), i, dense(at(p, 0), at(p, 1), i, x, H).map(relu), H).map(relu);
    const [v, adv] = [dense(at(p, 4), at(p, 5), i, h, 1)[0] as number, dense(at(p, 6), at(p, 7), i, h, A)];
    return adv.map((a) => v + a - sum(adv) / A);
  };
  // dqn.ts:124-126: y = r + γ(1 − done)·Q_target(o′, argmax_a Q_online(o′, a)) (online picks, target evaluates)
  let doubleMatters = 0;
  const y = grid((i, b) => {
    const [pick, targetPick] = [argmax(q(p, i, row(batch.nextObs, i, b))), argmax(q(pt, i, row(batch.nextObs, i, b)))];
    doubleMatters += pick === targetPick ? 0 : 1;
    return bootstrap(batch, i, b, q(pt, i, row(batch.nextObs, i, b))[pick] as number);
  });
  t.ok(doubleMatters > 0, `the online and target argmax differ on ${doubleMatters} rows (double DQN is observable)`);
  // dqn.ts:129-130: Σ_i mean_b (Q(o, a) − y)²
  const loss = (p: P) => sum(grid((i, b) => ((q(p, i, row(batch.obs, i, b))[cell(batch.actions, i, b)] as number) - (y[i * B + b] as number)) ** 2)) / B;
  const seen = capture(learner);
  const reported = learner.step(batch);
  const after = read(online);
  checkTargets(t, 'dqn', seen.target, y);
  checkUpdate(t, 'dqn: Q(o, a) toward y', reported, loss, p, after, learner.config.lr);
  learner.dispose();
});

t.test('ac: one-step TD target, advantage, both losses and steps', async (t) => {
  const T = 4;
  const learner = new ActorCritic(I, D, A, SEED, { hidden: H, gamma: GAMMA });
  const { actor, critic } = learner.variableGroups();
  const rng = new Rng(5);
  const e = newEpisodeRecord(T, I, D);
  e.obs.set(Float32Array.from(e.obs, () => Math.fround(rng.uniform() * 2 - 1)));
  e.actions.set(Int32Array.from(e.actions, () => rng.int(A)));
  e.rewards.set(Float32Array.from(e.rewards, () => Math.fround(rng.uniform() * 0.6 - 0.3)));
  // one decision per IED: IED 0 at slot 1 with a large reward, IED 1 at slot 2 with a large penalty
  [e.hasTask[1 * I + 0], e.hasTask[2 * I + 1], e.rewards[1 * I + 0], e.rewards[2 * I + 1]] = [1, 1, 2, -2];
  const [pa, pc] = [read(actor), read(critic)];
  const obs = (t: number, i: number): V => Array.from(e.obs.subarray((t * I + i) * D, (t * I + i + 1) * D));
  const V = (p: P, t: number, i: number) => mlp(p, i, obs(t, i), 1)[0] as number;
  // ac.ts:92-95: target = r + γ(1 − done)·V(o′) (done on the last slot), advantage = target − V(o), both
  // from the weights before the step; critic loss mean (target − V(o))² (ac.ts:94)
  const rowsIT = Array.from({ length: I * T }, (_, k) => [Math.floor(k / T), k % T] as const); // agent-major, as ac.ts lays them out
  const target = rowsIT.map(([i, s]) => (e.rewards[s * I + i] as number) + (s < T - 1 ? GAMMA * V(pc, s + 1, i) : 0));
  const adv = rowsIT.map(([i, s], k) => (target[k] as number) - V(pc, s, i));
  const [adv0, adv1] = [adv[0 * T + 1] as number, adv[1 * T + 2] as number];
  t.ok(adv0 > 0.5 && adv1 < -0.5, `advantages of the two decisions: ${adv0.toFixed(3)}, ${adv1.toFixed(3)}`);
  const criticLoss = (p: P) => sum(rowsIT.map(([i, s], k) => ((target[k] as number) - V(p, s, i)) ** 2)) / (I * T);
  const logPi = (p: P, s: number, i: number) => logSoftmax(mlp(p, i, obs(s, i), A));
  // ac.ts:99-104: −Σ mask·(log π(a|o)·advantage + β·H(π)) / max(Σ mask, 1), Σ over all IEDs' rows
  const decisions = Math.max(sum(Array.from(e.hasTask.subarray(0, T * I))), 1);
  const actorLoss = (p: P) =>
    -sum(rowsIT.map(([i, s], k) => {
      const lp = logPi(p, s, i);
      return e.hasTask[s * I + i] ? (lp[e.actions[s * I + i] as number] as number) * (adv[k] as number) - learner.config.entropy * sum(lp.map((v) => Math.exp(v) * v)) : 0;
    })) / decisions;
  const seen = capture(learner);
  const reported = learner.step(e);
  const [pa2, pc2] = [read(actor), read(critic)];
  checkTargets(t, 'ac', seen.target, target);
  checkUpdate(t, 'ac critic: V(o) toward the target', reported.criticLoss, criticLoss, pc, pc2, learner.config.criticLr);
  checkUpdate(t, 'ac actor', reported.actorLoss, actorLoss, pa, pa2, learner.config.actorLr);
  const lp = (p: P, s: number, i: number) => logPi(p, s, i)[e.actions[s * I + i] as number] as number;
  t.ok(lp(pa2, 1, 0) > lp(pa, 1, 0), `IED 0 (advantage > 0): log π(a|o) rose ${lp(pa, 1, 0).toFixed(5)} → ${lp(pa2, 1, 0).toFixed(5)}`);
  t.ok(lp(pa2, 2, 1) < lp(pa, 2, 1), `IED 1 (advantage < 0): log π(a|o) fell ${lp(pa, 2, 1).toFixed(5)} → ${lp(pa2, 2, 1).toFixed(5)}`);
  learner.dispose();
});

t.test('maddpg: centralised target, critic loss, straight-through actor loss and steps', async (t) => {
  const learner = new Maddpg(I, D, A, SEED, { hidden: H, gamma: GAMMA, batchSize: B });
  const [c, g] = [learner.config, learner.variableGroups()];
  perturb(g.targetActors, g.actors, 12);
  perturb(g.targetCritics, g.critics, 13);
  const batch = makeBatch(3);
  const [pa, pta, pc, ptc] = [read(g.actors), read(g.targetActors), read(g.critics), read(g.targetCritics)];
  // CentralCritics: IED i's first layer is the column block i·H … of one dense layer over [o_1..o_I, a_1..a_I]
  const Q = (p: P, i: number, o: V[], a: V[]) => {
    const pre = dense(at(p, 0), at(p, 1), 0, [...o.flat(), ...a.flat()], I * H).slice(i * H, (i + 1) * H);
    return dense(at(p, 4), at(p, 5), i, dense(at(p, 2), at(p, 3), i, pre.map(relu), H).map(relu), 1)[0] as number;
  };
  const taken = (b: number) => agents.map((i) => oneHot(cell(batch.actions, i, b)));
  // the run generator replayed: maddpg.ts:153 draws I·B·A Gumbel numbers for A′, maddpg.ts:163 another I·B·A
  const rng = new Rng(SEED);
  const [noise1, noise2] = [draw(rng, gumbel), draw(rng, gumbel)];
  const noisy = (logits: V, noise: V, i: number, b: number) => logits.map((l, a) => l + (noise[(i * B + b) * A + a] as number));
  // maddpg.ts:153-154: y_i = r_i + γ(1 − done)·Q′_i(O′, A′), A′_j = one-hot argmax(π′_j(o′_j) + Gumbel)
  const nextActions = (b: number) => agents.map((j) => oneHot(argmax(noisy(mlp(pta, j, row(batch.nextObs, j, b), A), noise1, j, b))));
  const y = grid((i, b) => bootstrap(batch, i, b, Q(ptc, i, obsAt(batch.nextObs, b), nextActions(b))));
  const criticLoss = (p: P) => sum(grid((i, b) => (Q(p, i, obsAt(batch.obs, b), taken(b)) - (y[i * B + b] as number)) ** 2)) / B;
  const seen = capture(learner);
  const reported = learner.step(batch);
  const [pa2, pc2] = [read(g.actors), read(g.critics)];
  // maddpg.ts:164-175 with the critics after their step: −Σ_i mean_{rows with a task} [Q_i(O, ã_i, a_−i) + β·H(π_i)]
  // + 1e-3·mean(logits²), ã_i = one-hot of softmax((logits + Gumbel)/τ) forward, its soft sample's gradient:
  // at the step's weights ã = hard + soft(θ) − soft(θ₀), whose gradient is the straight-through one.
  const soft = (p: P, i: number, b: number) => softmax(noisy(mlp(p, i, row(batch.obs, i, b), A), noise2, i, b).map((v) => v / c.gumbelTemperature));
  const soft0 = agents.map((i) => Array.from({ length: B }, (_, b) => soft(pa, i, b)));
  const actorLoss = (p: P) =>
    policyLoss(p, batch, 1e-3, (i, b, logits) => {
      const s0 = soft0[i]?.[b] as V;
      const relaxed = soft(p, i, b).map((v, a) => (a === argmax(s0) ? 1 : 0) + v - (s0[a] as number));
      const entropy = -sum(logSoftmax(logits).map((v) => Math.exp(v) * v));
      return Q(pc2, i, obsAt(batch.obs, b), taken(b).map((a, j) => (j === i ? relaxed : a))) + c.entropyBonus * entropy;
    });
  checkTargets(t, 'maddpg', seen.target, y);
  checkUpdate(t, 'maddpg critics: Q(O, A) toward y', reported.criticLoss, criticLoss, pc, pc2, c.criticLr);
  checkUpdate(t, 'maddpg actors (straight-through objective)', reported.actorLoss, actorLoss, pa, pa2, c.actorLr);
  learner.dispose();
});

t.test('amarl: soft target of eq. (8), critic loss of eq. (7), expected policy loss and steps', async (t) => {
  const [E, heads, d, Ch] = [4, 2, 2, 4];
  const learner = new Amarl(I, D, A, SEED, { actorHidden: H, encoderSize: E, heads, headSize: d, criticHidden: Ch, dropout: 0, temperature: 0.1, gamma: GAMMA, batchSize: B });
  const [c, g] = [learner.config, learner.variableGroups()];
  perturb(g.targetActors, g.actors, 14);
  perturb(g.targetCritic, g.critic, 15);
  const batch = makeBatch(4);
  const [pa, pta, pc, ptc] = [read(g.actors), read(g.targetActors), read(g.critic), read(g.targetCritic)];
  // AttentionCritic.forward for one batch row; variables: sa W b, s W b, head W b, value W b, adv W b, keys W, queries W, values W b
  const critic = (p: P, o: V[], a: V[]) => {
    const sa = o.map((oi, i) => dense(at(p, 0), at(p, 1), i, [...oi, ...(a[i] as V)], E).map(lrelu));
    const s = o.map((oi, i) => dense(at(p, 2), at(p, 3), i, oi, E).map(lrelu));
    const keys = sa.map((x) => dense(at(p, 10), undefined, 0, x, heads * d));
    const values = sa.map((x) => dense(at(p, 12), at(p, 13), 0, x, heads * d).map(lrelu));
    const logits: V = [];
    const qAll = s.map((si, i) => {
      const query = dense(at(p, 11), undefined, 0, si, heads * d);
      const omega: V = [];
      for (let h = 0; h < heads; h++) {
        const l = keys.map((k) => sum(Array.from({ length: d }, (_, x) => (query[h * d + x] as number) * (k[h * d + x] as number))) / Math.sqrt(d));
        logits.push(...l);
        const w = l.map((v, j) => (j === i ? 0 : Math.exp(v))); // attends over the others only
        for (let x = 0; x < d; x++) omega.push(sum(w.map((wj, j) => wj * ((values[j] as V)[h * d + x] as number))) / sum(w));
      }
      const hidden = dense(at(p, 4), at(p, 5), i, [...si, ...omega], Ch).map(lrelu);
      const [v, adv] = [dense(at(p, 6), at(p, 7), i, hidden, 1)[0] as number, dense(at(p, 8), at(p, 9), i, hidden, A)];
      return adv.map((x) => v + x - sum(adv) / A);
    });
    return { qAll, logits };
  };
  // the run generator replayed: criticStep draws I·B·A Gumbel then I·B·A normals (σ = targetNoise) for A′ and one
  // dropout seed (sampleOneHot, amarl.ts:291-301; amarl.ts:317, 323); actorStep then draws I·B·A Gumbel for the
  // others' actions (amarl.ts:348)
  const rng = new Rng(SEED);
  const [g1, n1, , g3] = [draw(rng, gumbel), draw(rng, (r) => r.normal() * c.targetNoise), rng.nextUint32(), draw(rng, gumbel)];
  const sample = (p: P, x: Float32Array, b: number, ...noise: V[]) =>
    agents.map((i) => oneHot(argmax(mlp(p, i, row(x, i, b), A).map((l, a) => l + sum(noise.map((n) => n[(i * B + b) * A + a] as number))))));
  // amarl.ts:316-321: y_i = r_i + γ(1 − done)·Σ_a π′_i(a)(Q′_i(O′, a, A′_−i) − λ log π′_i(a))
  const y = grid((i, b) => {
    const nextQ = critic(ptc, obsAt(batch.nextObs, b), sample(pta, batch.nextObs, b, g1, n1)).qAll[i] as V;
    const lp = logSoftmax(mlp(pta, i, row(batch.nextObs, i, b), A));
    return bootstrap(batch, i, b, sum(lp.map((l, a) => Math.exp(l) * ((nextQ[a] as number) - c.temperature * l))));
  });
  // amarl.ts:324-329: Σ_i mean_b (Q_i(O, A) − y_i)² + attentionReg·mean(attention logits²)
  const criticLoss = (p: P) => {
    let [l, reg] = [0, 0];
    for (let b = 0; b < B; b++) {
      const out = critic(p, obsAt(batch.obs, b), agents.map((i) => oneHot(cell(batch.actions, i, b))));
      for (let i = 0; i < I; i++) l += (((out.qAll[i] as V)[cell(batch.actions, i, b)] as number) - (y[i * B + b] as number)) ** 2 / B;
      reg += sum(out.logits.map((v) => v * v)) / (B * heads * I * I);
    }
    return l + c.attentionReg * reg;
  };
  const seen = capture(learner);
  const reportedCritic = learner.criticStep(batch);
  const pc2 = read(g.critic);
  // amarl.ts:348-359 with the critic after its step: −Σ_i mean_{rows with a task} Σ_a π_i(a)(Q_i(a) − λ log π_i(a))
  // + logitReg·mean(logits²), the others' actions sampled from the current actors
  const qs = Array.from({ length: B }, (_, b) => critic(pc2, obsAt(batch.obs, b), sample(pa, batch.obs, b, g3)).qAll);
  const actorLoss = (p: P) =>
    policyLoss(p, batch, c.logitReg, (i, b, logits) => sum(logSoftmax(logits).map((lp, a) => Math.exp(lp) * ((((qs[b] as V[])[i] as V)[a] as number) - c.temperature * lp))));
  const reportedActor = learner.actorStep(batch);
  const pa2 = read(g.actors);
  checkTargets(t, 'amarl', seen.target, y);
  checkUpdate(t, 'amarl critic: Q(O, A) toward y', reportedCritic, criticLoss, pc, pc2, c.criticLr);
  checkUpdate(t, 'amarl actors (expected soft objective)', reportedActor, actorLoss, pa, pa2, c.actorLr);
  learner.dispose();
});
