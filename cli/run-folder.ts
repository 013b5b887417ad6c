/**
 * Where `gmel train` writes, decided before anything runs, so no work is lost silently:
 *
 * | case                          | rule                                                                 |
 * |-------------------------------|----------------------------------------------------------------------|
 * | no --out                      | a new folder runs/<algo>-<preset>-s<seed>-<UTC stamp> (as CleanRL)   |
 * | --out holds a run, no flag    | refused: --resume to continue it, --force to replace it              |
 * | --out holds a run, --force    | the old run is set aside (<out>.replaced-<stamp>) and removed only   |
 * |                               | once the new one has trained: a mistyped flag loses nothing          |
 * | --resume                      | the run's own algo, preset, seed, scenario and episode count; a flag |
 * |                               | given on the command line that disagrees with them is refused        |
 */
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';
import { validateScenario } from '../core/scenario/load.ts';
import type { Scenario } from '../core/scenario/schema.ts';

/** What a run folder's config.json says about how it was started (trainer/train.ts writes it). */
interface SavedRun {
  readonly algo: string;
  readonly preset: string;
  readonly seed: number;
  readonly episodes: number;
  readonly scenario: unknown;
}

export interface RunRequest {
  readonly algo: string;
  readonly preset: string;
  readonly seed: number;
  readonly out?: string;
  readonly resume: boolean;
  readonly force: boolean;
  readonly episodes?: number;
  /** the flags the user typed (commander's option value source "cli") */
  readonly typed: ReadonlySet<string>;
  /** the scenario the flags name (not used when resuming) */
  readonly scenario: () => Scenario;
  /** now, for the default folder's stamp */
  readonly now?: Date;
}

export interface RunPlan {
  readonly algo: string;
  readonly preset: string;
  readonly seed: number;
  readonly outDir: string;
  readonly scenario: Scenario;
  readonly episodes?: number;
  readonly resume: boolean;
  /** with --force: where the replaced run waits until the new one has trained (then removeReplaced) */
  readonly replaced?: string;
}

export function holdsRun(dir: string): boolean {
  return existsSync(join(dir, 'config.json')) || existsSync(join(dir, 'checkpoint'));
}

function readSaved(dir: string): SavedRun {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new UsageError(`--resume: no checkpoint in ${dir} (no config.json)`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SavedRun;
  } catch (err) {
    throw new UsageError(`--resume: ${path} is not readable JSON: ${(err as Error).message}`);
  }
}

export function planRun(r: RunRequest): RunPlan {
  if (r.resume && r.force) throw new UsageError('--resume continues a run and --force replaces it: give one');
  if (r.resume) {
    if (!r.out) throw new UsageError('--resume needs --out <the run folder to continue>');
    const saved = readSaved(r.out);
    const conflicts = ([['algo', saved.algo, r.algo], ['preset', saved.preset, r.preset], ['seed', saved.seed, r.seed]] as const)
      .filter(([flag, was, now]) => r.typed.has(flag) && String(was) !== String(now))
      .map(([flag, was, now]) => `--${flag} ${now} (the run has ${was})`);
    for (const flag of ['scenario', 'set'] as const) if (r.typed.has(flag)) conflicts.push(`--${flag} (a resumed run keeps its scenario)`);
    if (conflicts.length > 0) throw new UsageError(`--resume ${r.out}: ${conflicts.join(', ')}`);
    return {
      algo: saved.algo, preset: saved.preset, seed: saved.seed, outDir: r.out, resume: true,
      scenario: validateScenario(saved.scenario, join(r.out, 'config.json')),
      // a longer run than planned is allowed (e.g. the paper preset resumed to its end)
      episodes: r.episodes ?? saved.episodes,
    };
  }
  // to the millisecond: two runs started in the same second still get folders of their own
  const stamp = (r.now ?? new Date()).toISOString().replace(/[-:.]/g, '');
  const outDir = r.out ?? `runs/${r.algo}-${r.preset}-s${r.seed}-${stamp}`;
  if (holdsRun(outDir)) {
    if (!r.force) throw new UsageError(`${outDir} holds a run: --resume to continue it, --force to replace it, or another --out`);
    const scenario = r.scenario(); // a bad --scenario or --set must not cost the old run
    const replaced = `${outDir}.replaced-${stamp}`;
    renameSync(outDir, replaced);
    return { algo: r.algo, preset: r.preset, seed: r.seed, outDir, scenario, resume: false, replaced, ...(r.episodes !== undefined ? { episodes: r.episodes } : {}) };
  }
  return { algo: r.algo, preset: r.preset, seed: r.seed, outDir, scenario: r.scenario(), resume: false, ...(r.episodes !== undefined ? { episodes: r.episodes } : {}) };
}

/** The new run trained: the run it replaced goes. (A failed one leaves it at plan.replaced, and says so.) */
export function removeReplaced(plan: RunPlan): void {
  if (plan.replaced) rmSync(plan.replaced, { recursive: true, force: true });
}
