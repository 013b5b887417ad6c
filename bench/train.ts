/**
 * Training throughput at 50 IEDs × 5 edge servers, batch 64, per available backend:
 * environment steps/s while training (acting through the actors), AMARL gradient updates/s with the
 * split between critic and actor steps, every algorithm's update round (and AMARL's with GRU actors), peak memory, and the
 * vectorization question: stacked per-agent layers (one batched matmul) vs a JS loop of per-agent
 * matmuls.
 *
 * Issue #12 (training speed): on wasm the AMARL update is also timed with trainer/matmul.ts's fast path
 * switched off (plain tf.matMul), interleaved step by step in this one process so that CPU contention from
 * other processes hits both alike; CPU time is reported next to wall-clock for the same reason, and the
 * load average before and after. `training-runs` times whole runs (minutes): a `quick` AMARL run and the
 * twin's 50-episode fine-tune, as child processes of the real CLI.
 */
import * as tf from '@tensorflow/tfjs';
import { loadScenario } from '../core/scenario/load.ts';
import { Rng } from '../core/rng.ts';
import { GmelParallelEnv } from '../sim/env.ts';
import { selectBackend, type BackendChoice } from '../trainer/backend.ts';
import { collectEpisode } from '../trainer/collect.ts';
import { createLearner } from '../trainer/algorithms.ts';
import { Amarl } from '../trainer/algos/amarl.ts';
import { ALGORITHMS } from '../trainer/learner.ts';
import { stackedMatMul, useFastMatMul } from '../trainer/matmul.ts';
import { loadavg } from 'node:os';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Before issue #12's changes: bench/results/training.json as committed at a4b3584 (wasm, measured at 74de945). */
const BASELINE = { source: 'bench/results/training.json at commit a4b3584 (wasm; measured 2026-11-29 at 74de945)', criticStepMs: 223.57, actorStepMs: 87.16 };
/** The figure issue #12 quotes as measured that day on this machine (critic 252 + actor 101). */
const ISSUE_BASELINE_MS = 353;

function time<T>(fn: () => T): [T, number] {
  const t0 = performance.now();
  const out = fn();
  return [out, performance.now() - t0];
}

function vectorization(I: number, B: number, inputs: number, outputs: number, reps: number) {
  const rng = new Rng(1);
  const data = (n: number) => Float32Array.from({ length: n }, () => rng.uniform() - 0.5);
  const x = tf.tensor3d(data(I * B * inputs), [I, B, inputs]);
  const W = tf.variable(tf.tensor3d(data(I * inputs * outputs), [I, inputs, outputs]));
  const xs = tf.unstack(x) as tf.Tensor2D[];
  const Ws = Array.from({ length: I }, () => tf.variable(tf.tensor2d(data(inputs * outputs), [inputs, outputs])));
  const batched = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.sum(tf.relu(tf.matMul(x, W as tf.Tensor3D))) as tf.Scalar, [W]);
    (grads[W.name] as tf.Tensor).dataSync();
  });
  const looped = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.addN(Ws.map((w, i) => tf.sum(tf.relu(tf.matMul(xs[i] as tf.Tensor2D, w as tf.Tensor2D))))) as tf.Scalar, Ws);
    for (const w of Ws) (grads[w.name] as tf.Tensor).dataSync();
  });
  // what AgentDense runs now: the same stacked weights through trainer/matmul.ts (per-agent XNNPACK calls on wasm)
  const grouped = () => tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.sum(tf.relu(stackedMatMul(x, W as tf.Tensor3D))) as tf.Scalar, [W]);
    (grads[W.name] as tf.Tensor).dataSync();
  });
  const ms = { stacked: 0, looped: 0, grouped: 0 };
  const variants = [['stacked', batched], ['looped', looped], ['grouped', grouped]] as const;
  for (const [, f] of variants) f();
  for (let k = 0; k < reps; k++) for (const [name, f] of variants) ms[name] += time(f)[1] / reps;
  tf.dispose([x, W, ...xs, ...Ws]);
  return {
    layer: `${I} agents × [${B}×${inputs}]·[${inputs}×${outputs}], forward+backward`,
    stackedMs: ms.stacked, loopedMs: ms.looped, groupedMs: ms.grouped, speedupOfStacked: ms.looped / ms.stacked, speedupOfGroupedOverStacked: ms.stacked / ms.grouped,
    note: 'stacked: one tf.matMul on [I, B, in]·[I, in, out] (the layout before issue #12); looped: I separate weight variables; grouped: the stacked weights through trainer/matmul.ts (interleaved rep by rep)',
  };
}

