/**
 * Simulator throughput: IED-slots per second with the random policy, through the env's vector path
 * (world.step + encoding every observation), as a trainer would drive it.
 * Issue #2's goals: ≥ 2 M IED-slots/s at 50 × 5; time per IED-slot at 1,000 × 20 ≤ 6× that at 50 × 5.
 */
import { loadScenario } from '../core/scenario/load.ts';
import { Rng } from '../core/rng.ts';
import { GmelParallelEnv } from '../sim/env.ts';

export interface SimBenchCase {
  ieds: number;
  edgeServers: number;
  iedSlots: number;
  seconds: number;
  iedSlotsPerSecond: number;
  nanosecondsPerIedSlot: number;
  completionRate: number;
}

function measure(ieds: number, edgeServers: number, minSeconds: number): SimBenchCase {
  const scenario = loadScenario('gmel2024', { ieds, edgeServers });
  const env = new GmelParallelEnv(scenario);
  const rng = new Rng(7);
  const actions = new Int32Array(ieds);
  const M1 = edgeServers + 1;
  let episode = 0;
  const runEpisode = () => {
    env.resetVector(episode++);
    let slots = 0;
    for (;;) {
      for (let i = 0; i < ieds; i++) actions[i] = rng.int(M1);
      slots++;
      if (env.stepVector(actions).done) return slots;
    }
  };
  // warm-up: let the JIT settle and the task pool reach its working size
  const warmUntil = performance.now() + 1000;
  while (performance.now() < warmUntil) runEpisode();
  let iedSlots = 0;
  let completed = 0;
  let arrived = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minSeconds * 1000) {
    iedSlots += runEpisode() * ieds;
    const s = env.metrics.summary();
    completed += s.completed;
    arrived += s.arrived;
    elapsed = performance.now() - start;
  }
  const seconds = elapsed / 1000;
  return {
    ieds,
    edgeServers,
    iedSlots,
    seconds,
    iedSlotsPerSecond: iedSlots / seconds,
    nanosecondsPerIedSlot: (seconds * 1e9) / iedSlots,
    completionRate: completed / arrived,
  };
}

export function benchSimulator(minSeconds = 5): Record<string, unknown> {
  const small = measure(50, 5, minSeconds);
  const large = measure(1000, 20, minSeconds);
  const ratio = large.nanosecondsPerIedSlot / small.nanosecondsPerIedSlot;
  return {
    name: 'simulator',
    policy: 'random',
    path: 'GmelParallelEnv.stepVector (world.step + all observations encoded)',
    cases: [small, large],
    goals: {
      iedSlotsPerSecondAt50x5: { goal: 2e6, measured: small.iedSlotsPerSecond, met: small.iedSlotsPerSecond >= 2e6 },
      perIedSlotCostRatio1000x20vs50x5: { goal: 6, measured: ratio, met: ratio <= 6 },
    },
  };
}
