// `gmel up --run … --on-drift` as a user runs it: the emulated plant differs from the trained one (an
// edge server at 1/30 of its speed, --plant-set), the twin inside the process reports drift, fine-tunes
// the run in a child process, promotes the candidate by the real margin and switches the gateway to it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../../core/scenario/load.ts';
import { train } from '../../trainer/train.ts';
import { exportRun } from '../../trainer/export-set.ts';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));

t.test('gmel up --run --on-drift: drift → fine-tune → promoted version running', { timeout: 120_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-up-retrain-'));
  const scenario = loadScenario('gmel2024', { name: 'two-servers', ieds: 4, edgeServers: 2, episodeSlots: 40, 'ied.gpuGHz': 0.3, 'arrivals.probability': 0.4, 'edge.gpuGHz': [15, 15] });
  const scenarioFile = join(root, 'plant.json');
  writeFileSync(scenarioFile, JSON.stringify(scenario));
  const run = join(root, 'run');
  await train({ algo: 'amarl', scenario, preset: 'smoke', seed: 1, outDir: run, episodes: 30 });
  const set = exportRun({ runDir: run, outDir: join(root, 'models') });
  const args = [bin, 'up', '--scenario', scenarioFile, '--model', set.dir, '--run', run, '--on-drift', '--retrain-episodes', '40', '--margin', '2',
    '--plant-set', 'edge.gpuGHz=[0.5,15]', '--duration', '22', '--json'];
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
  t.equal(out.code, 0, 'gmel up exits 0');
  if (out.code !== 0) t.comment(out.stderr.slice(-2000));
  const summary = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as {
    model: string; retraining?: { reason: string; promoted: boolean; appliedLocally?: boolean; candidate: number; incumbent: number; exported?: { version: string } }[];
  };
  const cycle = summary.retraining?.[0];
  t.match(cycle?.reason ?? '', /^drift: .*edge server 1 GPU/, 'retrained on the drift');
  t.ok(cycle?.promoted && cycle.appliedLocally, `promoted and switched: candidate ${(100 * (cycle?.candidate ?? 0)).toFixed(1)}% vs incumbent ${(100 * (cycle?.incumbent ?? 0)).toFixed(1)}%`);
  t.equal(summary.model, cycle?.exported?.version, 'the gateway runs the promoted version at the end');
  t.equal(summary.retraining?.length, 1, 'retargeted: no second cycle on the same drift');
});
