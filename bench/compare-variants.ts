/**
 * The measurement behind a learner default (e.g. AMARL's policy-gradient estimator, its actor network):
 * runs that differ only in that setting, compared on the VALIDATION seed stream (never the test seeds)
 * at the default scenario, p = 0.7 and a 1.0 s maximum deadline. Writes bench/results/<name>.json.
 *
 *   npx tsx bench/compare-variants.ts policy-gradient-choice expected=runs/amarl-quick-s1 gumbel=runs/amarl-gumbel-quick-s1
 *   npx tsx bench/compare-variants.ts actor-choice mlp=runs/amarl-quick-s1 gru=runs/amarl-gru-quick-s1
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadScenario } from '../core/scenario/load.ts';
import { evaluatePolicy, loadRunPolicy, validationSeeds } from '../trainer/evaluate.ts';

const argv = process.argv.slice(2);
const outAt = argv.indexOf('--out');
// written to bench/out/ (git-ignored) unless --out names the folder, e.g. bench/results for the committed choice tables
const outDir = outAt >= 0 ? (argv[outAt + 1] ?? 'bench/out') : 'bench/out';
const [name, ...pairs] = argv.filter((_, k) => outAt < 0 || (k !== outAt && k !== outAt + 1));
const variants = pairs.map((p) => p.split('=') as [string, string | undefined]);
if (!name || !/^[\w-]+$/.test(name) || variants.length < 2 || variants.some(([, run]) => !run)) {
  console.error('usage: compare-variants.ts <result-name> <label>=<run folder> <label>=<run folder> [...]');
  process.exit(2);
}
const seeds = validationSeeds(10);
const points = [
  { label: 'default (p = 0.3)', overrides: {} },
  { label: 'p = 0.7', overrides: { 'arrivals.probability': 0.7 } },
  { label: 'max deadline 1.0 s', overrides: { 'task.deadlineSeconds': { min: 0.5, max: 1 } } },
];
const rows = [];
for (const point of points) {
  const scenario = loadScenario('gmel2024', point.overrides);
  const row: Record<string, unknown> = { point: point.label };
  const line: string[] = [];
  for (const [label, run] of variants) {
    const r = await evaluatePolicy(scenario, await loadRunPolicy(run as string, label), seeds);
    row[label] = r.completion;
    line.push(`${label} ${(100 * r.completion.mean).toFixed(2)} ± ${(100 * r.completion.ci95).toFixed(2)} %`);
  }
  rows.push(row);
  console.log(`${point.label}: ${line.join(', ')}`);
}
mkdirSync(outDir, { recursive: true });
writeFileSync(`${outDir}/${name}.json`, JSON.stringify({ runs: Object.fromEntries(variants), seeds: 'validation stream, 10', rows }, null, 2) + '\n');
