// `gmel train` and `gmel eval` as a user runs them: a smoke run folder, then figures from it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));
const gmel = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

t.test('train a smoke run, then evaluate it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-cli-train-'));
  const run = join(dir, 'run');
  const trained = gmel('train', '--algo', 'dqn', '--preset', 'smoke', '--seed', '3', '--out', run, '--set', 'ieds=4', '--no-progress');
  t.equal(trained.status, 0, trained.stderr);
  const out = JSON.parse(trained.stdout.trim().split('\n').at(-1) as string) as { backend: { provider: string }; episodes: number };
  t.equal(out.episodes, 6);
  t.match(out.backend.provider, /^(tfjs-node-gpu|tfjs-node|wasm|cpu)$/, 'the backend used is reported');
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
  t.equal(config.algo, 'dqn');
  t.equal(config.obsEncoderVersion, 'gmel-obs/2');
  t.equal(readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 6, 'one metrics line per episode');
  for (let i = 0; i < 4; i++) t.ok(existsSync(join(run, 'actors', `ied-${i}`, 'model.json')), `actor of IED ${i} exported`);

  const evalDir = join(dir, 'eval');
  const evaluated = gmel('eval', '--runs', run, '--scenario', 'gmel2024', '--seeds', '2', '--out', evalDir, '--p', '0.3:0.7:0.4', '--deadline', '1:2:1', '--ieds', '4:8:4');
  // the run was trained on 4 IEDs but is evaluated on the 50-IED default: actors are reused cyclically
  t.equal(evaluated.status, 0, evaluated.stderr);
  for (const fig of ['fig3-learning', 'fig4-probability', 'fig5-deadline', 'fig6a-latency', 'fig6b-completion'])
    for (const ext of ['svg', 'png', 'csv']) t.ok(existsSync(join(evalDir, `${fig}.${ext}`)), `${fig}.${ext}`);
  const png = readFileSync(join(evalDir, 'fig4-probability.png'));
  t.equal(png.subarray(1, 4).toString(), 'PNG', 'a real PNG');
  const csv = readFileSync(join(evalDir, 'fig4-probability.csv'), 'utf8').trim().split('\n');
  t.equal(csv.length, 1 + 2 * 7, 'header + 2 points × (1 learned + 6 heuristics)');
  t.match(readFileSync(join(evalDir, 'summary.md'), 'utf8'), /## Fig\. 5/);
});

t.test('bad input: clear message, exit 2', async (t) => {
  const cases: [string[], RegExp][] = [
    [['train', '--algo', 'ppo'], /--algo must be one of amarl, maddpg, ac, dqn/],
    [['train', '--preset', 'huge'], /--preset must be one of smoke, quick, paper/],
    [['train', '--backend', 'tpu'], /--backend must be one of/],
    [['train', '--episodes', '0'], /--episodes must be a positive integer/],
    [['train', '--config', 'learningRate=0.1'], /amarl has no setting "learningRate"/],
    [['train', '--config', 'policyGradient=7'], /amarl setting "policyGradient" must be a string/],
    [['train', '--out', join(tmpdir(), 'gmel-no-such-run'), '--resume'], /--resume: no checkpoint/],
    [['eval', '--runs', join(tmpdir(), 'gmel-no-such-run')], /no actors\/ folder/],
    [['eval', '--seeds', '1'], /--seeds must be an integer ≥ 2/],
  ];
  for (const [args, pattern] of cases) {
    const r = gmel(...args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, pattern);
  }
});
