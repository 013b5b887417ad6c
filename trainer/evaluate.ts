/**
 * Evaluation on held-out seeds: learned actors (from a run folder's exported actors) and heuristics,
 * one simulator episode per seed, mean and 95% confidence interval across seeds.
 *
 * | item            | rule                                                                          |
 * |-----------------|-------------------------------------------------------------------------------|
 * | seeds           | deriveSeed(EVAL_STREAM, k): a stream no training run uses (training episodes   |
 * |                 | use deriveSeed(runSeed, episode))                                              |
 * | learned actors  | greedy (argmax of the actor's logits), observation from core/observation.ts   |
 * | more IEDs than  | IED i uses actor i mod n (sweeps over I reuse the default-trained actors)     |
 * | actors          |                                                                               |
 * | CI              | Student t on the per-seed means (n − 1 degrees of freedom)                    |
 */
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { deriveSeed, Rng } from '../core/rng.ts';
import { InputError } from '../core/errors.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { OBS_ENCODER_VERSION, modelScales, type ObservationScales } from '../core/observation.ts';
import { emptyDropCounts, type DropCounts } from '../core/stages.ts';
import { World } from '../sim/world.ts';
import { runEpisode, type Policy } from '../sim/episodes.ts';
import { readActor, type LoadedActor } from './actor-file.ts';
import { ActorRunner, actorShape } from './actor-net.ts';

export const EVAL_STREAM = 0x0e7a15ee;
/** a third stream, for choosing between variants (e.g. policy-gradient estimators) without touching test seeds */
export const VALIDATION_STREAM = 0x0a11da7e;

export function evaluationSeeds(count: number): number[] {
  return Array.from({ length: count }, (_, k) => deriveSeed(EVAL_STREAM, k));
}

export function validationSeeds(count: number): number[] {
  return Array.from({ length: count }, (_, k) => deriveSeed(VALIDATION_STREAM, k));
}

export interface PolicySpec {
  readonly name: string;
  /** a fresh policy for one episode; its random draws come from rng */
  make(rng: Rng): Policy;
  /** a learned policy: the observation scales it encodes with (its training plant's, whatever plant it runs in) */
  readonly obsScales?: ObservationScales;
}

export interface Estimate {
  readonly mean: number;
  /** half-width of the 95% confidence interval */
  readonly ci95: number;
}

export interface EvaluationResult {
  readonly policy: string;
  readonly seeds: number;
  readonly completionRate: number;
  readonly completion: Estimate;
  readonly meanLatency: Estimate;
  readonly meanLatencyDropsAtDeadline: Estimate;
  readonly rewardPerTask: Estimate;
  readonly dropped: DropCounts;
}

// two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function estimate(values: readonly number[]): Estimate {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (n < 2) return { mean, ci95: Number.NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const t = T975[n - 2] ?? 1.96;
  return { mean, ci95: (t * Math.sqrt(variance)) / Math.sqrt(n) };
}

export async function evaluatePolicy(scenario: Scenario, spec: PolicySpec, seeds: readonly number[]): Promise<EvaluationResult> {
  const world = new World(scenario);
  const actions = new Int32Array(scenario.ieds);
  const completion: number[] = [];
  const latency: number[] = [];
  const latencyDrops: number[] = [];
  const reward: number[] = [];
  const dropped = emptyDropCounts();
  for (const [k, seed] of seeds.entries()) {
    const { reward: rewardSum } = runEpisode(world, spec.make(new Rng(deriveSeed(seed, 7 + k))), seed, actions);
    const s = world.metrics.summary();
    completion.push(s.completionRate);
    latency.push(s.meanLatency);
    latencyDrops.push(s.meanLatencyDropsAtDeadline);
    reward.push(s.arrived > 0 ? rewardSum / s.arrived : 0);
    for (const key of Object.keys(dropped) as (keyof typeof dropped)[]) dropped[key] += s.dropped[key];
  }
  const c = estimate(completion);
  return {
    policy: spec.name,
    seeds: seeds.length,
    completionRate: c.mean,
    completion: c,
    meanLatency: estimate(latency),
    meanLatencyDropsAtDeadline: estimate(latencyDrops),
    rewardPerTask: estimate(reward),
    dropped,
  };
}

/** The actors a training run exported, as a greedy decentralized policy. */
export async function loadRunPolicy(runDir: string, name?: string): Promise<PolicySpec> {
  const actorsDir = join(runDir, 'actors');
  if (!existsSync(actorsDir)) throw new InputError(`${runDir}: no actors/ folder (has the run finished a checkpoint?)`);
  const folders = readdirSync(actorsDir).filter((f) => /^ied-\d+$/.test(f)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const actors: LoadedActor[] = folders.map((f) => readActor(join(actorsDir, f)));
  if (actors.length === 0) throw new InputError(`${runDir}: no exported actors`);
  for (const a of actors)
    if (a.metadata.obsEncoderVersion !== OBS_ENCODER_VERSION)
      throw new InputError(`${runDir}: actor of IED ${a.metadata.ied} expects observations ${a.metadata.obsEncoderVersion}, this build encodes ${OBS_ENCODER_VERSION}`);
  const algo = actors[0]?.metadata.algo ?? 'learned';
  const shape = actorShape((actors[0] as LoadedActor).net);
  // the scales the actors were trained with: the same physical task gives the same inputs at every sweep point
  const scales = modelScales(actors[0]?.metadata.obsScales, shape.actions - 1, `${runDir}: actor of IED 0`);
  return {
    name: name ?? algo,
    obsScales: scales,
    make: () => {
      // one runner (scratch buffers) per actor; recurrent state per IED, zero at the episode's start
      const runners = actors.map((a) => new ActorRunner(a.net));
      let obs = new Float32Array(0);
      let hidden: Float32Array[] = [];
      return {
        name: name ?? algo,
        act: (world, out) => {
          const D = world.obsSize;
          if (shape.inputs !== D) throw new InputError(`${runDir}: actors take ${shape.inputs} inputs, this scenario's observation has ${D}`);
          if (shape.actions !== world.M + 1) throw new InputError(`${runDir}: actors choose among ${shape.actions} actions, this scenario has ${world.M + 1}`);
          if (obs.length !== world.I * D) obs = new Float32Array(world.I * D);
          if (hidden.length !== world.I) hidden = Array.from({ length: world.I }, () => new Float32Array(shape.hiddenSize));
          world.observeAll(obs, scales);
          for (let i = 0; i < world.I; i++) {
            if (world.currentTask[i] === -1) continue;
            const logits = (runners[i % runners.length] as ActorRunner).logits(obs, i * D, hidden[i]);
            let best = 0;
            for (let a = 1; a <= world.M; a++) if ((logits[a] as number) > (logits[best] as number)) best = a;
            out[i] = best;
          }
        },
      };
    },
  };
}
