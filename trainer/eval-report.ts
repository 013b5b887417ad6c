/**
 * `gmel eval`: the paper's Figures 3–6 for learned runs and every heuristic, on held-out seeds.
 *
 * | figure | x                                   | y                                  | policies from          |
 * |--------|-------------------------------------|------------------------------------|------------------------|
 * | 3      | training episode                    | reward per task (20-episode mean)  | runs' metrics.jsonl; heuristics as flat lines (evaluated) |
 * | 4      | task generation probability p       | completion rate                    | default-trained actors, no retraining |
 * | 5      | maximum deadline d_max (s)          | completion rate                    | same                   |
 * | 6a/6b  | number of IEDs                      | mean latency / completion rate     | same (IED i uses actor i mod 50) |
 *
 * Every point is the mean over held-out seeds with a 95% CI (evaluate.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../core/scenario/load.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { createHeuristic, HEURISTIC_NAMES } from '../sim/policies/heuristics.ts';
import { evaluatePolicy, evaluationSeeds, validationSeeds, loadRunPolicy, type EvaluationResult, type PolicySpec } from './evaluate.ts';
import { writeFigure, type Point } from './figures.ts';
import type { EpisodeLine } from './train.ts';

export interface EvalOptions {
  readonly runs: readonly string[];
  readonly scenario: string;
  readonly seeds: number;
  readonly outDir: string;
  readonly probabilities: readonly number[];
  readonly deadlines: readonly number[];
  readonly iedCounts: readonly number[];
  /** use the validation seed stream (for choosing variants) instead of the held-out test seeds */
  readonly validation?: boolean;
  readonly log?: (line: string) => void;
}

interface SweepRow {
  readonly x: number;
  readonly results: readonly EvaluationResult[];
}

export interface EvalReport {
  readonly seeds: readonly number[];
  readonly policies: readonly string[];
  readonly learned: readonly string[];
  readonly atDefault: readonly EvaluationResult[];
  readonly probability: readonly SweepRow[];
  readonly deadline: readonly SweepRow[];
  readonly ieds: readonly SweepRow[];
}

const heuristicSpecs: PolicySpec[] = HEURISTIC_NAMES.map((name) => ({ name, make: (rng) => createHeuristic(name, rng) }));

async function sweep(base: string, key: string, values: readonly number[], override: (v: number) => Record<string, unknown>, specs: readonly PolicySpec[], seeds: readonly number[], log: (l: string) => void): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const x of values) {
    const scenario: Scenario = loadScenario(base, override(x));
    const results: EvaluationResult[] = [];
    for (const spec of specs) results.push(await evaluatePolicy(scenario, spec, seeds));
    rows.push({ x, results });
    log(`${key}=${x}: ${results.map((r) => `${r.policy} ${r.completionRate.toFixed(3)}`).join(', ')}`);
  }
  return rows;
}

function points(rows: readonly SweepRow[], pick: (r: EvaluationResult) => { mean: number; ci95: number }): Point[] {
  return rows.flatMap((row) => row.results.map((r) => {
    const e = pick(r);
    return { series: r.policy, x: row.x, y: e.mean, lo: e.mean - e.ci95, hi: e.mean + e.ci95 };
  }));
}

