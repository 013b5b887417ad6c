// Who may say what (issue #10): `gmel deploy acl` writes the broker's identities and per-device ACL, and a
// real Mosquitto started with exactly those files refuses strangers, forgers, impersonators and
// unauthorised OTA, while every legitimate flow (and the plant's own runtimes) still works.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { brokerAuthFiles, parseCredentials, passwdLine, plantIdentities, renderAcl } from '../../deploy/acl.ts';
import { topics } from '../../protocol/topics.ts';
import { connectMqtt } from '../../protocol/mqtt.ts';
import { PLANT_EPOCH_MS, systemClock } from '../../protocol/clock.ts';
import { loadScenario } from '../../core/scenario/load.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { PlantEmulator } from '../../plant/emulator.ts';
import { KpiMonitor } from '../../plant/kpi.ts';
import { TwinMirror } from '../../twin/mirror.ts';
import { hasMosquitto, startMosquitto } from '../helpers/brokers.ts';

const bin = fileURLToPath(new URL('../../bin/gmel.js', import.meta.url));
const hasPasswdTool = spawnSync('mosquitto_passwd', ['-h']).error === undefined;
const NOT_AUTHORIZED = 0x87;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('the rules and the files, without a broker', async (t) => {
  const acl = renderAcl(plantIdentities({ ieds: 6, edgeServers: 2, gateways: [{ first: 4, last: 5 }] }));
  const block = (user: string) => acl.split(`user ${user}\n`)[1]?.split('\n\n')[0] ?? '';
  t.match(block('ied-1'), /^topic read gmel\/v1\/ied\/1\/task$/m, 'a gateway reads its own tasks');
  t.notMatch(block('ied-1'), /ied\/[02-9]\//, 'and names no other IED');
  t.match(block('gateway-4-5'), /topic write gmel\/v1\/ied\/4\/decision\ntopic write gmel\/v1\/ied\/4\/result/, 'a range gateway speaks for IED 4');
  t.match(block('gateway-4-5'), /topic readwrite gmel\/v1\/status\/ied\/4-5$/m, 'under the status id of `gmel ied --ieds 4-5`');
  t.notOk(acl.includes('user ied-4'), 'IEDs of a range gateway get no identity of their own');
  t.equal(acl.match(/^topic write gmel\/v1\/ied\/\+\/model$/gm)?.length, 1, 'one identity may publish desired models');
  t.match(block('rollout'), /topic write gmel\/v1\/ied\/\+\/model$/m, 'and it is rollout');
  t.throws(() => plantIdentities({ ieds: 6, edgeServers: 1, gateways: [{ first: 0, last: 3 }, { first: 3, last: 5 }] }), /share IEDs/, 'overlapping gateways refused');
  const kept = brokerAuthFiles({ ieds: 2, edgeServers: 1, confDir: '/etc/x', password: () => 'new', previous: { format: 'gmel-broker-credentials/1', identities: { 'ied-0': { password: 'old', role: 'gateway' } } } });
  const creds = parseCredentials(kept.files['credentials.json']).identities;
  t.same([creds['ied-0']?.password, creds['ied-1']?.password], ['old', 'new'], 'a re-run keeps existing passwords, draws new ones for new identities');
  t.match(kept.files['mosquitto.conf'], /^password_file \/etc\/x\/passwd$/m);
  if (!hasPasswdTool) {
    t.comment('mosquitto_passwd not installed: hash format not compared with it');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'gmel-passwd-'));
  spawnSync('mosquitto_passwd', ['-c', '-b', join(dir, 'pw'), 'ied-7', 'S3cret:pass'], { encoding: 'utf8' });
  const theirs = readFileSync(join(dir, 'pw'), 'utf8').trim();
  const [, , iterations, salt] = theirs.split('$'); // user:$7$iterations$salt$hash
  t.equal(passwdLine('ied-7', 'S3cret:pass', Buffer.from(salt as string, 'base64'), Number(iterations)), theirs, 'the same line as mosquitto_passwd for its salt');
});

