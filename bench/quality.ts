/**
 * `npm run bench -- quality`: the decision-quality protocol of issue #11 end to end, in three phases:
 *
 * 1. tuning, the same budget for every learner: each algorithm trained once (tuning seed) per point
 *    of one grid, a multiplier on all its learning rates; each run scored on the VALIDATION seeds
 *    (never the test seeds) as its mean completion at the three headline points; the best multiplier
 *    wins (ties: the one nearer 1, then the smaller);
 * 2. training: every algorithm, with its winning setting, on several training seeds;
 * 3. evaluation: all those runs on the same held-out test seeds at the headline points (default,
 *    p = 0.7, d_max = 1.0 s): each policy's mean and IQM over training seeds × test seeds, AMARL's
 *    paired differences and the probability of improvement (trainer/eval-protocol.ts).
 *
 * With BENCH_QUALITY_PER_POINT=1, also the other reading of the paper's Figs. 4 and 5 (the paper does
 * not say which it did): every algorithm trained again at p = 0.7 and at d_max = 1.0 s (same winners,
 * same training seeds) and evaluated at its own point, next to the default-trained actors.
 *
 * Every run is the real CLI (`gmel train`), a child process each, BENCH_QUALITY_JOBS at a time
 * (training runs one thread: one job per core).
 *
 * | setting                   | default                 |                                              |
 * |---------------------------|-------------------------|----------------------------------------------|
 * | BENCH_QUALITY_SCENARIO    | gmel2024-paper          | the plant trained on and evaluated           |
 * | BENCH_QUALITY_PRESET      | quick                   | smoke for a check in seconds                 |
 * | BENCH_QUALITY_ALGOS       | amarl,maddpg,ac,dqn     |                                              |
 * | BENCH_QUALITY_SEEDS       | 1,2,3                   | training seeds                               |
 * | BENCH_QUALITY_TEST_SEEDS  | 10                      | held-out test seeds (evaluate.ts EVAL_STREAM) |
 * | BENCH_QUALITY_RUNS        | runs/quality            | run folders: <runs>/<scenario>/<algo>-<preset>[-lr<m>]-s<seed> |
 * | BENCH_QUALITY_LR_GRID     | 0.5,1,2                 | learning-rate multipliers tried; one value skips tuning and uses it |
 * | BENCH_QUALITY_TUNE_SEED   | 11                      | the tuning runs' training seed (apart from the seeds above) |
 * | BENCH_QUALITY_EVAL_OUT    | bench/out               | where gmel eval's figures and summary go      |
 * | BENCH_QUALITY_JOBS        | 1                       | training runs at once                         |
 * | BENCH_QUALITY_PER_POINT   | 0                       | 1: also train per headline point (above)      |
 *
 * Resumable: a finished run (its checkpoint and every IED's actor at the preset's last episode) is reused;
 * an unfinished one with a checkpoint is resumed; so the bench can be stopped and started again. Wall
 * time is reported for the runs trained by this invocation (a reused run's is read from its metrics:
 * collect + update time, not wall).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../core/scenario/load.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { presetFor } from '../trainer/algorithms.ts';
import { AMARL_DEFAULTS } from '../trainer/algos/amarl.ts';
import { MADDPG_DEFAULTS } from '../trainer/algos/maddpg.ts';
import { AC_DEFAULTS } from '../trainer/algos/ac.ts';
import { DQN_DEFAULTS } from '../trainer/algos/dqn.ts';
import { hasCheckpoint } from '../trainer/checkpoint.ts';
import { ALGORITHMS, type Algorithm } from '../trainer/learner.ts';
import { PRESETS, type Preset } from '../trainer/presets.ts';
import { evaluateAll, loadGroups, runEvaluation } from '../trainer/eval-report.ts';
import { evaluatePolicy, evaluationSeeds, loadRunPolicy, validationSeeds } from '../trainer/evaluate.ts';
import { protocolAt } from '../trainer/eval-protocol.ts';
import type { EpisodeLine } from '../trainer/train.ts';

/** each learner's learning-rate settings, the ones the grid multiplies (from its defaults and the preset's) */
const LEARNING_RATE_KEYS: Record<Algorithm, readonly string[]> = { amarl: ['actorLr', 'criticLr'], maddpg: ['actorLr', 'criticLr'], ac: ['actorLr', 'criticLr'], dqn: ['lr'] };
const DEFAULTS: Record<Algorithm, object> = { amarl: AMARL_DEFAULTS, maddpg: MADDPG_DEFAULTS, ac: AC_DEFAULTS, dqn: DQN_DEFAULTS };

