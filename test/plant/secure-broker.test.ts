// Every runtime can reach a broker that wants a username/password and TLS (Mosquitto with a private CA):
// refused without credentials or without trusting the CA, connected with both.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { connectMqtt } from '../../protocol/mqtt.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { MOSQUITTO, hasMosquitto } from '../helpers/brokers.ts';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

t.test('TLS and username/password', { skip: hasMosquitto && hasOpenssl ? false : 'needs mosquitto and openssl (.ci/run installs mosquitto)', timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-tls-'));
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  };
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gmel-test-ca']);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('openssl', ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext']);
  run('mosquitto_passwd', ['-c', '-b', join(dir, 'passwd'), 'gmel', 'plant-secret']);
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  writeFileSync(join(dir, 'mosquitto.conf'), [`listener ${port} 127.0.0.1`, `cafile ${dir}/ca.crt`, `certfile ${dir}/server.crt`, `keyfile ${dir}/server.key`, 'allow_anonymous false', `password_file ${dir}/passwd`, 'user root', ''].join('\n'));
  const broker: ChildProcess = spawn(MOSQUITTO as string, ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 600));
  const url = `mqtts://127.0.0.1:${port}`;
  const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const attempt = async (opts: { username?: string; password?: string; ca?: string }) => {
    try {
      const c = await connectMqtt({ url, clientId: `tls-${Math.random()}`, protocolVersion: 5, ...opts });
      await c.endAsync(true);
      return 'connected';
    } catch (err) {
      return (err as Error).message;
    }
  };
  t.match(await attempt({ ca }), /cannot connect/, 'no credentials: refused');
  t.match(await attempt({ username: 'gmel', password: 'wrong', ca }), /cannot connect/, 'wrong password: refused');
  t.match(await attempt({ username: 'gmel', password: 'plant-secret' }), /cannot connect/, 'untrusted certificate: refused');
  t.equal(await attempt({ username: 'gmel', password: 'plant-secret', ca }), 'connected', 'credentials and the CA: connected');
  // the whole plant (gateway, edge servers, emulator) through that broker
  const plant = await startPlant({ scenario: loadScenario('gmel2024', { ieds: 4 }), modelPath: 'models/gmel2024-amarl', brokerUrl: url, username: 'gmel', password: 'plant-secret', ca, logger: pino({ level: 'silent' }) });
  await new Promise((r) => setTimeout(r, 2000));
  const announced = plant.emulator.announced;
  await plant.stop(true);
  const k = plant.kpi.snapshot();
  t.ok(announced > 5 && k.completed + k.dropped.total === announced, `the plant ran over TLS with credentials (${announced} tasks, all resolved)`);
  broker.kill('SIGTERM');
});
