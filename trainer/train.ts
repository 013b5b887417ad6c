/**
 * The shared training loop: every algorithm runs the same episodes on the same seeds, writes the same
 * run folder, checkpoints and resumes the same way.
 *
 * | run folder file      | content                                                               |
 * |----------------------|-----------------------------------------------------------------------|
 * | config.json          | algo, preset, seed, backend, full scenario + hash, learner config,    |
 * |                      | obs-encoder version, command, commit                                  |
 * | metrics.jsonl        | one line per episode (reward, completion, latency, losses, timings)   |
 * | checkpoint/          | see checkpoint.ts; `--resume` continues from it                       |
 * | actors/ied-<i>/      | each IED's actor, TensorFlow.js layers format (model.json + weights)  |
 *
 * Episode k runs the simulator on seed deriveSeed(seed, k): the same for every algorithm, and never
 * one of the evaluation seeds (those derive from a different stream, see evaluate.ts).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { execSync } from 'node:child_process';
import { deriveSeed } from '../core/rng.ts';
import { actionNames as actionNamesOf } from '../core/actions.ts';
import { InputError } from '../core/errors.ts';
import { canonicalScenarioJson } from '../core/scenario/load.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { OBS_ENCODER_VERSION, modelScales, observationScales, type ObservationScales } from '../core/observation.ts';
import { GmelParallelEnv } from '../sim/env.ts';
import { selectBackend, type BackendChoice, type BackendInfo } from './backend.ts';
import { collectEpisode } from './collect.ts';
import { writeCheckpoint, readCheckpoint, hasCheckpoint } from './checkpoint.ts';
import { saveActor } from './export-tfjs.ts';
import { actorShape } from './actor-net.ts';
import { createLearner, presetFor, type Preset } from './algorithms.ts';
import type { Algorithm, Learner } from './learner.ts';

export interface TrainOptions {
  readonly algo: Algorithm;
  readonly scenario: Scenario;
  readonly preset: Preset;
  readonly seed: number;
  readonly outDir: string;
  readonly resume?: boolean;
  readonly backend?: BackendChoice;
  /** override the preset's episode count */
  readonly episodes?: number;
  /** episodes between checkpoints (default: preset's) */
  readonly checkpointEvery?: number;
  /** called after every episode (progress bars, logs) */
  readonly onEpisode?: (line: EpisodeLine, total: number) => void;
  readonly command?: string;
  /** learner config overrides */
  readonly config?: Record<string, unknown>;
  /** warm start (fine-tuning): begin from this run's latest checkpoint — networks and optimizer, not its replay */
  readonly initFrom?: string;
}

export interface EpisodeLine {
  readonly episode: number;
  readonly totalReward: number;
  /** mean eq. (4) reward per task */
  readonly rewardPerTask: number;
  readonly completionRate: number;
  readonly meanLatency: number;
  readonly criticLoss: number | null;
  readonly actorLoss: number | null;
  readonly gradientSteps: number;
  readonly envSteps: number;
  readonly collectMs: number;
  readonly updateMs: number;
}

export interface TrainResult {
  readonly runDir: string;
  readonly backend: BackendInfo;
  readonly episodes: number;
  readonly lastLines: readonly EpisodeLine[];
}

