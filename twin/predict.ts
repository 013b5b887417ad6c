/**
 * Running an ONNX model set (the very files the gateways load) in the simulator, through the same
 * sessions and the same observation encoder as runtime-ied: the simulator's side of the live-vs-sim
 * agreement check, and `gmel sim --model`.
 */
import { deriveSeed } from '../core/rng.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { encodeObservation } from '../core/observation.ts';
import { World } from '../sim/world.ts';
import { Metrics, type MetricsSummary } from '../sim/metrics.ts';
import { runEpisodeAsync } from '../sim/episodes.ts';
import { loadModelHandle, releaseModel } from '../runtime-ied/model-loader.ts';
import type { Engine } from '../runtime-ied/policy.ts';

/** `iedIds`: report the totals of these IEDs only (default all); the whole plant is simulated either way. */
export async function runModelInSim(scenario: Scenario, modelPath: string, episodes: number, seed: number, engine: Engine = 'node', iedIds?: readonly number[]): Promise<{ summary: MetricsSummary; version: string }> {
  const ieds = Array.from({ length: scenario.ieds }, (_, i) => i);
  const model = await loadModelHandle(modelPath, scenario, ieds, engine);
  const world = new World(scenario);
  const total = new Metrics(scenario.ieds);
  const obs = new Float32Array(world.obsSize);
  const actions = new Int32Array(scenario.ieds);
  // the gateway's decision, step for step: encode (core/observation.ts), infer, carry h per episode
  let hidden = new Map<number, Float32Array>();
  const policy = {
    act: async (w: World, actions: Int32Array) => {
      for (let i = 0; i < w.I; i++) {
        if (w.currentTask[i] === -1) continue;
        const session = model.sessions.get(i);
        if (!session) {
          actions[i] = 0;
          continue;
        }
        encodeObservation(obs, 0, w.observationFields(i), model.scales); // the model's scales, not the plant's
        const d = await session.decide(obs, hidden.get(i) ?? new Float32Array(session.hiddenSize));
        hidden.set(i, d.hidden);
        actions[i] = d.action;
      }
    },
  };
  try {
    for (let k = 0; k < episodes; k++) {
      hidden = new Map(); // recurrent actors start each episode from h = 0
      await runEpisodeAsync(world, policy, deriveSeed(seed, k), actions);
      total.add(world.metrics);
    }
  } finally {
    await releaseModel(model);
  }
  return { summary: total.summary(iedIds), version: model.version };
}