/** the headline points, as gmel eval sweeps to them (eval-report.ts) */
function headlinePoints(scenario: string): { label: string; slug: string; overrides: Record<string, unknown>; scenario: Scenario }[] {
  const base = loadScenario(scenario);
  const points = [
    { label: 'default', slug: 'default', overrides: {} },
    { label: 'p = 0.7', slug: 'p0.7', overrides: { 'arrivals.probability': 0.7 } },
    { label: 'd_max = 1.0 s', slug: 'dmax1', overrides: { 'task.deadlineSeconds': { min: Math.min(base.task.deadlineSeconds.min, 1), max: 1 } } },
  ];
  return points.map((p) => ({ ...p, scenario: loadScenario(scenario, p.overrides) }));
}

/** a tie goes to the multiplier nearer 1 (log scale), then to the smaller */
export function better(a: { score: number; lrScale: number }, b: { score: number; lrScale: number }): boolean {
  if (a.score !== b.score) return a.score > b.score;
  const da = Math.abs(Math.log(a.lrScale));
  const db = Math.abs(Math.log(b.lrScale));
  return da !== db ? da < db : a.lrScale < b.lrScale;
}

const bin = fileURLToPath(new URL('../bin/gmel.js', import.meta.url));

interface RunRecord {
  readonly algo: Algorithm;
  readonly seed: number;
  /** the learning-rate multiplier it was trained with */
  readonly lrScale: number;
  readonly dir: string;
  /** trained (or resumed) by this invocation, or reused as found */
  readonly trainedNow: boolean;
  /** wall-clock of the child process, for runs trained now */
  readonly wallSeconds: number | null;
  /** collect + update time summed over the run's episodes (metrics.jsonl) */
  readonly episodeSeconds: number;
}

function list(name: string, fallback: string): string[] {
  return (process.env[name] ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
}

function metricsOf(dir: string): EpisodeLine[] {
  const path = join(dir, 'metrics.jsonl');
  if (!existsSync(path)) return [];
  const lines: EpisodeLine[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    try {
      lines.push(JSON.parse(l) as EpisodeLine);
    } catch {
      // a line torn by a stop mid-write: that episode is not finished (a resume runs it again)
    }
  }
  return lines;
}

function jsonAt<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/**
 * A run is finished when its checkpoint and every IED's exported actor stand at the last episode (a
 * stop between the checkpoint and the export leaves older actors: then it is resumed, and
 * `gmel train --resume` at the end exports again).
 */
function finished(dir: string, episodes: number): boolean {
  const agents = jsonAt<{ agents?: number }>(join(dir, 'config.json'))?.agents;
  if (agents === undefined || jsonAt<{ episode?: number }>(join(dir, 'checkpoint', 'state.json'))?.episode !== episodes) return false;
  for (let i = 0; i < agents; i++)
    if (jsonAt<{ userDefinedMetadata?: { episode?: number } }>(join(dir, 'actors', `ied-${i}`, 'model.json'))?.userDefinedMetadata?.episode !== episodes) return false;
  return true;
}

function configArgs(algo: Algorithm, preset: Preset, lrScale: number): string[] {
  if (lrScale === 1) return [];
  const settings = { ...DEFAULTS[algo], ...presetFor(algo, preset).config } as Record<string, unknown>;
  return LEARNING_RATE_KEYS[algo].flatMap((key) => {
    const lr = settings[key];
    if (typeof lr !== 'number') throw new Error(`${algo} has no numeric setting ${key}`);
    return ['--config', `${key}=${lr * lrScale}`];
  });
}

function runDir(runsDir: string, algo: Algorithm, preset: Preset, lrScale: number, seed: number): string {
  return join(runsDir, `${algo}-${preset}${lrScale === 1 ? '' : `-lr${lrScale}`}-s${seed}`);
}

/**
 * Run jobs n at a time, results in job order. By hand: ten lines, where p-limit (in node_modules
 * only as a dependency of a dependency) would be a new direct dependency for one bench.
 */
async function pool<T>(jobs: readonly (() => Promise<T>)[], n: number): Promise<T[]> {
  const out = new Array<T>(jobs.length);
  let next = 0;
  let failed = false;
  // after a failure no new job starts; those running finish (no orphan training into a folder)
  const worker = async () => {
    while (next < jobs.length && !failed) {
      const k = next++;
      try {
        out[k] = await (jobs[k] as () => Promise<T>)();
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(n, jobs.length) }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return out;
}

/** training children alive now: stopped with the bench (Ctrl-C, SIGTERM), never left training into a folder */
const children = new Set<ChildProcess>();
let stopping = false;
let signalsHooked = false;
function stopChildren(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  process.exitCode = signal === 'SIGINT' ? 130 : 143;
  // the children stop at once (a resume continues from their last checkpoint); then this process ends
  setTimeout(() => process.exit(), 100).unref();
}

function trainChild(args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  if (!signalsHooked) for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stopChildren(sig));
  signalsHooked = true;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'train', ...args, '--no-progress'], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.add(child);
    child.on('exit', () => children.delete(child));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e9) : reject(new Error(`gmel train ${args.join(' ')} exited with ${code}`))));
  });
}

