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
 * | CI, one run     | Student t on the per-seed means (n − 1 degrees of freedom)                    |
 * | CI, several     | runs of one algorithm (training seeds) on the same seeds: the cluster          |
 * | runs            | bootstrap of protocol-stats.ts, over training seeds × test seeds               |
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
import { policyStats, type ScoreMatrix } from './protocol-stats.ts';

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
  /** half-width of the 95% confidence interval (half of hi − lo where the interval is a bootstrap's) */
  readonly ci95: number;
  /** the 95% interval's ends */
  readonly lo: number;
  readonly hi: number;
}

/** the per-episode figures an estimate is made of: one row per run, one column per seed */
export interface SeedScores {
  readonly completion: ScoreMatrix;
  readonly meanLatency: ScoreMatrix;
  readonly meanLatencyDropsAtDeadline: ScoreMatrix;
  readonly rewardPerTask: ScoreMatrix;
}

export interface EvaluationResult {
  readonly policy: string;
  /** training runs behind the figures (1 for a heuristic or a single run) */
  readonly runs: number;
  readonly seeds: number;
  readonly completionRate: number;
  readonly completion: Estimate;
  readonly meanLatency: Estimate;
  readonly meanLatencyDropsAtDeadline: Estimate;
  readonly rewardPerTask: Estimate;
  /** tasks dropped, per run (the mean over runs where there are several) */
  readonly dropped: DropCounts;
  readonly scores: SeedScores;
}

// two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function estimate(values: readonly number[]): Estimate {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (n < 2) return { mean, ci95: Number.NaN, lo: Number.NaN, hi: Number.NaN };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const t = T975[n - 2] ?? 1.96;
  const ci95 = (t * Math.sqrt(variance)) / Math.sqrt(n);
  return { mean, ci95, lo: mean - ci95, hi: mean + ci95 };
}

/** bootstrap seed of combineRuns: the same runs give the same intervals */
const COMBINE_STREAM = 0x0c0b1e55;

function bootstrapEstimate(scores: ScoreMatrix): Estimate {
  const { mean } = policyStats(scores, new Rng(COMBINE_STREAM));
  return { mean: mean.point, ci95: (mean.hi - mean.lo) / 2, lo: mean.lo, hi: mean.hi };
}

/** Several runs of one algorithm (training seeds), each evaluated on the same seeds, as one result. */
export function combineRuns(policy: string, results: readonly EvaluationResult[]): EvaluationResult {
  const first = results[0];
  if (!first) throw new InputError(`${policy}: no runs to combine`);
  if (results.length === 1) return { ...first, policy };
  if (results.some((r) => r.seeds !== first.seeds)) throw new InputError(`${policy}: runs evaluated on different numbers of seeds`);
  const rows = (key: keyof SeedScores) => results.flatMap((r) => r.scores[key]);
  const scores: SeedScores = { completion: rows('completion'), meanLatency: rows('meanLatency'), meanLatencyDropsAtDeadline: rows('meanLatencyDropsAtDeadline'), rewardPerTask: rows('rewardPerTask') };
  const completion = bootstrapEstimate(scores.completion);
  const dropped = emptyDropCounts();
  for (const key of Object.keys(dropped) as (keyof DropCounts)[]) dropped[key] = results.reduce((a, r) => a + r.dropped[key], 0) / results.length;
  return {
    policy,
    runs: scores.completion.length,
    seeds: first.seeds,
    completionRate: completion.mean,
    completion,
    meanLatency: bootstrapEstimate(scores.meanLatency),
    meanLatencyDropsAtDeadline: bootstrapEstimate(scores.meanLatencyDropsAtDeadline),
    rewardPerTask: bootstrapEstimate(scores.rewardPerTask),
    dropped,
    scores,
  };
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
    runs: 1,
    seeds: seeds.length,
    completionRate: c.mean,
    completion: c,
    meanLatency: estimate(latency),
    meanLatencyDropsAtDeadline: estimate(latencyDrops),
    rewardPerTask: estimate(reward),
    dropped,
    scores: { completion: [completion], meanLatency: [latency], meanLatencyDropsAtDeadline: [latencyDrops], rewardPerTask: [reward] },
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
