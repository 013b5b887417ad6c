/**
 * `gmel train`: learn AMARL or a baseline on the simulator.
 *
 *   gmel train --algo amarl --scenario gmel2024 --preset quick --seed 1 --out runs/amarl-quick
 *   gmel train ... --resume            continue from the run folder's checkpoint
 *
 * Where it writes (a new folder by default; never over a run without --force): cli/run-folder.ts.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { loadScenario } from '../core/scenario/load.ts';
import { PRESETS, type Preset } from '../trainer/presets.ts';
import { ALGORITHMS, type Algorithm } from '../trainer/presets.ts';
import { BACKEND_CHOICES, type BackendChoice } from '../trainer/presets.ts';
import { UsageError } from '../core/errors.ts';
import { parseSets, repeatable, scenarioOptions } from '../core/scenario/options.ts';
import { planRun, removeReplaced } from './run-folder.ts';

interface TrainCliOptions {
  algo: string;
  scenario: string;
  preset: string;
  seed: string;
  out?: string;
  resume?: boolean;
  force?: boolean;
  backend: string;
  episodes?: string;
  set: string[];
  config: string[];
  initFrom?: string;
  progress: boolean;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T;
}

export function registerTrain(program: Command): void {
  scenarioOptions(program
    .command('train')
    .description('train AMARL or a baseline (maddpg, ac, dqn) on the simulator; writes a run folder'))
    .option('--algo <name>', ALGORITHMS.join(' | '), 'amarl')
    .option('--preset <name>', PRESETS.join(' | '), 'smoke')
    .option('--seed <n>', 'run seed', '1')
    .option('--out <dir>', 'run folder (default: a new runs/<algo>-<preset>-s<seed>-<UTC time>)')
    .option('--resume', 'continue the run in --out from its checkpoint, with its own settings')
    .option('--force', 'replace the run already in --out')
    .option('--backend <name>', BACKEND_CHOICES.join(' | '), 'auto')
    .option('--episodes <n>', 'override the preset\'s number of episodes')
    .option('--config <key=value>', 'override a learner setting, e.g. policyGradient=gumbel (repeatable)', repeatable, [] as string[])
    .option('--init-from <run>', 'fine-tune: start from that run\'s latest checkpoint (same algorithm and plant size)')
    .option('--no-progress', 'log lines instead of a progress bar')
    .action(async (opts: TrainCliOptions, cmd: Command) => {
      const typed = new Set(['algo', 'preset', 'seed', 'scenario', 'set'].filter((name) => cmd.getOptionValueSource(name) === 'cli'));
      const backend: BackendChoice = oneOf(opts.backend, BACKEND_CHOICES, '--backend');
      const requestedSeed = Number(opts.seed);
      if (!Number.isInteger(requestedSeed) || requestedSeed < 0) throw new UsageError(`--seed must be a non-negative integer, got "${opts.seed}"`);
      const requestedEpisodes = opts.episodes === undefined ? undefined : Number(opts.episodes);
      if (requestedEpisodes !== undefined && !(Number.isInteger(requestedEpisodes) && requestedEpisodes > 0)) throw new UsageError(`--episodes must be a positive integer, got "${opts.episodes}"`);
      const plan = planRun({
        algo: oneOf(opts.algo, ALGORITHMS, '--algo'), preset: oneOf(opts.preset, PRESETS, '--preset'), seed: requestedSeed,
        resume: opts.resume ?? false, force: opts.force ?? false, typed, scenario: () => loadScenario(opts.scenario, parseSets(opts.set)),
        ...(opts.out !== undefined ? { out: opts.out } : {}), ...(requestedEpisodes !== undefined ? { episodes: requestedEpisodes } : {}),
      });
      const algo = plan.algo as Algorithm;
      const preset = plan.preset as Preset;
      const { seed, scenario, outDir, episodes } = plan;
      const useBar = opts.progress && process.stderr.isTTY;
      const bar = useBar
        ? new cliProgress.SingleBar(
            { format: `${algo} |{bar}| ep {value}/{total} | reward/task {reward} | completion {completion} | ETA {eta_formatted}`, etaBuffer: 20 },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      let started = false;
      const { train } = await import('../trainer/train.ts');
      const result = await train({
        algo, scenario, preset, seed, outDir, backend, resume: plan.resume,
        ...(episodes !== undefined ? { episodes } : {}),
        config: parseSets(opts.config, '--config'),
        ...(opts.initFrom ? { initFrom: opts.initFrom } : {}),
        command: ['gmel', ...process.argv.slice(2)].join(' '),
        onEpisode: (line, total) => {
          const payload = { reward: line.rewardPerTask.toFixed(3), completion: line.completionRate.toFixed(3) };
          if (bar) {
            if (!started) bar.start(total, line.episode, payload);
            started = true;
            bar.update(line.episode + 1, payload);
          } else if ((line.episode + 1) % 10 === 0 || line.episode + 1 === total) {
            console.error(`${algo} episode ${line.episode + 1}/${total} reward/task ${payload.reward} completion ${payload.completion} update ${line.updateMs.toFixed(0)} ms`);
          }
        },
      });
      bar?.stop();
      removeReplaced(plan);
      console.log(JSON.stringify({ runDir: result.runDir, backend: result.backend, episodes: result.episodes, last: result.lastLines.at(-1) ?? null }));
    });
}
