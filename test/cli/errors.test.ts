// Every user error is one line on stderr and exit status 2, never a stack (issue #13); daemons wait
// for a broker that is not up yet instead of exiting.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateKeys } from '../../deploy/signing.ts';
import { freePort, startAedes } from '../helpers/brokers.ts';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'gmel-errors-'));
const gmel = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
const cwdBin = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

t.test('user errors: one line, exit 2', async (t) => {
  const keys = generateKeys(join(root, 'keys'));
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const busyPort = String((busy.address() as { port: number }).port);
  const cases: [string[], RegExp][] = [
    [['ied', '--ieds', '0', '--broker', '127.0.0.1:1999'], /--broker.*mqtt:\/\/host:1883/],
    [['edge', '--id', '1', '--broker', 'http://127.0.0.1:1999'], /scheme must be one of mqtt:\/\//],
    [['edge', '--id', '1', '--log-level', 'verbose'], /--log-level.*verbose.*Allowed choices/],
    [['sim', '--episodes', '0'], /--episodes must be at least 1/],
    [['eval', '--seeds', '2'], /give --runs <run folders> to evaluate \(or --heuristics-only/],
    [['deploy', 'desire', '--broker', 'mqtt://127.0.0.1:1', '--ieds', '0', '--model-set', 'plant', '--version', 'v1', '--registry', 'http://127.0.0.1:2'], /ECONNREFUSED.*nothing is listening there/],
    [['train', '--backend', 'tfjs-node', '--out', join(root, 'r'), '--episodes', '1'], /--backend tfjs-node is not available here/],
    [['deploy', 'bundle', '--ied', '0', '--key', keys.publicKey, '--out', join(root, 'bundles')], /is a public key: sign with the \.key file/],
    [['up', '--port', busyPort, '--duration', '1'], /--port \d+ is already in use/],
    [['up', '--gateways', '51', '--duration', '1'], /--gateways must be an integer in 1\.\.50 \(at most one per IED/],
  ];
  for (const [args, message] of cases) {
    const r = args[0] === 'deploy' || args[0] === 'up' ? cwdBin(args) : gmel(...args);
    t.equal(r.status, 2, `${args.join(' ')} exits 2`);
    t.match(r.stderr, message, args.join(' '));
    t.notMatch(r.stderr, /\n\s+at /, 'no stack trace');
    t.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr.trim()}`);
  }
  t.notOk(existsSync(join(root, 'bundles', 'ied-0')), 'no half-built bundle is left behind');
  busy.close();
});

t.test('no colours when piped', async (t) => {
  const r = gmel('sim', '--episodes', '1');
  t.equal(r.status, 0, r.stderr);
  t.notMatch(r.stdout, /\x1b\[/, 'no ANSI escapes in a piped table');
});

t.test('--version', async (t) => {
  const r = gmel('--version');
  t.equal(r.status, 0);
  const help = gmel('export', '--help');
  t.match(help.stdout, /--version <v>/, 'a command\'s own --version stays its own');
  t.equal(r.stdout.trim(), (JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version);
});

t.test('a daemon waits for its broker, says so once, and connects when it comes', { timeout: 60_000 }, async (t) => {
  const brokerPort = await freePort();
  const httpPort = await freePort();
  const child = spawn(process.execPath, [bin, 'edge', '--id', '1', '--broker', `mqtt://127.0.0.1:${brokerPort}`, '--http-port', String(httpPort), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  for (let k = 0; k < 100 && !/retrying with backoff/.test(out); k++) await new Promise((r) => setTimeout(r, 100));
  t.match(out, /retrying with backoff/, 'says it waits');
  await new Promise((r) => setTimeout(r, 2500));
  t.equal(child.exitCode, null, 'still running while the broker is down');
  t.equal(out.match(/retrying with backoff/g)?.length, 1, 'said once, not per try');
  const broker = await startAedes(brokerPort);
  let healthy = false;
  for (let k = 0; k < 150 && !healthy; k++) {
    await new Promise((r) => setTimeout(r, 200));
    healthy = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false);
  }
  t.ok(healthy, 'connected once the broker came up');
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await broker.close();
});