export async function runEvaluation(opts: EvalOptions): Promise<EvalReport> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.outDir, { recursive: true });
  const seeds = opts.validation ? validationSeeds(opts.seeds) : evaluationSeeds(opts.seeds);
  const learnedSpecs: PolicySpec[] = [];
  for (const run of opts.runs) learnedSpecs.push(await loadRunPolicy(run));
  const names = learnedSpecs.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new InputError(`two runs share an algorithm name (${names.join(', ')}): evaluate one run per algorithm`);
  const specs = [...learnedSpecs, ...heuristicSpecs];
  const heuristics = heuristicSpecs.map((s) => s.name);
  const base = loadScenario(opts.scenario);
  const atDefault: EvaluationResult[] = [];
  for (const spec of specs) atDefault.push(await evaluatePolicy(base, spec, seeds));
  log(`default: ${atDefault.map((r) => `${r.policy} ${r.completionRate.toFixed(3)}`).join(', ')}`);
  const probability = await sweep(opts.scenario, 'p', opts.probabilities, (v) => ({ 'arrivals.probability': v }), specs, seeds, log);
  const deadline = await sweep(opts.scenario, 'deadline', opts.deadlines, (v) => ({ 'task.deadlineSeconds': { min: Math.min(base.task.deadlineSeconds.min, v), max: v } }), specs, seeds, log);
  const ieds = await sweep(opts.scenario, 'ieds', opts.iedCounts, (v) => ({ ieds: v }), specs, seeds, log);

  // Fig. 3: learning curves (20-episode moving mean) with heuristics' evaluated level as flat lines
  const curve: Point[] = [];
  let maxEpisode = 0;
  for (const [k, run] of opts.runs.entries()) {
    const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpisodeLine);
    maxEpisode = Math.max(maxEpisode, lines.length);
    lines.forEach((line, e) => {
      const window = lines.slice(Math.max(0, e - 19), e + 1);
      curve.push({ series: names[k] as string, x: line.episode, y: window.reduce((a, l) => a + l.rewardPerTask, 0) / window.length });
    });
  }
  for (const r of atDefault.filter((r) => heuristics.includes(r.policy)))
    for (const x of [0, Math.max(1, maxEpisode - 1)]) curve.push({ series: r.policy, x, y: r.rewardPerTask.mean });
  const dashed = heuristics;
  const o = (f: string) => join(opts.outDir, f);
  await writeFigure(o('fig3-learning'), { title: 'Fig. 3: reward per task vs training episode', xTitle: 'episode', yTitle: 'reward per task (eq. 4)', points: curve, dashed }, 'episode', 'rewardPerTask');
  await writeFigure(o('fig4-probability'), { title: 'Fig. 4: completion rate vs task generation probability', xTitle: 'task generation probability p', yTitle: 'task completion rate', points: points(probability, (r) => r.completion), dashed, yRange: [0, 1] }, 'p', 'completionRate');
  await writeFigure(o('fig5-deadline'), { title: 'Fig. 5: completion rate vs maximum deadline', xTitle: 'maximum deadline (s)', yTitle: 'task completion rate', points: points(deadline, (r) => r.completion), dashed, yRange: [0, 1] }, 'deadlineMax', 'completionRate');
  await writeFigure(o('fig6a-latency'), { title: 'Fig. 6a: mean latency vs number of IEDs', xTitle: 'number of IEDs', yTitle: 'mean latency of completed tasks (s)', points: points(ieds, (r) => r.meanLatency), dashed, yRange: [0, Number.POSITIVE_INFINITY] }, 'ieds', 'meanLatency');
  await writeFigure(o('fig6b-completion'), { title: 'Fig. 6b: completion rate vs number of IEDs', xTitle: 'number of IEDs', yTitle: 'task completion rate', points: points(ieds, (r) => r.completion), dashed, yRange: [0, 1] }, 'ieds', 'completionRate');
  const report: EvalReport = { seeds, policies: specs.map((s) => s.name), learned: names, atDefault, probability, deadline, ieds };
  writeFileSync(o('eval.json'), JSON.stringify({ scenario: opts.scenario, runs: opts.runs, ...report }, null, 2) + '\n');
  writeFileSync(o('summary.md'), summaryMarkdown(opts, report));
  return report;
}

const pct = (x: number) => (100 * x).toFixed(2);

function table(rows: readonly SweepRow[], xName: string): string {
  const policies = rows[0]?.results.map((r) => r.policy) ?? [];
  const head = `| ${xName} | ${policies.join(' | ')} |\n|---|${policies.map(() => '---').join('|')}|\n`;
  return head + rows.map((row) => `| ${row.x} | ${row.results.map((r) => `${pct(r.completion.mean)} ± ${pct(r.completion.ci95)}`).join(' | ')} |`).join('\n') + '\n';
}

