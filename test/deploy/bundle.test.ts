// Signed gateway bundles: keys, a bundle that verifies and runs on its own, and refusals of a tampered
// file, an unlisted file and a wrong key.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { generateKeys, verifyBundle } from '../../deploy/signing.ts';
import { buildBundle } from '../../deploy/bundle.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes } from '../helpers/brokers.ts';
import { createServer } from 'node:http';
import { GATEWAY_NODE_FLAGS } from '../../deploy/bundle.ts';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const root = mkdtempSync(join(tmpdir(), 'gmel-deploy-'));
const keys = generateKeys(join(root, 'keys'));
const other = generateKeys(join(root, 'other'));
const pub = readFileSync(keys.publicKey, 'utf8');

t.test('keys', async (t) => {
  t.equal(statSync(keys.privateKey).mode & 0o777, 0o600, 'private key readable by its owner only');
  t.throws(() => generateKeys(join(root, 'keys')), /exists: refusing to overwrite/);
});

t.test('a bundle verifies, installs cleanly and runs on its own', { timeout: 120_000 }, async (t) => {
  const { dir, manifest } = await buildBundle({ ied: 3, modelPath: 'models/gmel2024-amarl', outDir: join(root, 'bundles'), privateKeyPem: readFileSync(keys.privateKey, 'utf8'), broker: 'mqtt://127.0.0.1:1883' });
  t.equal(manifest.ied, 3);
  t.ok(manifest.files['gmel-ied.mjs'] && manifest.files['model/ied-3.onnx'] && manifest.files['install.sh'] && manifest.files['gmel-ied-3.service'], 'runtime, model, installer and unit are signed');
  t.same(verifyBundle(dir, pub).files, manifest.files);
  t.equal(spawnSync('bash', ['-n', join(dir, 'install.sh')]).status, 0, 'install.sh parses');
  const unit = readFileSync(join(dir, 'gmel-ied-3.service'), 'utf8');
  t.match(unit, /--http-port 9103 /, 'a port of its own per IED (9100 + 3): two IEDs on one host do not clash');
  t.match(unit, /--trusted-key \/etc\/gmel\/deploy\.pub /, 'over-the-air updates on, with the key installed out of band');
  t.match(unit, /--journal \/var\/lib\/gmel\/ied-3\/journal\n/, 'crash-safe: the task journal in the unit\'s private state directory');
  t.match(unit, /ExecStart=\/usr\/bin\/env node --max-semi-space-size=1 --no-opt --no-sparkplug --optimize-for-size gmel-ied\.mjs /, 'a small young generation and no optimizing compilers: the memory of a one-IED gateway (bench gateway)');
  t.match(unit, /^StateDirectoryMode=0700$/m, 'which only the gateway\'s user can read');
  t.match(readFileSync(join(dir, 'install.sh'), 'utf8'), /needs Node\.js 20 or newer/, 'install.sh checks the host\'s Node');
  await t.rejects(buildBundle({ ied: 3, modelPath: 'models/gmel2024-amarl', outDir: join(root, 'evil'), privateKeyPem: readFileSync(keys.privateKey, 'utf8'), broker: 'mqtt://b:1883\nExecStartPre=/bin/sh -c id' }), /--broker .*not a plain URL/, 'no directive smuggled into the signed unit');
  // install.sh checks with the host's openssl and sha256sum, never with code from the bundle
  const verify = (bundle: string, pubPath: string) => spawnSync('sh', [join(bundle, 'install.sh'), '--verify-only', pubPath], { encoding: 'utf8' });
  const v = verify(dir, keys.publicKey);
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /bundle ok: IED 3/);
  const bad = verify(dir, other.publicKey);
  t.equal(bad.status, 1, 'install.sh refuses a bundle signed by another key');
  t.match(bad.stderr, /not signed by the key/);
  const forged = join(root, 'forged-bundle');
  cpSync(dir, forged, { recursive: true });
  writeFileSync(join(forged, 'gmel-ied.mjs'), "console.log(JSON.stringify({ ok: true }));\n");
  const f = verify(forged, keys.publicKey);
  t.equal(f.status, 1, 'a replaced gmel-ied.mjs cannot vouch for itself');
  t.match(f.stderr, /does not match its signed checksum/);
  writeFileSync(join(forged, 'gmel-ied.mjs'), readFileSync(join(dir, 'gmel-ied.mjs')));
  t.equal(verify(forged, keys.publicKey).status, 0, 'restored');
  writeFileSync(join(forged, 'extra.sh'), 'echo hi\n');
  const x = verify(forged, keys.publicKey);
  t.equal(x.status, 1, 'a file outside the signed list is refused');
  t.match(x.stderr, /files not in the signed list: extra\.sh/);

  // run it from a copy of the bundle alone (its own node_modules), against a broker
  const broker = await startAedes();
  const copy = join(root, 'copied-bundle');
  cpSync(dir, copy, { recursive: true });
  const child = spawn(process.execPath, ['gmel-ied.mjs', '--ieds', '3', '--model', 'model', '--scenario', 'scenario.json', '--broker', broker.url, '--log-level', 'warn'], { cwd: copy, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += String(d)));
  const client = await mqtt.connectAsync(broker.url, { clientId: 'bundle-test' });
  const decisions: string[] = [];
  client.on('message', (_topic, payload) => decisions.push((JSON.parse(payload.toString()) as { taskId: string }).taskId));
  await client.subscribeAsync(topics.decision(3), { qos: 1 });
  for (let k = 0; k < 100 && decisions.length === 0; k++) {
    await client.publishAsync(topics.task(3), JSON.stringify({ v: 1, taskId: `b-${k}`, iedId: 3, sizeMbit: 8, density: 0.02, deadlineSeconds: 2, createdAt: Date.now() }), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(decisions.length > 0, `the bundled gateway decided (${decisions[0] ?? 'nothing'}) ${stderr}`);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await client.endAsync();
  await broker.close();

  // tampering
  const model = join(dir, 'model', 'ied-3.onnx');
  const bytes = readFileSync(model);
  bytes[50] = (bytes[50] as number) ^ 1;
  writeFileSync(model, bytes);
  t.throws(() => verifyBundle(dir, pub), /model\/ied-3\.onnx does not match its sha256/);
  bytes[50] = (bytes[50] as number) ^ 1;
  writeFileSync(model, bytes);
  t.ok(verifyBundle(dir, pub), 'restored');
  writeFileSync(join(dir, 'extra.sh'), 'echo injected\n');
  t.throws(() => verifyBundle(dir, pub), /files not in the signed manifest: extra\.sh/);
  t.throws(() => verifyBundle(dir, readFileSync(other.publicKey, 'utf8')), /signature does not match/);
});

t.test('the unit\'s Node flags keep what the gateway needs: WebAssembly and fetch (over-the-air downloads)', async (t) => {
  const server = createServer((_req, res) => res.end('model bytes'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const script = `console.log(typeof WebAssembly); fetch('http://127.0.0.1:${port}/x').then((r) => r.text()).then((t) => console.log(t))`;
  const { stdout } = await promisify(execFile)(process.execPath, [...GATEWAY_NODE_FLAGS, '-e', script], { timeout: 20_000 });
  server.close();
  t.same(stdout.trim().split('\n'), ['object', 'model bytes'], `node ${GATEWAY_NODE_FLAGS.join(' ')}: WebAssembly is there and fetch downloads`);
});
