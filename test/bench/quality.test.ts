// `npm run bench -- quality` at its smallest: a two-point tuning grid scored on the validation seeds,
// then two training seeds of one algorithm with the winner, trained once and reused on the second
// call (the bench resumes where it stopped), evaluated on the same test seeds.
import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchQuality, better } from '../../bench/quality.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { evaluatePolicy, loadRunPolicy, validationSeeds } from '../../trainer/evaluate.ts';

t.test('the quality bench trains what is missing, reuses what is finished, reports the protocol', { timeout: 290_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-quality-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { BENCH_QUALITY_PRESET: 'smoke', BENCH_QUALITY_ALGOS: 'dqn', BENCH_QUALITY_SEEDS: '1,2', BENCH_QUALITY_TEST_SEEDS: '2', BENCH_QUALITY_RUNS: join(dir, 'runs'), BENCH_QUALITY_EVAL_OUT: join(dir, 'eval'), BENCH_QUALITY_SCENARIO: 'gmel2024', BENCH_QUALITY_LR_GRID: '0.5,1', BENCH_QUALITY_TUNE_SEED: '11', BENCH_QUALITY_PER_POINT: '0', BENCH_QUALITY_JOBS: '1' };
  const saved = { ...process.env };
  t.teardown(() => void (process.env = saved));
  Object.assign(process.env, env);
  type Run = { seed: number; lrScale: number; trainedNow: boolean; dir: string; episodeSeconds: number };
  type Out = { runs: Run[]; tuning: { runs: (Run & { validation: Record<string, number>; score: number })[]; winners: Record<string, number> }; protocol: { point: string; policies: { policy: string; runs: number; seeds: number }[] }[] };
  const first = (await benchQuality()) as unknown as Out;
  t.same(first.tuning.runs.map((r) => [r.lrScale, r.seed]), [[0.5, 11], [1, 11]], 'one tuning run per grid point, on the tuning seed');
  const winner = first.tuning.runs.reduce((a, r) => (better(r, a) ? r : a));
  t.same(first.tuning.winners, { dqn: winner.lrScale }, 'the best validation score wins');
  t.ok(first.runs.every((r) => r.lrScale === winner.lrScale), 'the training seeds use the winner');
  // scored on the validation seeds, not the test seeds
  const tuned = first.tuning.runs[0] as Run & { validation: Record<string, number> };
  const policy = await loadRunPolicy(tuned.dir);
  const plant = loadScenario('gmel2024');
  t.equal(tuned.validation.default, (await evaluatePolicy(plant, policy, validationSeeds(2))).completionRate, 'validation seeds');
  t.same(first.runs.map((r) => [r.seed, r.trainedNow]), [[1, true], [2, true]], 'both seeds trained');
  t.ok(first.runs.every((r) => r.episodeSeconds > 0), 'training time read from each run\'s metrics');
  t.same(first.protocol.map((p) => p.point), ['default', 'p = 0.7', 'd_max = 1.0 s']);
  t.same(first.protocol[0]?.policies.find((p) => p.policy === 'dqn'), { ...first.protocol[0]?.policies.find((p) => p.policy === 'dqn'), runs: 2, seeds: 2 });
  // a run stopped between its checkpoint and its actors' export: resumed (and exported again), the other reused
  rmSync(join(first.runs[0]?.dir as string, 'actors', 'ied-1'), { recursive: true });
  const second = (await benchQuality()) as unknown as Out;
  t.same(second.runs.map((r) => r.trainedNow), [true, false], 'the run without all its actors is resumed, the finished one reused');
  t.ok(existsSync(join(first.runs[0]?.dir as string, 'actors', 'ied-1', 'model.json')), 'and its actors exported again');
  t.same(second.protocol, first.protocol, 'same runs, same seeds: the same report, to the bit');
  // trained per headline point too: each run trained at its point (its config says so), evaluated there
  process.env.BENCH_QUALITY_PER_POINT = '1';
  type PerPoint = { point: string; runs: Run[]; protocol: { point: string; policies: { policy: string; runs: number }[] } }[];
  const third = (await benchQuality()) as unknown as Out & { perPoint: PerPoint };
  t.same(third.perPoint.map((p) => p.point), ['p = 0.7', 'd_max = 1.0 s']);
  const configOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { scenario: { arrivals: { probability: number }; task: { deadlineSeconds: { max: number } } } };
  t.ok(third.perPoint[0]?.runs.every((r) => configOf(r.dir).scenario.arrivals.probability === 0.7), 'trained at p = 0.7');
  t.ok(third.perPoint[1]?.runs.every((r) => configOf(r.dir).scenario.task.deadlineSeconds.max === 1), 'trained at d_max = 1.0 s');
  t.same(third.perPoint.map((p) => p.protocol.policies.find((x) => x.policy === 'dqn')?.runs), [2, 2]);
  t.same(third.protocol, first.protocol, 'the default-trained protocol is unchanged');
  delete process.env.BENCH_QUALITY_PER_POINT;
  process.env.BENCH_QUALITY_ALGOS = 'ppo';
  await t.rejects(benchQuality(), /BENCH_QUALITY_ALGOS: unknown ppo/);
});
