// The evaluation protocol's statistics (trainer/protocol-stats.ts) against hand-computed values, and
// the two properties the protocol exists for: intervals that cover training variance, and
// comparisons paired on the test seeds.
import t from 'tap';
import { Rng } from '../../core/rng.ts';
import { bootstrap, interquartileMean, mean, pairStats, policyStats, probabilityOfImprovement } from '../../trainer/protocol-stats.ts';
import { combineRuns, estimate, type EvaluationResult } from '../../trainer/evaluate.ts';
import { protocolAt } from '../../trainer/eval-protocol.ts';

t.test('interquartile mean: the 25% trimmed mean', async (t) => {
  t.equal(interquartileMean([8, 1, 7, 2, 6, 3, 5, 4]), 4.5, '⌊8/4⌋ = 2 cut from each end: mean of 3, 4, 5, 6');
  t.equal(interquartileMean([0, 0, 0, 100]), 0, 'one outlier of four is cut');
  t.equal(interquartileMean([1, 2, 3]), 2, '⌊3/4⌋ = 0 cut: the plain mean');
});

t.test('probability of improvement: per test seed over run pairs, ties ½, averaged over seeds', async (t) => {
  // seed 0: x runs 1, 3 vs y 2 → (0 + 1) / 2; seed 1: x runs 2, 4 vs y 2 → (½ + 1) / 2
  t.equal(probabilityOfImprovement([[1, 2], [3, 4]], [[2, 2]]), (0.5 + 0.75) / 2);
  t.equal(probabilityOfImprovement([[1, 1]], [[1, 1]]), 0.5, 'identical scores: ½');
  t.equal(probabilityOfImprovement([[2, 0]], [[1, 1]]), 0.5, 'a win on one seed, a loss on the other');
});

t.test('the bootstrap is seeded, and refuses matrices not on the same test seeds', async (t) => {
  const m = [[0.9, 0.8, 0.85, 0.7], [0.6, 0.75, 0.8, 0.65]];
  t.same(policyStats(m, new Rng(3), 500), policyStats(m, new Rng(3), 500), 'same seed, same intervals');
  t.not(policyStats(m, new Rng(3), 500).mean.lo, policyStats(m, new Rng(4), 500).mean.lo, 'another seed, other replicates');
  const s = policyStats(m, new Rng(3), 500);
  t.equal(s.mean.point, mean(m.flat()));
  t.ok(s.mean.lo <= s.mean.point && s.mean.point <= s.mean.hi, 'the point lies in its interval');
  t.equal(s.runs, 2);
  t.equal(s.seeds, 4);
  t.throws(() => pairStats([[1, 2, 3]], [[1, 2]], new Rng(1)), /same 3 test seeds/);
  t.throws(() => bootstrap([[]], () => [0], new Rng(1)), /at least one run and one test seed/);
});

t.test('the interval covers training variance: runs that differ, on seeds that do not', async (t) => {
  // two training seeds: one run completes 90% on every test seed, the other 50%; a bootstrap over
  // the test seeds alone would give a zero-width interval around 70%
  // the runs are drawn whole: the interval is [0.5, 0.9] however many test seeds there are
  for (const seeds of [10, 100]) {
    const m = [Array(seeds).fill(0.9) as number[], Array(seeds).fill(0.5) as number[]];
    const s = policyStats(m, new Rng(1), 2000);
    t.ok(Math.abs(s.mean.point - 0.7) < 1e-12);
    t.ok(Math.abs(s.mean.lo - 0.5) < 1e-9 && Math.abs(s.mean.hi - 0.9) < 1e-9, `${seeds} test seeds: the interval spans the two runs: [${s.mean.lo.toFixed(3)}, ${s.mean.hi.toFixed(3)}]`);
  }
  // and it covers the test seeds' variance too: one run, seeds that differ
  const one = policyStats([[0.2, 0.9, 0.4, 0.8, 0.6, 0.3, 0.7, 0.5]], new Rng(1), 2000);
  t.ok(one.mean.hi - one.mean.lo > 0.15, `one run, episodes that differ: [${one.mean.lo.toFixed(3)}, ${one.mean.hi.toFixed(3)}]`);
});