t.test('Mosquitto enforces the generated ACL', { skip: hasMosquitto ? false : 'needs mosquitto (apt-get install mosquitto)', timeout: 90_000 }, async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'gmel-acl-'));
  const r = spawnSync(process.execPath, [bin, 'deploy', 'acl', '--set', 'ieds=6', '--gateway', '4-5', '--out', out], { encoding: 'utf8', timeout: 60_000 });
  t.equal(r.status, 0, `gmel deploy acl: ${r.stderr}`);
  t.equal(statSync(join(out, 'credentials.json')).mode & 0o777, 0o600, 'credentials.json is readable by its owner only');
  const creds = parseCredentials(readFileSync(join(out, 'credentials.json'), 'utf8'));
  const pw = (user: string) => creds.identities[user]?.password ?? 'none';
  // `user root`: a broker started as root would drop to the mosquitto user, who cannot read a test's
  // private temp folder (in production: install the files owned by mosquitto, mode 0600)
  const broker = await startMosquitto({ config: `${readFileSync(join(out, 'mosquitto.conf'), 'utf8')}user root\n` });
  t.teardown(() => broker.stop());

  let n = 0;
  const open: MqttClient[] = [];
  t.teardown(() => Promise.all(open.map((c) => c.endAsync(true))));
  const inboxes = new Map<MqttClient, string[]>();
  /** every message a client receives as "topic payload", listened to before CONNACK (a resumed session's queue comes with it) */
  const inbox = (c: MqttClient) => inboxes.get(c) ?? [];
  /** one connection per identity: the broker makes the username the client id, so a second one replaces the first */
  const connect = (user: string | undefined, o: IClientOptions = {}) => new Promise<MqttClient>((resolve, reject) => {
    const c = mqtt.connect(broker.url, { protocolVersion: 5, clientId: `c${n++}`, reconnectPeriod: 0, connectTimeout: 3000, ...(user ? { username: user, password: pw(user) } : {}), ...o });
    const got: string[] = [];
    inboxes.set(c, got);
    c.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    c.once('connect', () => (open.push(c), resolve(c)));
    c.once('error', (err) => (c.end(true), reject(err)));
  });
  const tryConnect = (user: string | undefined, o: IClientOptions = {}) => connect(user, o).then((c) => (c.end(true), 'connected'), (err: Error & { code?: number }) => `refused (${err.code ?? err.message})`);
  /** the PUBACK's reason code: 0 delivered to the broker's subscribers, ≥ 0x80 refused */
  const publish = (c: MqttClient, topic: string, payload: string, retain = false) => c.publishAsync(topic, payload, { qos: 1, retain }).then(() => 0, (err: { code?: number }) => err.code ?? -1);
  /** the SUBACK's reason code (Mosquitto 2.0 grants a subscription its ACL does not allow, then delivers nothing on it) */
  const subscribe = (c: MqttClient, topic: string) => c.subscribeAsync(topic, { qos: 1 }).then((g) => g[0]?.qos ?? -1, (err: { code?: number }) => err.code ?? -1);
  const watcher = await connect('twin');
  t.equal(await subscribe(watcher, 'gmel/v1/#'), 1, 'the twin reads everything under gmel/v1');
  const seen = inbox(watcher);

  t.test('(a, b) strangers are refused at the door', async (t) => {
    t.match(await tryConnect(undefined), /refused/, 'anonymous: refused');
    t.match(await tryConnect('ied-1', { password: 'guess' }), /refused/, 'a wrong password: refused');
    t.match(await tryConnect('nobody', { password: pw('ied-1') }), /refused/, 'an unknown user with a real password: refused');
    t.equal(await tryConnect('operator'), 'connected', 'the generated hash is accepted by Mosquitto');
  });

  t.test('(c) the forger: no device speaks for another one', async (t) => {
    const edge2 = await connect('edge-2');
    const ied1 = await connect('ied-1');
    t.equal(await publish(edge2, topics.result(3), 'forged-1'), NOT_AUTHORIZED, 'edge-2 publishing a result for IED 3: refused');
    t.equal(await publish(ied1, topics.result(3), 'forged-2'), NOT_AUTHORIZED, 'ied-1 publishing a result for IED 3: refused');
    t.equal(await publish(ied1, topics.edgeResult(3, 2), 'forged-3'), NOT_AUTHORIZED, 'ied-1 publishing an edge result for IED 3: refused');
    t.equal(await publish(edge2, topics.edgeResult(1, 1), 'forged-8'), NOT_AUTHORIZED, 'edge-2 publishing an edge result as edge server 1: refused');
    t.equal(await publish(ied1, topics.decision(3), 'forged-4'), NOT_AUTHORIZED, 'ied-1 publishing a decision for IED 3: refused');
    t.equal(await publish(ied1, topics.task(1), 'forged-5'), NOT_AUTHORIZED, 'a gateway announcing tasks, even its own: refused');
    t.equal(await publish(edge2, topics.edgeState(1), 'forged-6'), NOT_AUTHORIZED, 'edge-2 publishing edge 1\'s state: refused');
    t.equal(await publish(edge2, topics.status('ied', 3), 'forged-7'), NOT_AUTHORIZED, 'edge-2 reporting IED 3\'s status: refused');
    t.equal(await publish(ied1, topics.band(3), 'forged-9'), NOT_AUTHORIZED, 'ied-1 reporting the band as gateway 3: refused');
    t.equal(await publish(edge2, topics.band(2), 'forged-10'), NOT_AUTHORIZED, 'an edge server reporting the band: refused');
    await subscribe(ied1, 'gmel/v1/band/+');
    const gw45 = await connect('gateway-4-5');
    t.equal(await publish(gw45, topics.band(4), 'ok-band-4'), 0, 'gateway-4-5 reports its band share as band/4');
    t.equal(await publish(ied1, topics.band(1), 'ok-band'), 0, 'ied-1 reports its own band share');
    await sleep(200);
    t.ok(inbox(ied1).includes(`${topics.band(4)} ok-band-4`), 'and reads the other gateways\'');
    await gw45.endAsync();
    await sleep(300);
    t.same(seen.filter((m) => m.includes('forged-')), [], 'the twin received none of them');
    await Promise.all([edge2.endAsync(), ied1.endAsync()]);
  });

  t.test('(d) the impersonator: no reading another device\'s topics, no taking its session', async (t) => {
    const ied3 = await connect('ied-3', { clientId: 'gmel-ied-3', clean: false, properties: { sessionExpiryInterval: 600 } });
    t.equal(await subscribe(ied3, topics.task(3)), 1, 'ied-3 subscribes to its tasks');
    let ied3Closed = 0;
    ied3.on('close', () => ied3Closed++);
    const got3 = inbox(ied3);
    const spy = await connect('ied-1', { clientId: 'gmel-ied-3' });
    const spied = inbox(spy);
    const code = await subscribe(spy, topics.task(3));
    const wild = await subscribe(spy, 'gmel/v1/ied/+/task');
    const plant = await connect('plant');
    t.equal(await publish(plant, topics.task(3), 'task-3a'), 0, 'the plant announces a task for IED 3');
    await sleep(300);
    t.same(got3, [`${topics.task(3)} task-3a`], 'ied-3 received it');
    t.same(spied, [], `ied-1 subscribing to IED 3's tasks (SUBACK 0x${code.toString(16)}) or to every task (0x${wild.toString(16)}) receives nothing`);
    t.equal(ied3Closed, 0, 'ied-1 connecting with ied-3\'s client id did not disconnect ied-3');
    await ied3.endAsync();
    t.equal(await publish(plant, topics.task(3), 'task-3b'), 0, 'a task for IED 3 while it is away');
    const thief = await connect('ied-1', { clientId: 'gmel-ied-3', clean: false, properties: { sessionExpiryInterval: 600 } });
    const stolen = inbox(thief);
    await sleep(300);
    t.same(stolen, [], 'ied-1 resuming "gmel-ied-3"\'s persistent session gets none of its queued tasks');
    const back = await connect('ied-3', { clientId: 'gmel-ied-3', clean: false, properties: { sessionExpiryInterval: 600 } });
    const resumed = inbox(back);
    await sleep(300);
    t.same(resumed, [`${topics.task(3)} task-3b`], 'ied-3 resumes its own session and receives the queued task');
    await Promise.all([spy, thief, plant, back].map((c) => c.endAsync()));
  });

  t.test('(e) over the air: only rollout may desire a model', async (t) => {
    const ied1 = await connect('ied-1');
    t.equal(await subscribe(ied1, topics.desiredModel(1)), 1, 'ied-1 follows its desired model');
    const wanted = inbox(ied1);
    for (const user of ['ied-1', 'twin', 'plant', 'operator', 'edge-1']) {
      const c = user === 'ied-1' ? ied1 : user === 'twin' ? watcher : await connect(user);
      t.equal(await publish(c, topics.desiredModel(1), `ota-from-${user}`, true), NOT_AUTHORIZED, `${user} publishing gmel/v1/ied/1/model: refused`);
    }
    const rollout = await connect('rollout');
    t.equal(await publish(rollout, topics.desiredModel(1), 'ota-from-rollout', true), 0, 'rollout publishing it: accepted');
    await sleep(300);
    t.same(wanted, [`${topics.desiredModel(1)} ota-from-rollout`], 'the gateway received only rollout\'s');
    t.same(seen.filter((m) => m.includes('ota-from-') && !m.includes('rollout')), [], 'the twin saw no other');
    const late = await connect('operator');
    const retained = inbox(late);
    await subscribe(late, topics.desiredModel(1));
    await sleep(200);
    t.same(retained, [`${topics.desiredModel(1)} ota-from-rollout`], 'the retained desire is rollout\'s');
  });

  t.test('(f) the legitimate flows', async (t) => {
    const [plant, ied1, edge2, rollout] = await Promise.all(['plant', 'ied-1', 'edge-2', 'rollout'].map((u) => connect(u)));
    for (const topic of [topics.task(1), topics.edgeResultsOf(1), 'gmel/v1/edge/+/state'])
      t.equal(await subscribe(ied1 as MqttClient, topic), 1, `ied-1 subscribes to ${topic}`);
    t.equal(await subscribe(edge2 as MqttClient, topics.offload(2)), 1, 'edge-2 subscribes to its offloads');
    t.equal(await subscribe(rollout as MqttClient, 'gmel/v1/ied/+/decision'), 1, 'rollout subscribes to every decision');
    const [gw, edge, ro] = [inbox(ied1 as MqttClient), inbox(edge2 as MqttClient), inbox(rollout as MqttClient)];
    t.equal(await publish(plant as MqttClient, topics.task(1), 'ok-task'), 0, 'plant announces a task for IED 1');
    await sleep(200);
    t.same(gw, [`${topics.task(1)} ok-task`], 'ied-1 receives it');
    t.equal(await publish(ied1 as MqttClient, topics.decision(1), 'ok-decision'), 0, 'ied-1 publishes its decision');
    t.equal(await publish(ied1 as MqttClient, topics.offload(2), 'ok-offload'), 0, 'ied-1 offloads to edge server 2');
    await sleep(200);
    t.same(edge, [`${topics.offload(2)} ok-offload`], 'edge-2 receives the offload');
    t.equal(await publish(edge2 as MqttClient, topics.edgeState(2), 'ok-state'), 0, 'edge-2 publishes its state');
    t.equal(await publish(edge2 as MqttClient, topics.edgeResult(1, 2), 'ok-edge-result'), 0, 'edge-2 publishes the edge result for IED 1');
    await sleep(200);
    t.equal(await publish(ied1 as MqttClient, topics.result(1), 'ok-result'), 0, 'ied-1 publishes the result');
    t.equal(await publish(ied1 as MqttClient, topics.reportedModel(1), 'ok-reported'), 0, 'ied-1 reports its model');
    await sleep(300);
    t.same(gw.slice(1), [`${topics.edgeState(2)} ok-state`, `${topics.edgeResult(1, 2)} ok-edge-result`], 'ied-1 receives the edge state and its edge result');
    t.same(ro, [`${topics.decision(1)} ok-decision`], 'rollout sees the decision');
    for (const m of ['ok-task', 'ok-decision', 'ok-offload', 'ok-state', 'ok-edge-result', 'ok-result', 'ok-reported'])
      t.ok(seen.some((s) => s.endsWith(` ${m}`)), `the twin sees ${m}`);
    await Promise.all([plant, ied1, edge2, rollout].map((c) => (c as MqttClient).endAsync()));
  });

  t.test('the plant\'s own runtimes run under their identities', async (t) => {
    const s = loadScenario('gmel2024', { ieds: 6 });
    const logger = pino({ level: 'silent' });
    const as = (user: string, device?: { kind: 'ied' | 'edge' | 'emulator' | 'twin'; id: string }) =>
      connectMqtt({ url: broker.url, clientId: `gmel-${user}`, username: user, password: pw(user), protocolVersion: 5, ...(device ? { device } : {}) }).then((c) => (open.push(c), c));
    const base = { scenario: s, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger };
    const edges = [];
    for (let m = 1; m <= s.edgeServers; m++) edges.push(await EdgeServerRuntime.create({ ...base, edgeServerId: m, mqtt: await as(`edge-${m}`, { kind: 'edge', id: String(m) }) }));
    const gateways = [];
    for (const [user, ieds, id] of [['ied-1', [1], '1'], ['gateway-4-5', [4, 5], '4-5']] as const)
      gateways.push(await IedGatewayRuntime.create({ ...base, iedIds: ieds, model: await loadModelHandle('models/gmel2024-amarl', s, ieds, 'node'), mqtt: await as(user, { kind: 'ied', id }) }));
    // the twin's own identity (its single connection replaces the watcher's)
    const mirror = await TwinMirror.create(await as('twin', { kind: 'twin', id: 'mirror' }), { scenario: s, epochMs: PLANT_EPOCH_MS, now: () => Date.now() });
    const kpi = await KpiMonitor.create(await as('operator'));
    const emulator = PlantEmulator.create({ ...base, mqtt: await as('plant', { kind: 'emulator', id: 'plant' }), seed: 1, iedIds: [1, 4, 5] });
    await sleep(2500);
    emulator.stop();
    for (let k = 0; k < 100 && gateways.some((g) => g.pending > 0); k++) await sleep(100);
    await sleep(300);
    const k = kpi.snapshot();
    t.ok(emulator.announced > 5 && k.completed + k.dropped.total === emulator.announced, `every announced task has its outcome (${emulator.announced} tasks, ${k.completed} completed)`);
    const offloaded = [1, 4, 5].reduce((sum, i) => sum + (mirror.devices.get(`ied-${i}`)?.decisions.edge ?? 0), 0);
    t.ok(offloaded > 0 && k.dropped.edge < offloaded, `offloads and edge results flowed too (${offloaded} offloaded, ${k.dropped.edge} of them dropped at the edge)`);
    const online = [...mirror.services, ...mirror.devices].filter(([, v]) => v.online).map(([k]) => k).sort();
    t.same(online, ['edge-1', 'edge-2', 'edge-3', 'edge-4', 'edge-5', 'emulator-plant', 'gateway-1', 'gateway-4-5', 'ied-1', 'ied-4', 'ied-5', 'twin-mirror'], 'every runtime\'s status (its Last Will\'s topic) got through to the twin');
    for (const g of gateways) {
      await g.close();
      await releaseModel(g.currentModel);
    }
    for (const e of edges) await e.close();
  });
});
