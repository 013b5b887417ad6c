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

  // a second training seed of the same algorithm: one policy of two runs, on the same test seeds
  const run2 = join(dir, 'run-s4');
  const trained2 = gmel('train', '--algo', 'dqn', '--preset', 'smoke', '--seed', '4', '--out', run2, '--set', 'ieds=4', '--no-progress');
  t.equal(trained2.status, 0, trained2.stderr);
  const evalDir2 = join(dir, 'eval-2');
  const evaluated2 = gmel('eval', '--runs', run, run2, '--scenario', 'gmel2024', '--seeds', '3', '--out', evalDir2, '--p', '0.3:0.7:0.4', '--deadline', '1:2:1', '--ieds', '4:8:4');
  t.equal(evaluated2.status, 0, evaluated2.stderr);
  const report = JSON.parse(readFileSync(join(evalDir2, 'eval.json'), 'utf8')) as {
    runs: Record<string, string[]>;
    atDefault: { policy: string; runs: number; scores?: unknown }[];
    protocol: { point: string; policies: { policy: string; runs: number; seeds: number }[]; pairs: { a: string; b: string }[]; scores: Record<string, number[][]> }[];
  };
  t.same(report.runs, { dqn: [run, run2] });
  t.same(report.atDefault.filter((r) => r.policy === 'dqn').map((r) => r.runs), [2], 'one dqn policy of 2 runs');
  t.notOk(report.atDefault.some((r) => 'scores' in r), 'per-seed scores only at the protocol points');
  t.same(report.protocol.map((p) => p.point), ['default', 'p = 0.7', 'd_max = 1.0 s']);
  for (const p of report.protocol) {
    t.same(p.policies.find((s) => s.policy === 'dqn'), { ...p.policies.find((s) => s.policy === 'dqn'), runs: 2, seeds: 3 }, `${p.point}: dqn, 2 runs × 3 test seeds`);
    t.same([p.scores.dqn?.length, p.scores.dqn?.[0]?.length], [2, 3]);
    t.ok(p.pairs.some((x) => x.a === 'dqn' && x.b === 'central-greedy'), `${p.point}: dqn against central-greedy, paired`);
  }
  const csv2 = readFileSync(join(evalDir2, 'fig4-probability.csv'), 'utf8').trim().split('\n');
  t.equal(csv2.length, 1 + 2 * 7, 'still one dqn series: 2 points × (1 learned + 6 heuristics)');
  t.match(readFileSync(join(evalDir2, 'summary.md'), 'utf8'), /## Training seeds × test seeds \(the protocol\)[\s\S]*\| default \| dqn \| 2 × 3 \|/);
  const twice = gmel('eval', '--runs', run, `${run}/`, '--seeds', '2', '--out', join(dir, 'eval-3'));
  t.equal(twice.status, 2, 'a run given twice is refused');
  t.match(twice.stderr, /is given twice/);
  // only training seeds of one setting are one policy: a variant, or a seed given twice, is refused
  const variant = join(dir, 'run-lr');
  t.equal(gmel('train', '--algo', 'dqn', '--preset', 'smoke', '--seed', '5', '--out', variant, '--set', 'ieds=4', '--config', 'lr=0.002', '--no-progress').status, 0);
  const mixed = gmel('eval', '--runs', run, variant, '--seeds', '2', '--out', join(dir, 'eval-4'));
  t.equal(mixed.status, 2, 'runs of one algorithm with other settings are refused');
  t.match(mixed.stderr, /differ in learner/);
  const sameSeed = join(dir, 'run-s3-again');
  t.equal(gmel('train', '--algo', 'dqn', '--preset', 'smoke', '--seed', '3', '--out', sameSeed, '--set', 'ieds=4', '--no-progress').status, 0);
  const repeated = gmel('eval', '--runs', run, sameSeed, '--seeds', '2', '--out', join(dir, 'eval-5'));
  t.equal(repeated.status, 2, 'two runs of one training seed are refused');
  t.match(repeated.stderr, /same training seed 3/);
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