interface StepTimes { critic: number; actor: number; cpu: number; n: number }

/**
 * AMARL critic and actor steps (after one warm-up update), with the fast matmul path on, and where asked
 * also off, alternating step by step: both see the same contention. Wall-clock and process CPU time.
 */
function timeAmarlSteps(amarl: Amarl, reps: number, compare: boolean) {
  const rng = new Rng(3);
  amarl.criticStep(amarl.replay.sample(64, rng));
  amarl.actorStep(amarl.replay.sample(64, rng));
  const load = loadavg()[0];
  const times = { fast: { critic: 0, actor: 0, cpu: 0, n: 0 }, plain: { critic: 0, actor: 0, cpu: 0, n: 0 } };
  for (let k = 0; k < (compare ? 2 * reps : reps); k++) {
    const t: StepTimes = compare && k % 2 === 1 ? times.plain : times.fast;
    useFastMatMul(t === times.fast);
    const batch = amarl.replay.sample(64, rng);
    const cpu0 = process.cpuUsage();
    t.critic += time(() => amarl.criticStep(batch))[1];
    t.actor += time(() => amarl.actorStep(batch))[1];
    const cpu = process.cpuUsage(cpu0);
    t.cpu += (cpu.user + cpu.system) / 1000;
    t.n++;
  }
  useFastMatMul(true);
  const per = (t: StepTimes) => ({ criticStepMs: t.critic / t.n, actorStepMs: t.actor / t.n, updateMs: (t.critic + t.actor) / t.n, updateCpuMs: t.cpu / t.n });
  const fast = per(times.fast);
  const baselineMs = BASELINE.criticStepMs + BASELINE.actorStepMs;
  return {
    ...fast,
    gradientUpdatesPerSecond: 1000 / fast.updateMs,
    ...(compare ? {
      plainTfMatMul: per(times.plain),
      speedupOverPlainTfMatMulInThisProcess: per(times.plain).updateMs / fast.updateMs,
      baseline: { ...BASELINE, updateMs: baselineMs, issueFigureMs: ISSUE_BASELINE_MS },
      speedupOverCommittedBaseline: baselineMs / fast.updateMs,
      speedupOverIssueBaseline: ISSUE_BASELINE_MS / fast.updateMs,
      goalUpdateMs: 120,
    } : {}),
    loadAverage1mBeforeAfter: [load, loadavg()[0]],
    note: 'one gradient update = one critic step + one actor step on a batch of 64 joint transitions; plainTfMatMul = the same learner with trainer/matmul.ts switched off (tf.matMul everywhere), interleaved with the fast path step by step',
  };
}

async function benchBackend(backend: BackendChoice, episodes: number) {
  const info = await selectBackend(backend);
  const env = new GmelParallelEnv(loadScenario('gmel2024'));
  const [I, D, A] = [env.world.I, env.world.obsSize, env.world.M + 1];
  const amarl = new Amarl(I, D, A, 1, { warmupEpisodes: 1 });
  // environment steps/s while acting through the actors (exploration on)
  let collectMs = 0;
  for (let e = 0; e < episodes; e++) {
    const [c, ms] = time(() => collectEpisode(env, e, (o, has, a, h) => amarl.act(o, has, a, true, h), amarl.hiddenSize));
    amarl.observe(c.record);
    if (e > 0) collectMs += ms;
  }
  const envSteps = (episodes - 1) * env.scenario.episodeSlots;
  const amarlSteps = timeAmarlSteps(amarl, backend === 'cpu' ? 3 : 8, backend === 'wasm');
  amarl.dispose();
  // every algorithm's update round (its own number of gradient steps)
  const rounds: Record<string, { msPerRound: number; gradientStepsPerRound: number }> = {};
  const variants = [...ALGORITHMS.map((algo) => ({ name: algo as string, algo, config: algo === 'amarl' ? { warmupEpisodes: 1 } : {} })), { name: 'amarl (gru actors)', algo: 'amarl' as const, config: { warmupEpisodes: 1, actor: 'gru' } }];
  for (const { name, algo, config } of variants) {
    const learner = createLearner(algo, I, D, A, 1, config);
    for (let e = 0; e < 2; e++) learner.observe(collectEpisode(env, 50 + e, (o, has, a, h) => learner.act(o, has, a, true, h), learner.hiddenSize).record);
    learner.update();
    const [stats, ms] = time(() => learner.update());
    rounds[name] = { msPerRound: ms, gradientStepsPerRound: stats?.steps ?? 0 };
    learner.dispose();
  }
  return {
    backend: info,
    envStepsPerSecondWhileActing: envSteps / (collectMs / 1000),
    iedDecisionsPerSecondWhileActing: (envSteps * I) / (collectMs / 1000),
    amarl: amarlSteps,
    updateRounds: rounds,
    vectorization: vectorization(I, 64, 64, 64, backend === 'cpu' ? 3 : 10),
    peakRssMB: process.memoryUsage().rss / 2 ** 20,
  };
}

