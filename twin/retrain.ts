/**
 * The twin's retraining cycle: fine-tune the incumbent AMARL run on the recalibrated scenario, judge the
 * candidate against the incumbent on that scenario, and export it only if it is better.
 *
 * | step      | how                                                                                   |
 * |-----------|---------------------------------------------------------------------------------------|
 * | fine-tune | `gmel train --init-from <incumbent> --scenario <recalibrated.json>` in a child process |
 * |           | (so the live mirror never stalls), warm-started from the incumbent's checkpoint        |
 * | evaluate  | candidate and incumbent on the recalibrated scenario, VALIDATION seeds (never the test |
 * |           | seeds), mean completion rate                                                          |
 * | promote   | candidate ≥ incumbent + marginPp percentage points                                     |
 * | export    | `gmel export` into the model set (a new version); signing, publishing and the staged  |
 * |           | rollout follow with `gmel deploy sign-models`, the registry and `gmel deploy rollout`  |
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../core/scenario/schema.ts';
import { evaluatePolicy, loadRunPolicy, validationSeeds } from '../trainer/evaluate.ts';
import { exportRun } from '../trainer/export-set.ts';

const bin = fileURLToPath(new URL('../bin/gmel.js', import.meta.url));

export interface RetrainOptions {
  /** the run the live actors came from */
  readonly incumbentRun: string;
  readonly scenario: Scenario;
  readonly workDir: string;
  readonly episodes: number;
  readonly seed: number;
  /** promote only if the candidate beats the incumbent by at least this many percentage points */
  readonly marginPp: number;
  /** where a promoted candidate is exported (a model set folder) */
  readonly modelSetDir: string;
  readonly validationEpisodes?: number;
  readonly log?: (line: string) => void;
}

export interface RetrainReport {
  readonly candidateRun: string;
  readonly incumbent: number;
  readonly candidate: number;
  readonly promoted: boolean;
  readonly exported?: { readonly dir: string; readonly version: string };
  readonly seconds: number;
}

/** A child command's JSON summary as a sentence for the twin's log (never JSON escaped inside a log line). */
function describeChildLine(line: string): string {
  let j: { runDir?: string; episodes?: number; backend?: { provider?: string }; last?: { completionRate?: number } | null };
  try {
    j = JSON.parse(line) as typeof j;
  } catch {
    return line;
  }
  if (j.runDir === undefined) return line;
  const completion = j.last?.completionRate;
  return `fine-tune finished: ${j.episodes} episodes on ${j.backend?.provider ?? '?'} in ${j.runDir}${completion === undefined ? '' : `, last episode's completion ${(100 * completion).toFixed(1)}%`}`;
}

function run(args: string[], log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d) => {
      for (const line of String(d).split('\n').filter((l) => l.trim())) log(describeChildLine(line));
    });
    child.stderr.on('data', (d) => (err += String(d)));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`gmel ${args[0]} exited ${code}: ${err.slice(-500)}`))));
  });
}

export async function retrainCycle(o: RetrainOptions): Promise<RetrainReport> {
  const t0 = Date.now();
  const log = o.log ?? (() => {});
  mkdirSync(o.workDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const scenarioFile = join(o.workDir, `scenario-${stamp}.json`);
  writeFileSync(scenarioFile, JSON.stringify(o.scenario, null, 2));
  const candidateRun = join(o.workDir, `candidate-${stamp}`);
  log(`fine-tuning ${o.incumbentRun} for ${o.episodes} episodes on ${scenarioFile}`);
  await run(['train', '--algo', 'amarl', '--scenario', scenarioFile, '--init-from', o.incumbentRun, '--episodes', String(o.episodes), '--seed', String(o.seed), '--out', candidateRun, '--no-progress'], log);
  const seeds = validationSeeds(o.validationEpisodes ?? 5);
  const incumbent = (await evaluatePolicy(o.scenario, await loadRunPolicy(o.incumbentRun, 'incumbent'), seeds)).completionRate;
  const candidate = (await evaluatePolicy(o.scenario, await loadRunPolicy(candidateRun, 'candidate'), seeds)).completionRate;
  const promoted = candidate >= incumbent + o.marginPp / 100;
  log(`incumbent ${(100 * incumbent).toFixed(2)}%, candidate ${(100 * candidate).toFixed(2)}%: ${promoted ? 'promote' : 'keep the incumbent'}`);
  const exported = promoted ? exportRun({ runDir: candidateRun, outDir: o.modelSetDir, command: 'twin retrain cycle' }) : undefined;
  return {
    candidateRun, incumbent, candidate, promoted,
    ...(exported ? { exported: { dir: exported.dir, version: exported.manifest.version } } : {}),
    seconds: (Date.now() - t0) / 1000,
  };
}
