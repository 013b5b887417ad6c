/**
 * `gmel sim`: run heuristic policies on the simulator and print what happened.
 *
 *   gmel sim --scenario gmel2024 --policy greedy --episodes 20 --seed 1 [--json]
 *   gmel sim --sweep p=0.1:0.9:0.1        (also deadline=…, ieds=…): every heuristic, one row per value
 */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { loadScenario } from '../core/scenario/load.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { runEpisodes } from '../sim/episodes.ts';
import { createHeuristic, HEURISTIC_NAMES, isHeuristicName, type HeuristicName } from '../sim/policies/heuristics.ts';
import type { MetricsSummary } from '../sim/metrics.ts';
import { UsageError } from '../core/errors.ts';
import { parseSets, repeatable, scenarioOptions } from '../core/scenario/options.ts';

interface SimOptions {
  scenario: string;
  policy: string;
  episodes: string;
  seed: string;
  json?: boolean;
  perIed?: boolean;
  set: string[];
  sweep?: string;
  model?: string;
}

/** What a sweep key changes in the scenario. */
const SWEEP_KEYS = {
  p: (v: number) => ({ 'arrivals.probability': v }),
  deadline: (v: number) => ({ 'task.deadlineSeconds.max': v }),
  ieds: (v: number) => ({ ieds: Math.round(v) }),
} as const;
type SweepKey = keyof typeof SWEEP_KEYS;

export function parseSweep(text: string): { key: SweepKey; values: number[] } {
  const match = /^(\w+)=([\d.]+):([\d.]+):([\d.]+)$/.exec(text);
  if (!match) throw new UsageError(`--sweep expects key=from:to:step (e.g. p=0.1:0.9:0.1), got "${text}"`);
  const [, key, a, b, c] = match as unknown as [string, string, string, string, string];
  if (!(key in SWEEP_KEYS)) throw new UsageError(`--sweep key must be one of ${Object.keys(SWEEP_KEYS).join(', ')}, got "${key}"`);
  const [from, to, step] = [Number(a), Number(b), Number(c)];
  if (!(step > 0) || to < from) throw new UsageError(`--sweep ${text}: need step > 0 and to ≥ from`);
  const values: number[] = [];
  for (let k = 0; from + k * step <= to + step * 1e-6; k++) values.push(Number((from + k * step).toPrecision(12)));
  return { key: key as SweepKey, values };
}

/** No colours when piped or when NO_COLOR is set (no-color.org); cli-table3's defaults otherwise. */
function tableStyle(): { head?: string[]; border?: string[] } {
  return process.stdout.isTTY && !process.env.NO_COLOR ? {} : { head: [], border: [] };
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got "${text}"`);
  return n;
}

function summaryJson(policy: string, scenario: Scenario, episodes: number, seed: number, s: MetricsSummary) {
  return { scenario: scenario.name, policy, episodes, seed, ...s };
}

export function registerSim(program: Command): void {
  scenarioOptions(program
    .command('sim')
    .description('run a heuristic policy on the simulator (or sweep a parameter for every heuristic)'))
    .option('--policy <name>', `one of ${HEURISTIC_NAMES.join(', ')}`, 'greedy')
    .option('--episodes <n>', 'episodes to run', '20')
    .option('--seed <n>', 'run seed (episode k uses a seed derived from it)', '1')
    .option('--sweep <key=from:to:step>', `sweep ${Object.keys(SWEEP_KEYS).join(' | ')} for every heuristic`)
    .option('--model <dir>', 'run an ONNX model set (as the gateways do) instead of a heuristic')
    .option('--json', 'print one JSON object instead of a table')
    .option('--per-ied', 'with --json: add each IED\'s own metrics (perIed[i])')
    .action(async (opts: SimOptions) => {
      const episodes = positiveInt(opts.episodes, '--episodes');
      if (episodes === 0) throw new UsageError('--episodes must be at least 1');
      const seed = positiveInt(opts.seed, '--seed');
      const sets = parseSets(opts.set);
      if (opts.sweep) return sweep(opts, sets, episodes, seed);
      if (opts.model) {
        const scenario = loadScenario(opts.scenario, sets);
        const { runModelInSim } = await import('../twin/predict.ts');
        const { summary, version } = await runModelInSim(scenario, opts.model, episodes, seed);
        console.log(opts.json ? JSON.stringify(summaryJson(`model ${version}`, scenario, episodes, seed, summary)) : `model ${version}: completion ${summary.completionRate.toFixed(4)}, mean latency ${summary.meanLatency.toFixed(4)} s, arrived ${summary.arrived}`);
        return;
      }
      if (!isHeuristicName(opts.policy)) throw new UsageError(`unknown policy "${opts.policy}"; known: ${HEURISTIC_NAMES.join(', ')}`);
      const policy: HeuristicName = opts.policy;
      const scenario = loadScenario(opts.scenario, sets);
      const result = runEpisodes(scenario, (rng) => createHeuristic(policy, rng), episodes, seed);
      const s = result.summary;
      if (opts.json) {
        const perIed = opts.perIed ? { perIed: Array.from({ length: scenario.ieds }, (_, i) => result.metrics.summary([i])) } : {};
        console.log(JSON.stringify({ ...summaryJson(policy, scenario, episodes, seed, s), ...perIed }));
        return;
      }
      const table = new Table({ head: ['metric', 'value'], style: tableStyle() });
      table.push(
        ['scenario', scenario.name], ['policy', policy], ['episodes × slots', `${episodes} × ${scenario.episodeSlots} (+ drain)`],
        ['tasks arrived', s.arrived], ['completed', `${s.completed} (local ${s.completedLocal}, edge ${s.completedEdge})`],
        ['completion rate', s.completionRate.toFixed(4)],
        ['mean latency (completed)', `${s.meanLatency.toFixed(4)} s`],
        ['mean latency (drop = deadline)', `${s.meanLatencyDropsAtDeadline.toFixed(4)} s`],
        ['dropped pending/local/uplink/edge', `${s.dropped.pending} / ${s.dropped.local} / ${s.dropped.uplink} / ${s.dropped.edge}`],
        ['offered / served load', `${s.offeredGcycles.toFixed(1)} / ${s.servedGcycles.toFixed(1)} Gcycles`],
      );
      console.log(table.toString());
    });
}

function sweep(opts: SimOptions, sets: Record<string, unknown>, episodes: number, seed: number): void {
  const { key, values } = parseSweep(opts.sweep as string);
  const rows = values.map((value) => {
    const scenario = loadScenario(opts.scenario, { ...sets, ...SWEEP_KEYS[key](value) });
    const results = Object.fromEntries(
      HEURISTIC_NAMES.map((name) => [name, runEpisodes(scenario, (rng) => createHeuristic(name, rng), episodes, seed).summary]),
    ) as Record<HeuristicName, MetricsSummary>;
    return { value, results };
  });
  if (opts.json) {
    console.log(JSON.stringify({ scenario: opts.scenario, sweep: key, episodes, seed, rows }));
    return;
  }
  const table = new Table({ head: [key, ...HEURISTIC_NAMES], style: tableStyle() });
  for (const row of rows)
    table.push([String(row.value), ...HEURISTIC_NAMES.map((n) => `${row.results[n].completionRate.toFixed(3)} / ${row.results[n].meanLatency.toFixed(2)}s`)]);
  console.log(`completion rate / mean latency of completed tasks — ${opts.scenario}, ${episodes} episodes, seed ${seed}`);
  console.log(table.toString());
}