export async function benchTraining(): Promise<Record<string, unknown>> {
  const results = [];
  for (const backend of ['wasm', 'cpu'] as const) results.push(await benchBackend(backend, backend === 'cpu' ? 3 : 6));
  return { name: 'training', scenario: 'gmel2024 (50 IEDs × 5 ESs)', batchSize: 64, results, peakRssMB: process.memoryUsage().rss / 2 ** 20 };
}

const gmel = fileURLToPath(new URL('../bin/gmel.js', import.meta.url));
/** printed by the child at exit: its own CPU time and peak resident memory (kB), which no parent API reports */
const REPORT_USAGE = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nUSAGE "+JSON.stringify(process.resourceUsage())+"\\n"))';

/** `gmel train …` as a child process: wall-clock, CPU time, peak RSS and the run's own collect/update split. */
function timedTrain(args: string[], runDir: string): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    const load = loadavg()[0] as number;
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', REPORT_USAGE, gmel, 'train', ...args, '--out', runDir, '--no-progress'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.once('exit', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      const usage = /USAGE (\{.*\})/.exec(err)?.[1];
      if (code !== 0 || !usage) return reject(new Error(`gmel train exited ${code}: ${err.slice(-500)}`));
      const u = JSON.parse(usage) as { userCPUTime: number; systemCPUTime: number; maxRSS: number };
      const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { collectMs: number; updateMs: number });
      const total = (k: 'collectMs' | 'updateMs') => lines.reduce((s, l) => s + l[k], 0) / 1000;
      resolve({
        wallClockS: wallS, cpuS: (u.userCPUTime + u.systemCPUTime) / 1e6, peakRssMB: u.maxRSS / 1024,
        episodes: lines.length, collectS: total('collectMs'), updateS: total('updateMs'),
        loadAverage1mBefore: load, loadAverage1mAfter: loadavg()[0] as number,
      });
    });
  });
}

/**
 * Issue #12's run-level goals, measured through the real CLI: a `quick` AMARL run (300 episodes, 50 IEDs,
 * seed 1; goal ≤ 3 min, peak memory ≤ 700 MB) and the twin's fine-tune of it (twin/retrain.ts runs
 * `gmel train --init-from <incumbent> --episodes 50`; here on the default scenario; goal ≤ 25 s).
 */
export async function benchTrainingRuns(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-bench-runs-'));
  try {
    const quick = await timedTrain(['--algo', 'amarl', '--preset', 'quick', '--seed', '1'], join(dir, 'quick'));
    const fineTune = await timedTrain(['--algo', 'amarl', '--init-from', join(dir, 'quick'), '--episodes', '50', '--seed', '2'], join(dir, 'fine-tune'));
    return {
      name: 'training-runs', scenario: 'gmel2024 (50 IEDs × 5 ESs)',
      quick: { command: 'gmel train --algo amarl --preset quick --seed 1', goalWallClockS: 180, goalPeakRssMB: 700, ...quick },
      twinFineTune: { command: 'gmel train --algo amarl --init-from <the quick run> --episodes 50 --seed 2', goalWallClockS: 25, ...fineTune },
      before: { quickWallClockMin: '7–9 (issue #12)', twinFineTuneS: 73.5 },
      note: 'wall-clock includes process start, backend load, checkpoints and actor export; CPU time is less sensitive to other processes on the machine than wall-clock',
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
