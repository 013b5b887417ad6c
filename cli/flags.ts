/** Command-line flags that several commands share, declared and checked once (rollouts from `gmel deploy` and `gmel twin`, retraining from `gmel twin` and `gmel up`). */
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';

/** A finite number ≥ 0. */
export function nonNegativeFlag(value: string, flag: string): number {
  const x = Number(value);
  if (!(Number.isFinite(x) && x >= 0)) throw new UsageError(`${flag} must be a non-negative number, got "${value}"`);
  return x;
}

/** A share or rate in 0..1. */
export function shareFlag(value: string, flag: string): number {
  const x = Number(value);
  if (!(x >= 0 && x <= 1)) throw new UsageError(`${flag} must be a number in 0..1, got "${value}"`);
  return x;
}

/** The canary fraction of a staged rollout: in (0, 1]. */
export function canaryFlag(value: string, flag = '--canary'): number {
  const x = Number(value);
  if (!(x > 0 && x <= 1)) throw new UsageError(`${flag} must be in (0, 1], got "${value}"`);
  return x;
}

export interface CanaryFlags {
  canary: string;
  maxDrop: string;
  minTasks: string;
}

/**
 * The staged-rollout flags `gmel deploy rollout` and `gmel twin` share. The watch window's flag is
 * named by the caller (`--window` for a rollout, `--canary-window` beside the twin's own `--window`).
 */
export function canaryOptions(cmd: Command, windowFlag: '--window' | '--canary-window', dropReference: string): Command {
  return cmd
    .option('--canary <fraction>', 'share of IEDs in the canary stage', '0.1')
    .option(`${windowFlag} <s>`, 'seconds to watch the canaries', '60')
    .option('--max-drop <pp>', `largest tolerated canary completion drop below ${dropReference}, percentage points`, '5')
    .option('--min-tasks <n>', 'fewest canary outcomes to judge', '50');
}

/** The checked rollout settings from those flags (`window`: the value of the window flag). */
export function canaryPlan(o: CanaryFlags, window: string, windowFlag: string) {
  return {
    canaryFraction: canaryFlag(o.canary),
    windowMs: nonNegativeFlag(window, windowFlag) * 1000,
    maxDropPp: nonNegativeFlag(o.maxDrop, '--max-drop'),
    minTasks: nonNegativeFlag(o.minTasks, '--min-tasks'),
  };
}

export interface RetrainFlags {
  run?: string;
  retrainEpisodes: string;
  margin: string;
  onDrift?: boolean;
}

/** The twin's retraining flags `gmel twin` and `gmel up` share. */
export function retrainOptions(cmd: Command): Command {
  return cmd
    .option('--run <dir>', 'the training run the live actors came from: enables the twin\'s retraining cycle')
    .option('--on-drift', 'with --run: retrain when the twin reports drift')
    .option('--retrain-episodes <n>', 'fine-tuning episodes per cycle', '50')
    .option('--margin <pp>', 'promote only if the candidate beats the incumbent by this many points', '1');
}
