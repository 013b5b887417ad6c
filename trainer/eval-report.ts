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
 * Every point is the mean over held-out seeds with a 95% CI (evaluate.ts). Several runs of one
 * algorithm (training seeds) are one policy: every run sees the same seeds, the interval covers both
 * (evaluate.ts combineRuns); at the headline points, the protocol's paired comparisons (eval-protocol.ts).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadScenario } from '../core/scenario/load.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { createHeuristic, HEURISTIC_NAMES } from '../sim/policies/heuristics.ts';
import { combineRuns, evaluatePolicy, evaluationSeeds, validationSeeds, loadRunPolicy, type EvaluationResult, type PolicySpec } from './evaluate.ts';
import { protocolAt, protocolMarkdown, type ProtocolPoint } from './eval-protocol.ts';
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
  /** the paired comparisons at the default, p = 0.7 and d_max = 1.0 s (those swept) */
  readonly protocol: readonly ProtocolPoint[];
}

/** the runs of one algorithm (its training seeds): one policy in every table and figure */
export interface LearnedGroup {
  readonly name: string;
  readonly runs: readonly string[];
  readonly specs: readonly PolicySpec[];
}

const heuristicSpecs: PolicySpec[] = HEURISTIC_NAMES.map((name) => ({ name, make: (rng) => createHeuristic(name, rng) }));

/** Every learned group (its runs combined) and every heuristic at one scenario, on the same seeds. */
export async function evaluateAll(scenario: Scenario, groups: readonly LearnedGroup[], seeds: readonly number[]): Promise<EvaluationResult[]> {
  const results: EvaluationResult[] = [];
  for (const g of groups) {
    const runs: EvaluationResult[] = [];
    for (const spec of g.specs) runs.push(await evaluatePolicy(scenario, spec, seeds));
    results.push(combineRuns(g.name, runs));
  }
  for (const spec of heuristicSpecs) results.push(await evaluatePolicy(scenario, spec, seeds));
  return results;
}

async function sweep(base: string, key: string, values: readonly number[], override: (v: number) => Record<string, unknown>, groups: readonly LearnedGroup[], seeds: readonly number[], log: (l: string) => void): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const x of values) {
    const scenario: Scenario = loadScenario(base, override(x));
    const results = await evaluateAll(scenario, groups, seeds);
    rows.push({ x, results });
    log(`${key}=${x}: ${results.map((r) => `${r.policy} ${r.completionRate.toFixed(3)}`).join(', ')}`);
  }
  return rows;
}

function points(rows: readonly SweepRow[], pick: (r: EvaluationResult) => { mean: number; lo: number; hi: number }): Point[] {
  return rows.flatMap((row) => row.results.map((r) => {
    const e = pick(r);
    return { series: r.policy, x: row.x, y: e.mean, lo: e.lo, hi: e.hi };
  }));
}

export async function runEvaluation(opts: EvalOptions): Promise<EvalReport> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.outDir, { recursive: true });
  const seeds = opts.validation ? validationSeeds(opts.seeds) : evaluationSeeds(opts.seeds);
  const groups = await loadGroups(opts.runs);
  const names = groups.map((g) => g.name);
  const heuristics = heuristicSpecs.map((s) => s.name);
  const base = loadScenario(opts.scenario);
  const atDefault = await evaluateAll(base, groups, seeds);
  log(`default: ${atDefault.map((r) => `${r.policy} ${r.completionRate.toFixed(3)}`).join(', ')}`);
  const probability = await sweep(opts.scenario, 'p', opts.probabilities, (v) => ({ 'arrivals.probability': v }), groups, seeds, log);
  const deadline = await sweep(opts.scenario, 'deadline', opts.deadlines, (v) => ({ 'task.deadlineSeconds': { min: Math.min(base.task.deadlineSeconds.min, v), max: v } }), groups, seeds, log);
  const ieds = await sweep(opts.scenario, 'ieds', opts.iedCounts, (v) => ({ ieds: v }), groups, seeds, log);
  const headlinePoints: [string, readonly EvaluationResult[] | undefined][] = [['default', atDefault], ['p = 0.7', find(probability, 0.7)?.results], ['d_max = 1.0 s', find(deadline, 1)?.results]];
  const protocol = headlinePoints.flatMap(([label, results], k) => (results ? [protocolAt(label, k, results, names)] : []));

  // Fig. 3: learning curves (20-episode moving mean, averaged over an algorithm's runs) with
  // heuristics' evaluated level as flat lines
  const curve: Point[] = [];
  let maxEpisode = 0;
  for (const g of groups) {
    const sums = new Map<number, { sum: number; runs: number }>();
    for (const run of g.runs) {
      const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpisodeLine);
      maxEpisode = Math.max(maxEpisode, lines.length);
      lines.forEach((line, e) => {
        const window = lines.slice(Math.max(0, e - 19), e + 1);
        const at = sums.get(line.episode) ?? { sum: 0, runs: 0 };
        sums.set(line.episode, { sum: at.sum + window.reduce((a, l) => a + l.rewardPerTask, 0) / window.length, runs: at.runs + 1 });
      });
    }
    for (const [x, { sum, runs }] of sums) curve.push({ series: g.name, x, y: sum / runs });
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
  const report: EvalReport = { seeds, policies: [...names, ...heuristics], learned: names, atDefault, probability, deadline, ieds, protocol };
  writeFileSync(o('eval.json'), JSON.stringify({ scenario: opts.scenario, runs: Object.fromEntries(groups.map((g) => [g.name, g.runs])), ...report }, withoutSweepScores, 2) + '\n');
  writeFileSync(o('summary.md'), summaryMarkdown(opts, report));
  return report;
}

