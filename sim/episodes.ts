/**
 * The one episode runner: a policy acting on a world, slot by slot, until the episode (with its
 * drain) is over. `gmel sim`, evaluation (trainer/evaluate.ts) and the twin's prediction with the
 * gateways' own ONNX sessions (twin/predict.ts) all run episodes here; training collects through
 * the ParallelEnv adapter (env.ts, trainer/collect.ts), which records what a learner needs.
 *
 * | item            | rule                                                                          |
 * |-----------------|-------------------------------------------------------------------------------|
 * | runEpisodes     | episode k of a run with seed s uses deriveSeed(s, k) for the world; the       |
 * |                 | policy's own generator deriveSeed(s, 1_000_000 + k): never the world's stream |
 * | reward          | Σ of eq. (4) credits over the episode (delayed credit, credits.ts)           |
 */
import { deriveSeed, Rng } from '../core/rng.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { World } from './world.ts';
import { Metrics, type MetricsSummary } from './metrics.ts';

/** Decides for the world's current slot: actions[i] for every IED with a task (others are ignored). */
export interface Policy {
  readonly name: string;
  act(world: World, actions: Int32Array): void;
}

/** A policy whose decisions wait on something (an inference session). */
export interface AsyncPolicy {
  act(world: World, actions: Int32Array): void | Promise<void>;
}

export interface EpisodeResult {
  /** decision slots stepped (the drain after the last one is not counted) */
  readonly slots: number;
  /** Σ of eq. (4) rewards credited during the episode */
  readonly reward: number;
}

/** One episode of `policy` on `world` from `worldSeed`; the world's metrics hold its outcomes after. */
export function runEpisode(world: World, policy: Policy, worldSeed: number, actions = new Int32Array(world.I)): EpisodeResult {
  world.reset(worldSeed);
  let slots = 0;
  let reward = 0;
  for (let done = false; !done; slots++) {
    policy.act(world, actions);
    done = world.step(actions);
    const credits = world.credits;
    for (let c = 0; c < credits.count; c++) reward += credits.reward[c] as number;
  }
  return { slots, reward };
}

/** runEpisode for a policy that awaits its decisions. */
export async function runEpisodeAsync(world: World, policy: AsyncPolicy, worldSeed: number, actions = new Int32Array(world.I)): Promise<EpisodeResult> {
  world.reset(worldSeed);
  let slots = 0;
  let reward = 0;
  for (let done = false; !done; slots++) {
    await policy.act(world, actions);
    done = world.step(actions);
    const credits = world.credits;
    for (let c = 0; c < credits.count; c++) reward += credits.reward[c] as number;
  }
  return { slots, reward };
}

export interface EpisodesResult {
  readonly episodes: number;
  readonly slots: number;
  readonly summary: MetricsSummary;
  readonly metrics: Metrics;
  readonly perEpisode: readonly MetricsSummary[];
}

/** `episodes` episodes on derived seeds, metrics summed over them (`gmel sim`). */
export function runEpisodes(scenario: Scenario, makePolicy: (rng: Rng) => Policy, episodes: number, seed: number): EpisodesResult {
  const world = new World(scenario);
  const total = new Metrics(scenario.ieds);
  const actions = new Int32Array(scenario.ieds);
  const perEpisode: MetricsSummary[] = [];
  let slots = 0;
  for (let k = 0; k < episodes; k++) {
    const policy = makePolicy(new Rng(deriveSeed(seed, 1_000_000 + k)));
    slots += runEpisode(world, policy, deriveSeed(seed, k), actions).slots;
    perEpisode.push(world.metrics.summary());
    total.add(world.metrics);
  }
  return { episodes, slots, summary: total.summary(), metrics: total, perEpisode };
}