function gitCommit(): string {
  try {
    return execSync('git rev-parse HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/** The sizes the learner's networks are built for: IEDs, observation length, actions (local + one per edge server). */
interface RunShape {
  readonly I: number;
  readonly D: number;
  readonly A: number;
}

/** What config.json records about this run beyond the options: the schedule and the backend it ran on. */
interface RunSchedule {
  readonly episodes: number;
  readonly checkpointEvery: number;
  readonly backend: BackendInfo;
  readonly obsScales: ObservationScales;
}

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const backend = await selectBackend(opts.backend ?? 'auto');
  const preset = presetFor(opts.algo, opts.preset);
  const episodes = opts.episodes ?? preset.episodes;
  const checkpointEvery = opts.checkpointEvery ?? preset.checkpointEvery;
  const obsScales = runScales(opts);
  const env = new GmelParallelEnv(opts.scenario, { obsScales });
  const shape: RunShape = { I: env.world.I, D: env.world.obsSize, A: env.world.M + 1 };
  const runDir = opts.outDir;
  const learner = createRunLearner(opts, shape, preset.config);
  mkdirSync(runDir, { recursive: true });
  const metricsPath = join(runDir, 'metrics.jsonl');
  try {
    const start = await prepareStart(opts, learner, shape, metricsPath);
    writeRunConfig(opts, { episodes, checkpointEvery, backend, obsScales }, learner, shape);
    const lastLines: EpisodeLine[] = [];
    for (let episode = start; episode < episodes; episode++) {
      const line = runEpisode(opts, env, learner, episode);
      appendFileSync(metricsPath, JSON.stringify(line) + '\n');
      lastLines.push(line);
      if (lastLines.length > 20) lastLines.shift();
      opts.onEpisode?.(line, episodes);
      const isLast = episode + 1 === episodes;
      if ((episode + 1) % checkpointEvery === 0 || isLast) await saveCheckpoint(learner, runDir, opts.algo, episode + 1, obsScales);
    }
    // resumed at the end (a run stopped between its last checkpoint and its actors' export): export again
    if (start >= episodes) await exportActors(learner, runDir, opts.algo, start, obsScales);
    return { runDir, backend, episodes, lastLines };
  } finally {
    learner.dispose();
  }
}

/**
 * The observation scales of this run, fixed for its life (core/observation.ts, gmel-obs/2): a resumed
 * run keeps its own, a fine-tune its parent's (its actors were trained on those inputs), a new run
 * takes its plant's. A run config without them (gmel-obs/1) implied its own scenario's.
 */
function runScales(opts: TrainOptions): ObservationScales {
  const from = opts.resume ? opts.outDir : opts.initFrom;
  const path = from ? join(from, 'config.json') : undefined;
  if (!path || !existsSync(path)) return observationScales(opts.scenario);
  const saved = JSON.parse(readFileSync(path, 'utf8')) as { obsScales?: ObservationScales; scenario?: Scenario };
  return modelScales(saved.obsScales ?? observationScales(saved.scenario ?? opts.scenario), opts.scenario.edgeServers, from as string);
}

/** The learner, built with the settings this run must keep so that its networks fit the checkpoint it loads. */
function createRunLearner(opts: TrainOptions, shape: RunShape, presetConfig: Record<string, unknown>): Learner {
  // a resumed run keeps its own learner settings; a fine-tune keeps the incumbent's (network shapes,
  // e.g. actor = "gru", must match its checkpoint); explicit overrides apply on top of either
  const inheritFrom = opts.resume ? opts.outDir : opts.initFrom;
  const base = (inheritFrom && savedLearnerConfig(inheritFrom, opts.algo)) ?? presetConfig;
  return createLearner(opts.algo, shape.I, shape.D, shape.A, opts.seed, { ...base, ...(opts.config ?? {}) });
}

/** The first episode to run: after a resumed run's checkpoint, else 0 with a fresh metrics file (warm-started if asked). */
async function prepareStart(opts: TrainOptions, learner: Learner, shape: RunShape, metricsPath: string): Promise<number> {
  if (opts.resume) return resumeRun(opts, learner, metricsPath);
  writeFileSync(metricsPath, '');
  if (opts.initFrom) await warmStart(opts, learner, shape, opts.initFrom);
  return 0;
}

/** Continues a run only from a checkpoint of the same algo, seed and scenario, so its episodes stay comparable. */
async function resumeRun(opts: TrainOptions, learner: Learner, metricsPath: string): Promise<number> {
  const runDir = opts.outDir;
  if (!hasCheckpoint(runDir)) throw new InputError(`--resume: no checkpoint in ${runDir}`);
  const saved = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as { algo: string; seed: number; scenarioHash: string };
  const hash = scenarioHash(opts.scenario);
  if (saved.algo !== opts.algo || saved.seed !== opts.seed || saved.scenarioHash !== hash)
    throw new InputError(`--resume: ${runDir} was made by algo ${saved.algo}, seed ${saved.seed}, scenario ${saved.scenarioHash.slice(0, 12)}; asked for ${opts.algo}, ${opts.seed}, ${hash.slice(0, 12)}`);
  const cp = readCheckpoint(runDir);
  await learner.loadState(cp.state);
  learner.replay.restore(cp.replay);
  const start = cp.meta.episode;
  // metrics after the checkpoint belong to a run that did not reach the next one: drop them
  const kept = existsSync(metricsPath) ? readFileSync(metricsPath, 'utf8').split('\n').filter(Boolean).slice(0, start) : [];
  writeFileSync(metricsPath, kept.map((l) => l + '\n').join(''));
  return start;
}

/** Fine-tuning loads another run's networks and optimizer (not its replay), so that run must match this one's shape. */
async function warmStart(opts: TrainOptions, learner: Learner, shape: RunShape, initFrom: string): Promise<void> {
  const { I, D, A } = shape;
  if (!hasCheckpoint(initFrom)) throw new InputError(`--init-from: no checkpoint in ${initFrom}`);
  const from = JSON.parse(readFileSync(join(initFrom, 'config.json'), 'utf8')) as { algo: string; agents: number; obsSize: number; actions: number };
  if (from.algo !== opts.algo || from.agents !== I || from.obsSize !== D || from.actions !== A)
    throw new InputError(`--init-from: ${initFrom} is ${from.algo} for ${from.agents} IEDs × ${from.actions} actions; this run is ${opts.algo} for ${I} × ${A}`);
  await learner.loadState(readCheckpoint(initFrom).state);
}

/** config.json: what a resume checks against, a fine-tune inherits from, and a reader needs to reproduce the run. */
function writeRunConfig(opts: TrainOptions, schedule: RunSchedule, learner: Learner, shape: RunShape): void {
  const { episodes, checkpointEvery, backend, obsScales } = schedule;
  writeFileSync(
    join(opts.outDir, 'config.json'),
    JSON.stringify({
      algo: opts.algo, preset: opts.preset, seed: opts.seed, episodes, checkpointEvery,
      backend, obsEncoderVersion: OBS_ENCODER_VERSION, obsScales, initFrom: opts.initFrom ?? null, scenario: opts.scenario, scenarioHash: scenarioHash(opts.scenario),
      learner: learner.config, command: opts.command ?? null, commit: gitCommit(), agents: shape.I, obsSize: shape.D, actions: shape.A,
    }, null, 2) + '\n',
  );
}

/** One training episode on its own derived seed — collect, then update — and the metrics line that reports it. */
function runEpisode(opts: TrainOptions, env: GmelParallelEnv, learner: Learner, episode: number): EpisodeLine {
  const t0 = performance.now();
  const collected = collectEpisode(env, deriveSeed(opts.seed, episode), (o, has, a, h) => learner.act(o, has, a, true, h), learner.hiddenSize);
  learner.observe(collected.record);
  const t1 = performance.now();
  const stats = learner.update();
  const t2 = performance.now();
  const s = collected.summary;
  return {
    episode,
    totalReward: collected.totalReward,
    rewardPerTask: s.arrived > 0 ? collected.totalReward / s.arrived : 0,
    completionRate: s.completionRate,
    meanLatency: s.meanLatency,
    criticLoss: stats?.criticLoss ?? null,
    actorLoss: stats?.actorLoss ?? null,
    gradientSteps: stats?.steps ?? 0,
    envSteps: opts.scenario.episodeSlots,
    collectMs: t1 - t0,
    updateMs: t2 - t1,
  };
}

/** A checkpoint to resume from, and the per-IED actors exported as they stand at that episode. */
async function saveCheckpoint(learner: Learner, runDir: string, algo: Algorithm, episode: number, obsScales: ObservationScales): Promise<void> {
  writeCheckpoint(runDir, episode, await learner.saveState(), learner.replay.snapshot(), { obsScales });
  await exportActors(learner, runDir, algo, episode, obsScales);
}

/** The learner settings a run was made with, if it is a run of `algo` (else the caller's checks report the mismatch). */
function savedLearnerConfig(runDir: string, algo: Algorithm): Record<string, unknown> | undefined {
  const path = join(runDir, 'config.json');
  if (!existsSync(path)) return undefined;
  const saved = JSON.parse(readFileSync(path, 'utf8')) as { algo?: string; learner?: Record<string, unknown> };
  return saved.algo === algo ? saved.learner : undefined;
}

export function scenarioHash(s: Scenario): string {
  return createHash('sha256').update(canonicalScenarioJson(s)).digest('hex');
}

async function exportActors(learner: Learner, runDir: string, algo: string, episode: number, obsScales: ObservationScales): Promise<void> {
  const A = actorShape(learner.actorNet(0)).actions;
  const actionNames = actionNamesOf(A - 1);
  const count = (learner.replay as { agents: number }).agents;
  for (let i = 0; i < count; i++) {
    await saveActor(join(runDir, 'actors', `ied-${i}`), learner.actorNet(i), {
      obsEncoderVersion: OBS_ENCODER_VERSION, ied: i, algo, actionNames, runName: runDir.split('/').filter(Boolean).at(-1) ?? runDir, episode, obsScales,
    });
  }
}
