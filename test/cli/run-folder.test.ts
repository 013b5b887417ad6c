// No silent loss of training work (issue #13): a run folder is never overwritten without --force, a
// resumed run keeps its own preset, seed, scenario and episode count, and a flag that disagrees with
// the run is refused.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../../core/scenario/load.ts';
import { planRun, removeReplaced, type RunRequest } from '../../cli/run-folder.ts';

const root = mkdtempSync(join(tmpdir(), 'gmel-runs-'));
const base: RunRequest = { algo: 'dqn', preset: 'smoke', seed: 1, resume: false, force: false, typed: new Set(), scenario: () => loadScenario('gmel2024') };

function fakeRun(dir: string, saved: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ algo: 'dqn', preset: 'quick', seed: 4, episodes: 14, scenario: loadScenario('gmel2024', { ieds: 10 }), ...saved }));
}

t.test('a new run gets a new folder; an existing one is refused without --force', async (t) => {
  const plan = planRun({ ...base, now: new Date('2026-11-29T10:11:12.345Z') });
  t.equal(plan.outDir, 'runs/dqn-smoke-s1-20261129T101112345Z');
  const dir = join(root, 'existing');
  fakeRun(dir, {});
  t.throws(() => planRun({ ...base, out: dir }), /holds a run: --resume to continue it, --force to replace it/);
  t.ok(existsSync(join(dir, 'config.json')), 'nothing was touched');
  const forced = planRun({ ...base, out: dir, force: true, now: new Date('2026-11-29T10:11:12.345Z') });
  t.equal(forced.outDir, dir);
  t.notOk(existsSync(join(dir, 'config.json')), '--force clears the folder for the new run');
  t.ok(existsSync(join(`${dir}.replaced-20261129T101112345Z`, 'config.json')), 'the old run waits aside until the new one has trained');
  removeReplaced(forced);
  t.notOk(existsSync(`${dir}.replaced-20261129T101112345Z`), 'then it goes');
  fakeRun(dir, {});
  t.throws(() => planRun({ ...base, out: dir, force: true, scenario: () => loadScenario('no-such-preset') }), /no-such-preset/);
  t.ok(existsSync(join(dir, 'config.json')), 'a bad scenario with --force loses nothing');
  t.throws(() => planRun({ ...base, out: dir, force: true, resume: true }), /give one/);
});

t.test('--resume keeps the run\'s own settings; a disagreeing flag is refused', async (t) => {
  const dir = join(root, 'quick-run');
  fakeRun(dir, {});
  const plan = planRun({ ...base, out: dir, resume: true });
  t.same([plan.algo, plan.preset, plan.seed, plan.episodes, plan.scenario.ieds], ['dqn', 'quick', 4, 14, 10], 'preset, seed, episodes and scenario come from the run');
  t.equal(planRun({ ...base, out: dir, resume: true, episodes: 20 }).episodes, 20, 'a longer run may be asked for');
  t.throws(() => planRun({ ...base, out: dir, resume: true, typed: new Set(['preset']) }), /--preset smoke \(the run has quick\)/);
  t.throws(() => planRun({ ...base, out: dir, resume: true, typed: new Set(['seed']) }), /--seed 1 \(the run has 4\)/);
  t.throws(() => planRun({ ...base, out: dir, resume: true, typed: new Set(['set']) }), /keeps its scenario/);
  t.doesNotThrow(() => planRun({ ...base, out: dir, resume: true, preset: 'quick', typed: new Set(['preset']) }), 'an agreeing flag is fine');
  t.throws(() => planRun({ ...base, resume: true }), /--resume needs --out/);
});

t.test('gmel train --resume without --preset continues a quick run as a quick run', { timeout: 120_000 }, async (t) => {
  const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));
  const dir = join(root, 'cli-run');
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, 'train', '--no-progress', '--out', dir, ...args], { encoding: 'utf8' });
  const first = run('--algo', 'dqn', '--preset', 'quick', '--episodes', '2', '--set', 'ieds=4');
  t.equal(first.status, 0, first.stderr);
  const again = run('--algo', 'dqn', '--preset', 'quick', '--episodes', '2');
  t.equal(again.status, 2, 'training onto an existing run is refused');
  t.match(again.stderr, /holds a run/);
  const resumed = run('--resume', '--episodes', '3');
  t.equal(resumed.status, 0, resumed.stderr);
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { preset: string; episodes: number; scenario: { ieds: number } };
  t.same([config.preset, config.episodes, config.scenario.ieds], ['quick', 3, 4], 'config.json keeps the run\'s preset and scenario');
  const last = (JSON.parse(resumed.stdout.trim().split('\n').at(-1) ?? '{}') as { last: { episode: number } | null }).last;
  t.equal(last?.episode, 2, 'one more episode after the checkpoint at 2');
  t.equal(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3, 'metrics.jsonl holds all three episodes');
});
