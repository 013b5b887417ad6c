/**
 * Algorithms by name, and the run presets.
 *
 * | preset | episodes × slots | for                                                                  |
 * |--------|------------------|----------------------------------------------------------------------|
 * | smoke  | 6 × T            | seconds: tests and CI (small batches, few updates)                   |
 * | quick  | 300 × T          | ≤ 15 minutes per algorithm on the 2-core reference machine (50 IEDs) |
 * | paper  | 5,000 × T        | the paper's Sec. V-B budget (5,000 episodes of 100 slots)            |
 */
import type { Algorithm, Learner } from './learner.ts';
import { Amarl, AMARL_DEFAULTS } from './algos/amarl.ts';
import { Maddpg, MADDPG_DEFAULTS } from './algos/maddpg.ts';
import { ActorCritic, AC_DEFAULTS } from './algos/ac.ts';
import { Dqn, DQN_DEFAULTS } from './algos/dqn.ts';
import { InputError } from '../core/errors.ts';

const DEFAULTS: Record<Algorithm, object> = { amarl: AMARL_DEFAULTS, maddpg: MADDPG_DEFAULTS, ac: AC_DEFAULTS, dqn: DQN_DEFAULTS };

/** Refuse settings the algorithm does not have, or of the wrong type: a typo must not train silently. */
function checkConfig(algo: Algorithm, config: Record<string, unknown>): void {
  const defaults = DEFAULTS[algo] as Record<string, unknown>;
  for (const [key, value] of Object.entries(config)) {
    if (!(key in defaults)) throw new InputError(`${algo} has no setting "${key}"; known: ${Object.keys(defaults).join(', ')}`);
    if (typeof value !== typeof defaults[key]) throw new InputError(`${algo} setting "${key}" must be a ${typeof defaults[key]}, got ${JSON.stringify(value)}`);
  }
}

export type { Preset } from './presets.ts';
import type { Preset } from './presets.ts';

export interface PresetSettings {
  readonly episodes: number;
  readonly checkpointEvery: number;
  readonly config: Record<string, unknown>;
}

export function presetFor(algo: Algorithm, preset: Preset): PresetSettings {
  switch (preset) {
    case 'smoke':
      return {
        episodes: 6,
        checkpointEvery: 3,
        config: algo === 'ac' ? {} : { batchSize: 32, updatesPerRound: 2, ...(algo === 'amarl' ? { warmupEpisodes: 1 } : {}), ...(algo === 'dqn' ? { epsilonEpisodes: 4 } : {}) },
      };
    case 'quick':
      return { episodes: 300, checkpointEvery: 50, config: algo === 'dqn' ? { epsilonEpisodes: 200 } : {} };
    case 'paper':
      return { episodes: 5000, checkpointEvery: 100, config: algo === 'dqn' ? { epsilonEpisodes: 2500 } : {} };
  }
}

export function createLearner(algo: Algorithm, I: number, D: number, A: number, seed: number, config: Record<string, unknown>): Learner {
  checkConfig(algo, config);
  switch (algo) {
    case 'amarl':
      return new Amarl(I, D, A, seed, config);
    case 'maddpg':
      return new Maddpg(I, D, A, seed, config);
    case 'ac':
      return new ActorCritic(I, D, A, seed, config);
    case 'dqn':
      return new Dqn(I, D, A, seed, config);
  }
}