function find(rows: readonly SweepRow[], x: number): SweepRow | undefined {
  return rows.find((r) => Math.abs(r.x - x) < 1e-9);
}

function headline(report: EvalReport): string {
  const out: string[] = [];
  const diff = (row: SweepRow | undefined, a: string, b: string) => {
    const ra = row?.results.find((r) => r.policy === a);
    const rb = row?.results.find((r) => r.policy === b);
    return ra && rb ? `${a} ${pct(ra.completion.mean)}% vs ${b} ${pct(rb.completion.mean)}%: ${(100 * (ra.completion.mean - rb.completion.mean)).toFixed(2)} pp` : `${a} vs ${b}: not evaluated`;
  };
  if (report.learned.includes('amarl')) {
    out.push(`- p = 0.7 (paper: AMARL +6.93 pp over MADDPG): ${diff(find(report.probability, 0.7), 'amarl', 'maddpg')}`);
    for (const b of report.learned.filter((n) => n !== 'amarl')) out.push(`- max deadline 1.0 s (paper: AMARL ≥ +4.64 pp over every baseline): ${diff(find(report.deadline, 1), 'amarl', b)}`);
    const heuristics = report.atDefault.filter((r) => !report.learned.includes(r.policy));
    const best = heuristics.reduce((a, b) => (b.completion.mean > a.completion.mean ? b : a), heuristics[0] as EvaluationResult);
    const amarl = report.atDefault.find((r) => r.policy === 'amarl') as EvaluationResult;
    out.push(`- default scenario, AMARL vs the best heuristic (${best.policy}): ${pct(amarl.completion.mean)}% vs ${pct(best.completion.mean)}%: ${(100 * (amarl.completion.mean - best.completion.mean)).toFixed(2)} pp`);
  }
  return out.join('\n') + '\n';
}

function summaryMarkdown(opts: EvalOptions, r: EvalReport): string {
  const def = r.atDefault
    .map((x) => `| ${x.policy} | ${pct(x.completion.mean)} ± ${pct(x.completion.ci95)} | ${x.meanLatency.mean.toFixed(3)} ± ${x.meanLatency.ci95.toFixed(3)} | ${x.rewardPerTask.mean.toFixed(3)} | ${x.dropped.local} / ${x.dropped.uplink} / ${x.dropped.edge} |`)
    .join('\n');
  return `# Evaluation — ${opts.scenario}

Runs: ${opts.runs.join(', ')}. ${r.seeds.length} ${opts.validation ? 'validation seeds (evaluate.ts: VALIDATION_STREAM; for choosing variants, not for reporting)' : 'held-out test seeds (evaluate.ts: EVAL_STREAM)'}, one episode each; mean ± 95% CI.
Sweep points reuse the default-trained actors (no retraining); for more IEDs than actors, IED i uses actor i mod n.

## Headline comparisons

${headline(r)}
## Default scenario

| policy | completion % | mean latency (s) | reward/task | drops local / uplink / edge |
|---|---|---|---|---|
${def}

## Fig. 4: completion rate (%) vs task generation probability

${table(r.probability, 'p')}
## Fig. 5: completion rate (%) vs maximum deadline (s)

${table(r.deadline, 'd_max')}
## Fig. 6b: completion rate (%) vs number of IEDs

${table(r.ieds, 'IEDs')}
## Fig. 6a: mean latency (s) vs number of IEDs

| IEDs | ${r.ieds[0]?.results.map((x) => x.policy).join(' | ') ?? ''} |
|---|${r.ieds[0]?.results.map(() => '---').join('|') ?? ''}|
${r.ieds.map((row) => `| ${row.x} | ${row.results.map((x) => `${x.meanLatency.mean.toFixed(3)} ± ${x.meanLatency.ci95.toFixed(3)}`).join(' | ')} |`).join('\n')}

Figures: fig3-learning, fig4-probability, fig5-deadline, fig6a-latency, fig6b-completion (.svg, .png, .csv).
`;
}
