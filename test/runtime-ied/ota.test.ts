// Over the air: a signed version published to the registry and desired for a gateway is downloaded,
// verified, swapped in and reported; an unsigned, wrongly signed or missing version is refused and the
// running model kept.
import t from 'tap';
import pino from 'pino';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { signModelSet } from '../../core/model-signature.ts';
import { generateKeys } from '../../deploy/signing.ts';
import { buildRegistryApp } from '../../deploy/registry.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { resolveModelDir } from '../../core/model-set.ts';
import { ModelUpdater } from '../../runtime-ied/ota.ts';
import { decode, encode } from '../../protocol/codec.ts';
import { topics } from '../../protocol/topics.ts';
import type { ReportedModel } from '../../protocol/messages.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const token = 'ota-test-token-0123456789';

/** A registry holding copies of the shipped set under these versions, each signed by its key (or not). */
async function registryWith(root: string, versions: Record<string, string | undefined>) {
  const source = resolveModelDir('models/gmel2024-amarl');
  const failedUploads: string[] = [];
  const registry = buildRegistryApp({ storeDir: join(root, 'store'), token });
  const url = await registry.listen({ port: 0, host: '127.0.0.1' });
  for (const [version, key] of Object.entries(versions)) {
    const dir = join(root, 'build', version);
    cpSync(source, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, version }));
    if (key) signModelSet(dir, readFileSync(key, 'utf8'));
    const files = readdirSync(dir).filter((f) => f !== 'manifest.json');
    for (const f of [...files, 'manifest.json']) {
      const res = await fetch(`${url}/models/plant/${version}/${f}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: readFileSync(join(dir, f)) });
      if (res.status !== 201 && res.status !== 202) failedUploads.push(`${version}/${f}: ${res.status}`);
    }
  }
  return { registry, url, failedUploads };
}

t.test('desired version → download, verify, swap, report; bad versions refused', { timeout: 60_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-ota-'));
  const keys = generateKeys(join(root, 'keys'));
  const stranger = generateKeys(join(root, 'stranger'));
  // three versions of the set: v2 signed by the deploy key, v3 signed by a stranger, v4 unsigned
  const versions: Record<string, string | undefined> = { v2: keys.privateKey, v3: stranger.privateKey, v4: undefined };
  const { registry, url, failedUploads } = await registryWith(root, versions);
  t.same(failedUploads, [], 'every file published');
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const scenario = loadScenario('gmel2024', { ieds: 4 });
  const logger = pino({ level: 'silent' });
  const first = await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1], 'node');
  const gwClient = await connect('gw');
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model: first, mqtt: gwClient, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
  const updater = await ModelUpdater.create({ gateway, mqtt: gwClient, iedIds: [0, 1], scenario, engine: 'node', trustedPublicKey: readFileSync(keys.publicKey, 'utf8'), workDir: join(root, 'ota'), logger });
  const reports: ReportedModel[] = [];
  const operator = await connect('operator');
  operator.on('message', (topic, payload) => {
    const d = decode(topic, payload);
    if (d.ok && d.kind === 'reportedModel' && d.message.iedId === 0) reports.push(d.message);
  });
  await operator.subscribeAsync(topics.reportedModel(0), { qos: 1 });
  const desire = async (version: string) => {
    await operator.publishAsync(topics.desiredModel(0), encode('desiredModel', { v: 1, iedId: 0, modelSet: 'plant', version, registry: url, at: Date.now() }), { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 300));
    await updater.settled();
    await new Promise((r) => setTimeout(r, 100));
    return reports.at(-1);
  };
  const running = (await desire('v2')) as ReportedModel;
  t.same([running.state, running.version], ['running', 'v2'], 'signed v2 is running and reported');
  t.equal(gateway.modelVersion, 'v2');
  const strangers = (await desire('v3')) as ReportedModel;
  t.same([strangers.state, strangers.version, strangers.refused?.version], ['refused', 'v2', 'v3'], 'v3 (another key) refused, v2 kept');
  t.match(strangers.refused?.reason ?? '', /signature does not match/);
  const unsigned = (await desire('v4')) as ReportedModel;
  t.match(unsigned.refused?.reason ?? '', /unsigned/);
  const missing = (await desire('v9')) as ReportedModel;
  t.match(missing.refused?.reason ?? '', /HTTP 404/);
  t.equal(gateway.modelVersion, 'v2', 'still running v2 after three refusals');
  await gateway.close();
  await releaseModel(gateway.currentModel);
  await endAll();
  await broker.close();
  await registry.close();
});

t.test('a refused version is tried again when desired again; a superseded one is never fetched', { timeout: 60_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-ota-race-'));
  const keys = generateKeys(join(root, 'keys'));
  const { registry, url, failedUploads } = await registryWith(root, { v2: keys.privateKey, v5: keys.privateKey, v6: keys.privateKey });
  t.same(failedUploads, [], 'every file published');
  // the registry "is down" for v2's first request, and answers slowly for v2 (so wishes queue up)
  const fetched: string[] = [];
  let v2Failures = 1;
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const u = String(input);
    fetched.push(u);
    if (u.includes('/v2/')) {
      if (v2Failures-- > 0) return new Response('down', { status: 503 });
      await new Promise((r) => setTimeout(r, 150));
    }
    return fetch(input, init);
  }) as typeof fetch;
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const scenario = loadScenario('gmel2024', { ieds: 4 });
  const logger = pino({ level: 'silent' });
  const gwClient = await connect('gw-race');
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model: await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1], 'node'), mqtt: gwClient, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
  const updater = await ModelUpdater.create({ gateway, mqtt: gwClient, iedIds: [0, 1], scenario, engine: 'node', trustedPublicKey: readFileSync(keys.publicKey, 'utf8'), workDir: join(root, 'ota'), logger, fetchImpl });
  const operator = await connect('operator-race');
  const desire = (version: string) => operator.publishAsync(topics.desiredModel(0), encode('desiredModel', { v: 1, iedId: 0, modelSet: 'plant', version, registry: url, at: Date.now() }), { qos: 1, retain: true });
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    await updater.settled();
  };
  const running: string[] = [];
  operator.on('message', (topic, payload) => {
    const d = decode(topic, payload);
    if (d.ok && d.kind === 'reportedModel' && d.message.iedId === 0 && d.message.state === 'running') running.push(d.message.version);
  });
  await operator.subscribeAsync(topics.reportedModel(0), { qos: 1 });
  await desire('v2');
  await settle();
  t.not(gateway.modelVersion, 'v2', 'v2 refused while the registry was down');
  // desired again (it downloads slowly now); meanwhile v5, then v6, are wished for
  await desire('v2');
  await new Promise((r) => setTimeout(r, 20));
  await desire('v5');
  await new Promise((r) => setTimeout(r, 5));
  await desire('v6');
  await settle();
  await new Promise((r) => setTimeout(r, 100));
  t.ok(running.includes('v2'), `v2 was tried again and ran (reports: ${running.join(', ')})`);
  t.equal(gateway.modelVersion, 'v6', 'the newest wish runs in the end');
  t.equal(fetched.filter((u) => u.includes('/v5/')).length, 0, 'v5, superseded while it waited, was never downloaded');
  await gateway.close();
  await releaseModel(gateway.currentModel);
  await endAll();
  await broker.close();
  await registry.close();
});