type Point = ReturnType<typeof headlinePoints>[number];

/** Runs trained at each point, evaluated there with the heuristics: the protocol's comparisons per point. */
async function trainedPerPoint(points: readonly Point[], algos: readonly Algorithm[], seeds: readonly number[], testSeeds: number, run: (jobs: readonly (() => Promise<RunRecord>)[]) => Promise<RunRecord[]>, ensure: (algo: Algorithm, seed: number, p: Point) => Promise<RunRecord>) {
  const runs = await run(points.flatMap((p) => algos.flatMap((algo) => seeds.map((seed) => () => ensure(algo, seed, p)))));
  const seedsAt = evaluationSeeds(testSeeds);
  const out = [];
  for (const [k, p] of points.entries()) {
    const mine = runs.slice(k * algos.length * seeds.length, (k + 1) * algos.length * seeds.length);
    const results = await evaluateAll(p.scenario, await loadGroups(mine.map((r) => r.dir)), seedsAt);
    out.push({ point: p.label, runs: mine, protocol: protocolAt(`${p.label}, trained there`, 10 + k, results, algos) });
  }
  return out;
}

export async function benchQuality(): Promise<Record<string, unknown>> {
  const scenario = process.env.BENCH_QUALITY_SCENARIO ?? 'gmel2024-paper';
  const preset = (process.env.BENCH_QUALITY_PRESET ?? 'quick') as Preset;
  if (!PRESETS.includes(preset)) throw new Error(`BENCH_QUALITY_PRESET must be one of ${PRESETS.join(', ')}`);
  const algos = list('BENCH_QUALITY_ALGOS', ALGORITHMS.join(','));
  const unknown = algos.filter((a) => !(ALGORITHMS as readonly string[]).includes(a));
  if (unknown.length) throw new Error(`BENCH_QUALITY_ALGOS: unknown ${unknown.join(', ')}; known: ${ALGORITHMS.join(', ')}`);
  const seeds = list('BENCH_QUALITY_SEEDS', '1,2,3').map(Number);
  if (seeds.some((s) => !Number.isInteger(s) || s < 0) || new Set(seeds).size !== seeds.length) throw new Error('BENCH_QUALITY_SEEDS: distinct non-negative integers, e.g. 1,2,3');
  const testSeeds = Number(process.env.BENCH_QUALITY_TEST_SEEDS ?? 10);
  if (!Number.isInteger(testSeeds) || testSeeds < 2) throw new Error('BENCH_QUALITY_TEST_SEEDS: an integer ≥ 2');
  const runsDir = join(process.env.BENCH_QUALITY_RUNS ?? 'runs/quality', scenario);
  const grid = list('BENCH_QUALITY_LR_GRID', '0.5,1,2').map(Number);
  if (grid.some((m) => !(m > 0)) || new Set(grid).size !== grid.length) throw new Error('BENCH_QUALITY_LR_GRID: distinct positive multipliers, e.g. 0.5,1,2');
  const jobs = Number(process.env.BENCH_QUALITY_JOBS ?? 1);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 16) throw new Error('BENCH_QUALITY_JOBS: an integer in 1..16');
  const tuneSeed = Number(process.env.BENCH_QUALITY_TUNE_SEED ?? 11);
  if (!Number.isInteger(tuneSeed) || tuneSeed < 0 || seeds.includes(tuneSeed)) throw new Error('BENCH_QUALITY_TUNE_SEED: a non-negative integer, not one of BENCH_QUALITY_SEEDS');
  const ieds = loadScenario(scenario).ieds;

  const ensure = async (algo: Algorithm, lrScale: number, seed: number, dir: string, overrides: Record<string, unknown> = {}): Promise<RunRecord> => {
    let wallSeconds: number | null = null;
    const trainedNow = !finished(dir, presetFor(algo, preset).episodes);
    if (trainedNow) {
      const sets = Object.entries(overrides).flatMap(([key, value]) => ['--set', `${key}=${JSON.stringify(value)}`]);
      const args = hasCheckpoint(dir) ? ['--out', dir, '--resume'] : ['--algo', algo, '--preset', preset, '--seed', String(seed), '--scenario', scenario, ...sets, ...configArgs(algo, preset, lrScale), '--out', dir, ...(existsSync(dir) ? ['--force'] : [])];
      console.error(`quality: ${args.includes('--resume') ? 'resuming' : 'training'} ${dir}`);
      wallSeconds = await trainChild(args);
    }
    const episodeSeconds = metricsOf(dir).reduce((a, l) => a + (l.collectMs + l.updateMs) / 1000, 0);
    return { algo, seed, lrScale, dir, trainedNow, wallSeconds, episodeSeconds };
  };

  // 1. tuning on the validation seeds
  const tuning: (RunRecord & { validation: Record<string, number>; score: number })[] = [];
  const winners = new Map<Algorithm, number>();
  const valSeeds = validationSeeds(testSeeds);
  const points = headlinePoints(scenario);
  const tuneJobs = grid.length === 1 ? [] : (algos as Algorithm[]).flatMap((algo) => grid.map((lrScale) => () => ensure(algo, lrScale, tuneSeed, join(runsDir, 'tune', `${algo}-${preset}-lr${lrScale}-s${tuneSeed}`))));
  let trainingSeconds = 0;
  const timedPool = async <T>(list: readonly (() => Promise<T>)[]): Promise<T[]> => {
    const at = process.hrtime.bigint();
    try {
      return await pool(list, jobs);
    } finally {
      trainingSeconds += Number(process.hrtime.bigint() - at) / 1e9;
    }
  };
  for (const run of await timedPool(tuneJobs)) {
    const policy = await loadRunPolicy(run.dir);
    const validation: Record<string, number> = {};
    for (const p of points) validation[p.label] = (await evaluatePolicy(p.scenario, policy, valSeeds)).completionRate;
    const score = Object.values(validation).reduce((a, b) => a + b, 0) / points.length;
    tuning.push({ ...run, validation, score });
    console.error(`quality: tuning ${run.algo} lr×${run.lrScale}: validation ${(100 * score).toFixed(2)} %`);
  }
  for (const algo of algos as Algorithm[]) {
    const mine = tuning.filter((r) => r.algo === algo);
    winners.set(algo, mine.length ? mine.reduce((a, r) => (better(r, a) ? r : a)).lrScale : (grid[0] as number));
  }

  // 2. training seeds with the winners
  const runs = await timedPool((algos as Algorithm[]).flatMap((algo) => seeds.map((seed) => {
    const lrScale = winners.get(algo) as number;
    return () => ensure(algo, lrScale, seed, runDir(runsDir, algo, preset, lrScale, seed));
  })));

  // 2b. (optional) trained per headline point, each evaluated at its own point
  const perPoint = process.env.BENCH_QUALITY_PER_POINT === '1' ? await trainedPerPoint(points.slice(1), algos as Algorithm[], seeds, testSeeds, timedPool, (algo, seed, p) => {
    const lrScale = winners.get(algo) as number;
    return ensure(algo, lrScale, seed, runDir(join(runsDir, `at-${p.slug}`), algo, preset, lrScale, seed), p.overrides);
  }) : null;
  const evalStarted = process.hrtime.bigint();
  const outDir = join(process.env.BENCH_QUALITY_EVAL_OUT ?? 'bench/out', `quality-${scenario}-${preset}`);
  const report = await runEvaluation({ runs: runs.map((r) => r.dir), scenario, seeds: testSeeds, outDir, probabilities: [0.7], deadlines: [1], iedCounts: [ieds], log: (l) => console.error(`quality: ${l}`) });
  const evalSeconds = Number(process.hrtime.bigint() - evalStarted) / 1e9;
  return {
    what: 'issue #11 protocol: training seeds × paired test seeds, bootstrap intervals (trainer/protocol-stats.ts)',
    scenario,
    preset,
    trainingSeeds: seeds,
    testSeeds: report.seeds.length,
    evalFolder: outDir,
    tuning: { grid: { learningRateMultiplier: grid }, seed: tuneSeed, validationSeeds: valSeeds.length, scoredBy: 'mean validation completion over the headline points', runs: tuning, winners: Object.fromEntries(winners) },
    runs,
    perPoint,
    wallClock: { trainingSeconds, evaluationSeconds: evalSeconds, note: 'training: wall time of this invocation\'s training runs (tuning, training seeds, per point), runs at a time as BENCH_QUALITY_JOBS; a reused run costs nothing here (its episodeSeconds: collect + update time when it was trained). evaluation: the test-seed protocol' },
    protocol: report.protocol,
  };
}
