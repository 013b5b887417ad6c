/**
 * The measurement behind AMARL's default policy-gradient estimator ("expected" vs "gumbel"): two quick
 * runs that differ only in it, compared on the VALIDATION seed stream (never the test seeds) at the
 * default scenario, p = 0.7 and a 1.0 s maximum deadline. Writes bench/results/policy-gradient-choice.json.
 *
 *   npx tsx bench/policy-gradient-choice.ts runs/amarl-quick-s1 runs/amarl-gumbel-quick-s1
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadScenario } from '../core/scenario/load.ts';
import { evaluatePolicy, loadRunPolicy, validationSeeds } from '../trainer/evaluate.ts';

const [expectedRun, gumbelRun] = process.argv.slice(2);
if (!expectedRun || !gumbelRun) {
  console.error('usage: policy-gradient-choice.ts <run with policyGradient=expected> <run with policyGradient=gumbel>');
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
  const expected = await evaluatePolicy(scenario, await loadRunPolicy(expectedRun, 'expected'), seeds);
  const gumbel = await evaluatePolicy(scenario, await loadRunPolicy(gumbelRun, 'gumbel'), seeds);
  rows.push({ point: point.label, expected: expected.completion, gumbel: gumbel.completion });
  console.log(`${point.label}: expected ${(100 * expected.completion.mean).toFixed(2)} ± ${(100 * expected.completion.ci95).toFixed(2)} %, gumbel ${(100 * gumbel.completion.mean).toFixed(2)} ± ${(100 * gumbel.completion.ci95).toFixed(2)} %`);
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/policy-gradient-choice.json', JSON.stringify({ runs: { expected: expectedRun, gumbel: gumbelRun }, seeds: 'validation stream, 10', rows }, null, 2) + '\n');