interface RunIdentity {
  readonly seed?: number;
  readonly preset?: string;
  readonly scenarioHash?: string;
  readonly learner?: Record<string, unknown>;
}

const canonical = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));

/**
 * Runs grouped by algorithm, in the order given; each run's actors loaded once. Runs of one algorithm
 * are one policy only if they differ in their training seed alone: same preset, plant and learner
 * settings (a variant, e.g. another policyGradient, is evaluated on its own, in another call).
 */
export async function loadGroups(runs: readonly string[]): Promise<LearnedGroup[]> {
  const groups = new Map<string, { runs: string[]; specs: PolicySpec[]; ids: RunIdentity[]; paths: string[] }>();
  for (const run of runs) {
    const spec = await loadRunPolicy(run);
    if (heuristicSpecs.some((h) => h.name === spec.name)) throw new InputError(`${run}: its algorithm "${spec.name}" has a heuristic's name`);
    const id = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as RunIdentity;
    const g = groups.get(spec.name) ?? { runs: [], specs: [], ids: [], paths: [] };
    if (g.paths.includes(resolve(run))) throw new InputError(`${run} is given twice`);
    const first = g.ids[0];
    if (first) {
      const differs = (['preset', 'scenarioHash', 'learner'] as const).filter((k) => canonical(id[k]) !== canonical(first[k]));
      if (differs.length) throw new InputError(`${run} and ${g.runs[0]} are both ${spec.name} but differ in ${differs.join(', ')}: only training seeds of one setting are one policy (evaluate variants apart)`);
      if (g.ids.some((x) => x.seed === id.seed)) throw new InputError(`${run} and another ${spec.name} run have the same training seed ${id.seed}`);
    }
    g.runs.push(run);
    g.specs.push(spec);
    g.ids.push(id);
    g.paths.push(resolve(run));
    groups.set(spec.name, g);
  }
  return [...groups].map(([name, g]) => ({ name, runs: g.runs, specs: g.specs }));
}

/** eval.json keeps the per-seed scores at the protocol's points only (a sweep would hold thousands) */
function withoutSweepScores(this: unknown, key: string, value: unknown): unknown {
  return key === 'scores' && this !== null && typeof this === 'object' && 'completionRate' in this ? undefined : value;
}

const pct = (x: number) => (100 * x).toFixed(2);
const drops = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

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
  const pair = (point: string, b: string, claim: string) => {
    const s = report.protocol.find((p) => p.point === point)?.pairs.find((x) => x.a === 'amarl' && x.b === b);
    if (!s) return `- ${point}, AMARL − ${b} (${claim}): not evaluated`;
    const d = s.difference;
    const verdict = d.lo > 0 ? 'interval above 0' : d.hi < 0 ? 'interval below 0' : 'interval includes 0';
    return `- ${point}, AMARL − ${b} (${claim}): ${(100 * d.point).toFixed(2)} pp [${(100 * d.lo).toFixed(2)}, ${(100 * d.hi).toFixed(2)}], ${verdict}; P(AMARL > ${b}) ${s.probabilityOfImprovement.point.toFixed(2)}`;
  };
  if (report.learned.includes('amarl')) {
    if (report.learned.includes('maddpg')) out.push(pair('p = 0.7', 'maddpg', 'paper: +6.93 pp'));
    for (const b of report.learned.filter((n) => n !== 'amarl')) out.push(pair('d_max = 1.0 s', b, 'paper: ≥ +4.64 pp'));
    out.push(pair('default', 'central-greedy', 'not in the paper; full information'));
  } else out.push('- no AMARL run given: the paper\'s claims are not evaluated');
  return out.join('\n') + '\n';
}

function summaryMarkdown(opts: EvalOptions, r: EvalReport): string {
  const def = r.atDefault
    .map((x) => `| ${x.policy} | ${x.runs} | ${pct(x.completion.mean)} ± ${pct(x.completion.ci95)} | ${x.meanLatency.mean.toFixed(3)} ± ${x.meanLatency.ci95.toFixed(3)} | ${x.rewardPerTask.mean.toFixed(3)} | ${drops(x.dropped.local)} / ${drops(x.dropped.uplink)} / ${drops(x.dropped.edge)} |`)
    .join('\n');
  return `# Evaluation — ${opts.scenario}

Runs: ${opts.runs.join(', ')}. ${r.seeds.length} ${opts.validation ? 'validation seeds (evaluate.ts: VALIDATION_STREAM; for choosing variants, not for reporting)' : 'held-out test seeds (evaluate.ts: EVAL_STREAM)'}, one episode each, every run on the same seeds. ± is half a 95% interval: Student t over the seeds for a single run or a heuristic; for an algorithm with several runs, half the width of the bootstrap interval over runs × seeds (it may be asymmetric: eval.json has its ends, lo and hi). The protocol's table uses the bootstrap for every policy.
Sweep points reuse the default-trained actors (no retraining); for more IEDs than actors, IED i uses actor i mod n.

## Headline comparisons

${headline(r)}
${protocolMarkdown(r.protocol)}## Default scenario

| policy | runs | completion % | mean latency (s) | reward/task | drops per run: local / uplink / edge |
|---|---|---|---|---|---|
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
