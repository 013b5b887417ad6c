/**
 * Running policies on the simulator: episodes on derived seeds, metrics summed over them.
 * Episode k of a run with seed s uses deriveSeed(s, k) for the world, and the policy's own
 * generator is seeded from deriveSeed(s, 1_000_000 + k) so policies never share a stream with it.
 */
import { deriveSeed, Rng } from '../core/rng.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { World } from './world.ts';
import { Metrics, type MetricsSummary } from './metrics.ts';
import type { Policy } from './policies/heuristics.ts';

export interface RolloutResult {
  readonly episodes: number;
  readonly slots: number;
  readonly summary: MetricsSummary;
  readonly metrics: Metrics;
  readonly perEpisode: readonly MetricsSummary[];
}

export function runEpisodes(
  scenario: Scenario,
  makePolicy: (rng: Rng) => Policy,
  episodes: number,
  seed: number,
): RolloutResult {
  const world = new World(scenario);
  const total = new Metrics(scenario.ieds);
  const actions = new Int32Array(scenario.ieds);
  const perEpisode: MetricsSummary[] = [];
  let slots = 0;
  for (let k = 0; k < episodes; k++) {
    const policy = makePolicy(new Rng(deriveSeed(seed, 1_000_000 + k)));
    world.reset(deriveSeed(seed, k));
    for (;;) {
      policy.act(world, actions);
      slots++;
      if (world.step(actions)) break;
    }
    perEpisode.push(world.metrics.summary());
    total.add(world.metrics);
  }
  return { episodes, slots, summary: total.summary(), metrics: total, perEpisode };
}
