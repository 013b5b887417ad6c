// The `gmel sim` command, run as a newcomer would (a child process through bin/gmel.js).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));
const gmel = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

t.test('--json prints the documented fields', async (t) => {
  const r = gmel('sim', '--scenario', 'gmel2024', '--policy', 'greedy', '--episodes', '2', '--seed', '1', '--json', '--set', 'ieds=10');
  t.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, any>;
  for (const key of ['completionRate', 'meanLatency', 'arrived', 'completed']) t.type(out[key], 'number', key);
  for (const stage of ['pending', 'local', 'uplink', 'edge', 'total']) t.type(out.dropped[stage], 'number', `dropped.${stage}`);
  t.equal(out.arrived, out.completed + out.dropped.total);
  const again = JSON.parse(gmel('sim', '--policy', 'greedy', '--episodes', '2', '--seed', '1', '--json', '--set', 'ieds=10').stdout);
  t.same(again, out, 'same seed, same numbers');
  const perIed = JSON.parse(gmel('sim', '--episodes', '1', '--json', '--per-ied', '--set', 'ieds=4').stdout) as { arrived: number; perIed: { arrived: number }[] };
  t.equal(perIed.perIed.length, 4, 'one entry per IED');
  t.equal(perIed.perIed.reduce((a, x) => a + x.arrived, 0), perIed.arrived, 'per-IED counts add up');
});

t.test('a table by default; a sweep has a row per value and a column per heuristic', async (t) => {
  const table = gmel('sim', '--episodes', '1', '--set', 'ieds=5');
  t.equal(table.status, 0, table.stderr);
  t.match(table.stdout, /completion rate/);
  const sweep = gmel('sim', '--sweep', 'p=0.2:0.4:0.1', '--episodes', '1', '--set', 'ieds=5', '--json');
  t.equal(sweep.status, 0, sweep.stderr);
  const out = JSON.parse(sweep.stdout) as { rows: { value: number; results: Record<string, unknown> }[] };
  t.same(out.rows.map((r) => r.value), [0.2, 0.3, 0.4]);
  t.same(Object.keys(out.rows[0]?.results ?? {}), ['local', 'random', 'best-channel', 'round-robin', 'greedy', 'central-greedy']);
});

t.test('bad input: a clear message and a non-zero exit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-cli-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'x' }));
  const cases: [string[], RegExp][] = [
    [['sim', '--scenario', bad], /scenario .*bad\.json: \/semantics: is required/],
    [['sim', '--scenario', 'nope'], /no such preset/],
    [['sim', '--policy', 'psychic'], /unknown policy "psychic"/],
    [['sim', '--set', 'edge.bandwidthMHz=-1'], /\/edge\/bandwidthMHz: must be > 0/],
    [['sim', '--sweep', 'q=1:2:1'], /--sweep key must be one of p, deadline, ieds/],
    [['sim', '--episodes', 'many'], /--episodes must be a non-negative integer/],
  ];
  for (const [args, pattern] of cases) {
    const r = gmel(...args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, pattern);
  }
});
