// A smoke run learns a clearly best action, and a resumed run continues exactly like an uninterrupted one.
import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateScenario, applyOverrides, loadScenario } from '../../core/scenario/load.ts';
import { train } from '../../trainer/train.ts';
import { evaluatePolicy, loadRunPolicy } from '../../trainer/evaluate.ts';
import { createHeuristic } from '../../sim/policies/heuristics.ts';
import type { Rng } from '../../core/rng.ts';

// 2 IEDs, one fast edge server, a local GPU far too slow for any deadline: offloading is always right.
const obvious = validateScenario(
  applyOverrides(JSON.parse(JSON.stringify(loadScenario('gmel2024'))), {
    name: 'obvious', ieds: 2, edgeServers: 1, 'ied.gpuGHz': 0.1, 'edge.gpuGHz': 40, 'edge.bandwidthMHz': 20,
    'radio.model': 'fixed', 'radio.fixedRateMbps': 200, 'arrivals.probability': 0.5, episodeSlots: 50,
  }),
  'obvious',
);

for (const actor of ['mlp', 'gru'] as const) {
  t.test(`amarl (${actor} actors) smoke run learns to offload`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gmel-learn-'));
    await train({ algo: 'amarl', scenario: obvious, preset: 'smoke', seed: 1, outDir: dir, episodes: 25, config: { actor } });
    const learned = await evaluatePolicy(obvious, await loadRunPolicy(dir), [1001, 1002, 1003]);
    const random = await evaluatePolicy(obvious, { name: 'random', make: (rng: Rng) => createHeuristic('random', rng) }, [1001, 1002, 1003]);
    t.ok(learned.completionRate > random.completionRate + 0.25, `learned ${learned.completionRate.toFixed(3)} vs random ${random.completionRate.toFixed(3)}`);
  });
}

t.test('checkpoint → resume continues identically', async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 3, edgeServers: 2, episodeSlots: 20 });
  for (const algo of ['amarl', 'dqn'] as const) {
    const straight = mkdtempSync(join(tmpdir(), `gmel-straight-${algo}-`));
    const resumed = mkdtempSync(join(tmpdir(), `gmel-resumed-${algo}-`));
    await train({ algo, scenario, preset: 'smoke', seed: 4, outDir: straight, episodes: 4, checkpointEvery: 2 });
    await train({ algo, scenario, preset: 'smoke', seed: 4, outDir: resumed, episodes: 2, checkpointEvery: 2 });
    await train({ algo, scenario, preset: 'smoke', seed: 4, outDir: resumed, episodes: 4, checkpointEvery: 2, resume: true });
    const metrics = (d: string) => readFileSync(join(d, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
      const { collectMs: _c, updateMs: _u, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
    t.same(metrics(resumed), metrics(straight), `${algo}: same metrics line for line`);
    const weights = (d: string) => readFileSync(join(d, 'actors', 'ied-1', 'weights.bin'));
    t.ok(weights(resumed).equals(weights(straight)), `${algo}: same final actor weights`);
  }
  const other = mkdtempSync(join(tmpdir(), 'gmel-mismatch-'));
  await train({ algo: 'ac', scenario, preset: 'smoke', seed: 4, outDir: other, episodes: 1 });
  await t.rejects(train({ algo: 'ac', scenario, preset: 'smoke', seed: 5, outDir: other, episodes: 2, resume: true }), /was made by algo ac, seed 4/);
});