t.test('comparisons are paired on the test seeds', async (t) => {
  // the seeds differ widely (easy and hard plants); b is a exactly 2 points lower on every seed.
  // Paired, the difference is 2 points on every replicate; unpaired it would span tens of points
  const a = [[0.95, 0.4, 0.8, 0.3, 0.9, 0.55, 0.7, 0.35, 0.85, 0.5]];
  const b = [a[0]!.map((x) => x - 0.02)];
  const s = pairStats(a, b, new Rng(2), 2000);
  t.ok(Math.abs(s.difference.point - 0.02) < 1e-12);
  t.ok(Math.abs(s.difference.lo - 0.02) < 1e-9 && Math.abs(s.difference.hi - 0.02) < 1e-9, `difference interval [${s.difference.lo}, ${s.difference.hi}]`);
  t.equal(s.probabilityOfImprovement.point, 1, 'a wins on every seed');
  t.equal(s.probabilityOfImprovement.lo, 1);
  // with two runs of b, one above a and one below, a's lead is no longer certain
  const b2 = [a[0]!.map((x) => x - 0.02), a[0]!.map((x) => x + 0.03)];
  const s2 = pairStats(a, b2, new Rng(2), 2000);
  t.ok(Math.abs(s2.difference.point - -0.005) < 1e-12, 'mean difference −0.5 points');
  t.ok(s2.difference.lo < 0 && s2.difference.hi > 0, `its interval includes 0: [${s2.difference.lo.toFixed(4)}, ${s2.difference.hi.toFixed(4)}]`);
  t.equal(s2.probabilityOfImprovement.point, 0.5);
});

const result = (policy: string, completion: number[]): EvaluationResult => {
  const e = estimate(completion);
  const d = { pending: 0, local: 2, uplink: 1, edge: 0, total: 3 };
  return { policy, runs: 1, seeds: completion.length, completionRate: e.mean, completion: e, meanLatency: e, meanLatencyDropsAtDeadline: e, rewardPerTask: e, dropped: d, scores: { completion: [completion], meanLatency: [completion], meanLatencyDropsAtDeadline: [completion], rewardPerTask: [completion] } };
};

t.test('combineRuns: several training runs as one policy, dropped tasks per run', async (t) => {
  const c = combineRuns('dqn', [result('dqn', [0.9, 0.9, 0.9]), result('dqn', [0.5, 0.5, 0.5])]);
  t.equal(c.runs, 2);
  t.ok(Math.abs(c.completion.mean - 0.7) < 1e-12, 'the mean over runs × seeds');
  t.ok(c.completion.hi - c.completion.lo > 0.1, 'the interval covers the two runs');
  t.equal(c.completion.ci95, (c.completion.hi - c.completion.lo) / 2);
  t.equal(c.dropped.local, 2, 'per run, not summed');
  t.same(c.scores.completion, [[0.9, 0.9, 0.9], [0.5, 0.5, 0.5]]);
  t.throws(() => combineRuns('dqn', [result('dqn', [0.9, 0.9]), result('dqn', [0.5, 0.5, 0.5])]), /different numbers of seeds/);
  const one = result('dqn', [0.9, 0.8]);
  t.same(combineRuns('x', [one]), { ...one, policy: 'x' }, 'one run: renamed, its (Student t) intervals unchanged');
});

t.test('protocolAt: AMARL against every other learned policy and the reference heuristics', async (t) => {
  const results = [result('amarl', [0.9, 0.8]), result('dqn', [0.85, 0.7]), result('local', [0.5, 0.4]), result('central-greedy', [0.88, 0.79]), result('random', [0.2, 0.1])];
  const p = protocolAt('default', 0, results, ['amarl', 'dqn']);
  t.same(p.policies.map((s) => s.policy), ['amarl', 'dqn', 'central-greedy'], 'central-greedy is also the best heuristic here');
  t.same(p.pairs.map((s) => `${s.a}-${s.b}`), ['amarl-dqn', 'amarl-central-greedy']);
  t.ok(Math.abs((p.pairs[0]?.difference.point ?? 0) - 0.075) < 1e-12);
  const noAmarl = protocolAt('default', 0, results.slice(1), ['dqn']);
  t.same(noAmarl.pairs.map((s) => `${s.a}-${s.b}`), ['dqn-central-greedy'], 'without AMARL the first learned policy leads');
});
