/**
 * `gmel eval`: evaluate learned runs and every heuristic on held-out seeds; write the paper's
 * Figures 3–6 (SVG, PNG, CSV), eval.json and summary.md.
 *
 *   gmel eval --runs runs/amarl-quick-s1 runs/maddpg-quick-s1 --seeds 5 --out eval/quick
 */
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { parseSweep } from './sim-command.ts';

interface EvalCliOptions {
  runs: string[];
  scenario: string;
  seeds: string;
  out?: string;
  heuristicsOnly?: boolean;
  p: string;
  deadline: string;
  ieds: string;
  validation?: boolean;
}

function range(flag: string, key: 'p' | 'deadline' | 'ieds', text: string): number[] {
  try {
    return parseSweep(`${key}=${text}`).values;
  } catch {
    throw new UsageError(`${flag} expects from:to:step, got "${text}"`);
  }
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate learned runs and the heuristics on held-out seeds; write Figures 3–6 and a summary')
    .option('--runs <dirs...>', 'run folders; several runs of one algorithm (training seeds) are one policy, each run on the same seeds', [] as string[])
    .option('--scenario <name|file>', 'the scenario the runs were trained on', 'gmel2024')
    .option('--seeds <n>', 'held-out seeds (≥ 5 for the CI to mean much)', '5')
    .option('--out <dir>', 'output folder (default: a new eval/runs/<UTC time>, git-ignored)')
    .option('--heuristics-only', 'evaluate the heuristics alone (no --runs)')
    .option('--p <from:to:step>', 'Fig. 4 sweep of the task generation probability', '0.1:0.9:0.1')
    .option('--deadline <from:to:step>', 'Fig. 5 sweep of the maximum deadline (s)', '0.5:2.5:0.25')
    .option('--ieds <from:to:step>', 'Fig. 6 sweep of the number of IEDs', '10:100:10')
    .option('--validation', 'evaluate on the validation seed stream (to choose variants) instead of the test seeds')
    .action(async (opts: EvalCliOptions) => {
      const seeds = Number(opts.seeds);
      if (!(Number.isInteger(seeds) && seeds >= 2)) throw new UsageError(`--seeds must be an integer ≥ 2, got "${opts.seeds}"`);
      if (opts.runs.length === 0 && !opts.heuristicsOnly) throw new UsageError('give --runs <run folders> to evaluate (or --heuristics-only for the heuristics alone)');
      if (seeds < 5) console.error(`gmel eval: ${seeds} seeds: the 95% intervals rest on ${seeds - 1} degrees of freedom (5 or more for intervals that mean much)`);
      const outDir = opts.out ?? `eval/runs/${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
      const { runEvaluation } = await import('../trainer/eval-report.ts');
      const report = await runEvaluation({
        runs: opts.runs,
        scenario: opts.scenario,
        seeds,
        outDir,
        probabilities: range('--p', 'p', opts.p),
        deadlines: range('--deadline', 'deadline', opts.deadline),
        iedCounts: range('--ieds', 'ieds', opts.ieds),
        validation: opts.validation ?? false,
        log: (line) => console.error(line),
      });
      console.log(JSON.stringify({ out: outDir, policies: report.policies, atDefault: report.atDefault.map((r) => ({ policy: r.policy, completionRate: r.completionRate, ci95: r.completion.ci95 })) }));
    });
}
