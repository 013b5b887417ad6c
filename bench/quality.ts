/**
 * `npm run bench -- quality`: the decision-quality protocol of issue #11 end to end. Trains every
 * algorithm on several training seeds (the real CLI, one child process per run), then evaluates all
 * runs on the same held-out test seeds at the paper's headline points (default, p = 0.7,
 * d_max = 1.0 s) and reports each policy's mean and IQM over training seeds × test seeds and AMARL's
 * paired differences with the probability of improvement (trainer/eval-protocol.ts).
 *
 * | setting                   | default                 |                                              |
 * |---------------------------|-------------------------|----------------------------------------------|
 * | BENCH_QUALITY_SCENARIO    | gmel2024-paper          | the plant trained on and evaluated           |
 * | BENCH_QUALITY_PRESET      | quick                   | smoke for a check in seconds                 |
 * | BENCH_QUALITY_ALGOS       | amarl,maddpg,ac,dqn     |                                              |
 * | BENCH_QUALITY_SEEDS       | 1,2,3                   | training seeds                               |
 * | BENCH_QUALITY_TEST_SEEDS  | 10                      | held-out test seeds (evaluate.ts EVAL_STREAM) |
 * | BENCH_QUALITY_RUNS        | runs/quality            | run folders: <runs>/<scenario>/<algo>-<preset>-s<seed> |
 *
 * Resumable: a finished run (its metrics cover the preset's episodes, its actors exported) is reused;
 * an unfinished one with a checkpoint is resumed; so the bench can be stopped and started again. Wall
 * time is reported for the runs trained by this invocation (a reused run's is read from its metrics:
 * collect + update time, not wall).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../core/scenario/load.ts';
import { presetFor } from '../trainer/algorithms.ts';
import { hasCheckpoint } from '../trainer/checkpoint.ts';
import { ALGORITHMS, type Algorithm } from '../trainer/learner.ts';
import { PRESETS, type Preset } from '../trainer/presets.ts';
import { runEvaluation } from '../trainer/eval-report.ts';
import type { EpisodeLine } from '../trainer/train.ts';

const bin = fileURLToPath(new URL('../bin/gmel.js', import.meta.url));

interface RunRecord {
  readonly algo: Algorithm;
  readonly seed: number;
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
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as EpisodeLine) : [];
}

function finished(dir: string, episodes: number): boolean {
  return metricsOf(dir).length >= episodes && existsSync(join(dir, 'actors', 'ied-0'));
}

function trainChild(args: string[]): Promise<number> {
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'train', ...args, '--no-progress'], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - started) / 1e9) : reject(new Error(`gmel train ${args.join(' ')} exited with ${code}`))));
  });
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
  const ieds = loadScenario(scenario).ieds;
  const started = process.hrtime.bigint();

  const runs: RunRecord[] = [];
  for (const algo of algos as Algorithm[]) {
    const episodes = presetFor(algo, preset).episodes;
    for (const seed of seeds) {
      const dir = join(runsDir, `${algo}-${preset}-s${seed}`);
      let wallSeconds: number | null = null;
      const trainedNow = !finished(dir, episodes);
      if (trainedNow) {
        const args = hasCheckpoint(dir) ? ['--out', dir, '--resume'] : ['--algo', algo, '--preset', preset, '--seed', String(seed), '--scenario', scenario, '--out', dir, ...(existsSync(dir) ? ['--force'] : [])];
        console.error(`quality: ${args.includes('--resume') ? 'resuming' : 'training'} ${dir}`);
        wallSeconds = await trainChild(args);
      }
      const episodeSeconds = metricsOf(dir).reduce((a, l) => a + (l.collectMs + l.updateMs) / 1000, 0);
      runs.push({ algo, seed, dir, trainedNow, wallSeconds, episodeSeconds });
    }
  }
  const trainSeconds = Number(process.hrtime.bigint() - started) / 1e9;
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
    runs,
    wallClock: { trainingSeconds: trainSeconds, evaluationSeconds: evalSeconds, note: 'training: this invocation only (reused runs cost nothing here; see each run\'s episodeSeconds)' },
    protocol: report.protocol,
  };
}
