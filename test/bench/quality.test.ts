// `npm run bench -- quality` at its smallest: two training seeds of one algorithm, trained once and
// reused on the second call (the bench resumes where it stopped), evaluated on the same test seeds.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchQuality } from '../../bench/quality.ts';

t.test('the quality bench trains what is missing, reuses what is finished, reports the protocol', { timeout: 240_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-quality-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { BENCH_QUALITY_PRESET: 'smoke', BENCH_QUALITY_ALGOS: 'dqn', BENCH_QUALITY_SEEDS: '1,2', BENCH_QUALITY_TEST_SEEDS: '2', BENCH_QUALITY_RUNS: join(dir, 'runs'), BENCH_QUALITY_EVAL_OUT: join(dir, 'eval'), BENCH_QUALITY_SCENARIO: 'gmel2024' };
  const saved = { ...process.env };
  t.teardown(() => void (process.env = saved));
  Object.assign(process.env, env);
  type Out = { runs: { seed: number; trainedNow: boolean; dir: string; episodeSeconds: number }[]; protocol: { point: string; policies: { policy: string; runs: number; seeds: number }[] }[] };
  const first = (await benchQuality()) as unknown as Out;
  t.same(first.runs.map((r) => [r.seed, r.trainedNow]), [[1, true], [2, true]], 'both seeds trained');
  t.ok(first.runs.every((r) => r.episodeSeconds > 0), 'training time read from each run\'s metrics');
  t.same(first.protocol.map((p) => p.point), ['default', 'p = 0.7', 'd_max = 1.0 s']);
  t.same(first.protocol[0]?.policies.find((p) => p.policy === 'dqn'), { ...first.protocol[0]?.policies.find((p) => p.policy === 'dqn'), runs: 2, seeds: 2 });
  const second = (await benchQuality()) as unknown as Out;
  t.same(second.runs.map((r) => r.trainedNow), [false, false], 'finished runs are reused');
  t.same(second.protocol, first.protocol, 'same runs, same seeds: the same report, to the bit');
  process.env.BENCH_QUALITY_ALGOS = 'ppo';
  await t.rejects(benchQuality(), /BENCH_QUALITY_ALGOS: unknown ppo/);
});
