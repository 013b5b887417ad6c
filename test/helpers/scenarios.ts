/** Small hand-checkable scenarios for tests: one edge server, no random arrivals, no fading. */
import { validateScenario, applyOverrides, loadScenario } from '../../core/scenario/load.ts';
import type { Scenario } from '../../core/scenario/schema.ts';

export function tinyScenario(overrides: Record<string, unknown> = {}): Scenario {
  const base = JSON.parse(JSON.stringify(loadScenario('gmel2024'))) as Record<string, unknown>;
  const tiny = applyOverrides(base, {
    name: 'tiny',
    ieds: 1,
    edgeServers: 1,
    episodeSlots: 20,
    'arrivals.probability': 0,
    'task.deadlineSeconds': { min: 0.1, max: 5 },
    'ied.gpuGHz': 1,
    'edge.gpuGHz': 1,
    'edge.bandwidthMHz': 1,
    'radio.model': 'fixed',
    'radio.fixedRateMbps': 1e6,
    'radio.fading': 'none',
    'reward.completionConstant': 5,
    'reward.dropLatencySeconds': 10,
    ...overrides,
  });
  return validateScenario(tiny, 'tiny');
}
