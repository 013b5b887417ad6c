// Over the air, anti-rollback (#10): every signed set carries a signed, monotonic sequence
// (release.json); a gateway refuses a set below the one it installed unless the desire carries a
// rollback instruction signed by the deploy key; what it installed survives a restart, so stale
// retained wishes cannot take it back; the rollout's unsigned rollbacks work only behind the named
// option `unsignedRollbackWindowMs` (to the version it ran just before, for that long).
import t from 'tap';
import pino from 'pino';
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { signModelSet, signRollback } from '../../core/model-signature.ts';
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

const token = 'ota-rollback-token-0123456789';
const source = resolveModelDir('models/gmel2024-amarl');

t.test('anti-rollback', { timeout: 90_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-ota-rollback-'));
  const keys = generateKeys(join(root, 'keys'));
  const stranger = generateKeys(join(root, 'stranger'));
  const privateKey = readFileSync(keys.privateKey, 'utf8');
  const registry = buildRegistryApp({ storeDir: join(root, 'store'), token });
  const url = await registry.listen({ port: 0, host: '127.0.0.1' });
  for (const [version, sequence] of [['v1', 1], ['v2', 2], ['v3', 3]] as const) {
    const dir = join(root, 'build', version);
    cpSync(source, dir, { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), version }));
    signModelSet(dir, privateKey, { sequence });
    for (const f of [...readdirSync(dir).filter((f) => f !== 'manifest.json'), 'manifest.json'])
      await fetch(`${url}/models/plant/${version}/${f}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: readFileSync(join(dir, f)) });
  }
  const fetched: string[] = [];
  const fetchImpl = ((input: string | URL | Request, init?: RequestInit) => (fetched.push(String(input)), fetch(input, init))) as typeof fetch;
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const scenario = loadScenario('gmel2024', { ieds: 8 });
  const logger = pino({ level: 'silent' });
  const trustedPublicKey = readFileSync(keys.publicKey, 'utf8');
  const live: { gateway: IedGatewayRuntime; updater: ModelUpdater }[] = [];
  const start = async (name: string, iedIds: number[], workDir: string, extra: { unsignedRollbackWindowMs?: number } = {}) => {
    const c = await connect(`gw-${name}`);
    const gateway = await IedGatewayRuntime.create({ scenario, iedIds, model: await loadModelHandle(source, scenario, iedIds, 'node'), mqtt: c, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
    const updater = await ModelUpdater.create({ gateway, mqtt: c, iedIds, scenario, engine: 'node', trustedPublicKey, workDir, logger, fetchImpl, registry: url, ...extra });
    live.push({ gateway, updater });
    return { gateway, updater, client: c };
  };
  const reports: ReportedModel[] = [];
  const operator = await connect('operator');
  operator.on('message', (topic, payload) => {
    const d = decode(topic, payload);
    if (d.ok && d.kind === 'reportedModel') reports.push(d.message);
  });
  await operator.subscribeAsync([0, 1, 4].map((i) => topics.reportedModel(i)), { qos: 1 });
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    for (const l of live) await l.updater.settled();
    await new Promise((r) => setTimeout(r, 100));
  };
  const desire = async (iedId: number, version: string, o: { at?: number; rollbackKey?: string } = {}) => {
    const at = o.at ?? Date.now();
    const rollback = o.rollbackKey ? { rollbackSignature: signRollback({ modelSet: 'plant', version, at }, o.rollbackKey) } : {};
    await operator.publishAsync(topics.desiredModel(iedId), encode('desiredModel', { v: 1, iedId, modelSet: 'plant', version, registry: url, at, ...rollback }), { qos: 1, retain: true });
    await settle();
    return reports.filter((r) => r.iedId === iedId).at(-1);
  };

  const workDir = join(root, 'ota-a');
  let a = await start('a', [0, 1], workDir);
  t.equal((await desire(0, 'v2'))?.version, 'v2');
  t.equal((await desire(0, 'v3'))?.version, 'v3', 'upgrades follow the sequence');
  const anonymous = await desire(0, 'v2');
  t.same([anonymous?.state, anonymous?.version, anonymous?.refused?.version], ['refused', 'v3', 'v2'], 'an anonymous desire for v2 does not take v3 back');
  t.match(anonymous?.refused?.reason ?? '', /rollback refused: v2 has sequence 2, below v3's 3/);
  t.match((await desire(0, 'v2', { rollbackKey: readFileSync(stranger.privateKey, 'utf8') }))?.refused?.reason ?? '', /rollback instruction.*does not match/, 'a rollback signed by another key is refused');
  const signed = await desire(0, 'v2', { rollbackKey: privateKey });
  t.same([signed?.state, signed?.version], ['running', 'v2'], 'a signed rollback instruction takes it back');
  t.equal((await desire(0, 'v3'))?.version, 'v3');
  const installedAt = Date.now();

  // restart: a stale retained wish for v1 (older than v3's) must not bring v1 back, nor may a fresh anonymous one
  await operator.publishAsync(topics.desiredModel(0), '', { qos: 1, retain: true });
  await operator.publishAsync(topics.desiredModel(1), encode('desiredModel', { v: 1, iedId: 1, modelSet: 'plant', version: 'v1', registry: url, at: installedAt - 60_000 }), { qos: 1, retain: true });
  await a.gateway.close();
  await releaseModel(a.gateway.currentModel);
  await a.client.endAsync(true);
  live.length = 0;
  a = await start('a-restarted', [0, 1], workDir);
  await settle();
  t.not(a.gateway.modelVersion, 'v1', 'the stale retained v1 did not bring v1 back after the restart');
  t.same(fetched.filter((u) => u.includes('/v1/')), [], 'v1 was not even fetched');
  t.match((await desire(0, 'v1'))?.refused?.reason ?? '', /rollback refused: v1 has sequence 1, below v3's 3/, 'the installed sequence survived the restart');
  t.equal((await desire(0, 'v3'))?.version, 'v3', 'the installed version is followed again');
  await operator.publishAsync(topics.desiredModel(1), '', { qos: 1, retain: true });

  // the named option for the rollout's own (unsigned) rollbacks: back to the version run just before, only
  const b = await start('b', [4, 5], join(root, 'ota-b'), { unsignedRollbackWindowMs: 60_000 });
  for (const v of ['v1', 'v2', 'v3']) await desire(4, v);
  t.equal(b.gateway.modelVersion, 'v3');
  t.match((await desire(4, 'v1'))?.refused?.reason ?? '', /rollback refused/, 'not to an older version than the previous one');
  t.same([(await desire(4, 'v2'))?.state, b.gateway.modelVersion], ['running', 'v2'], 'to the previous version within the window');

  for (const l of live) {
    await l.gateway.close();
    await releaseModel(l.gateway.currentModel);
  }
  await endAll();
  await broker.close();
  await registry.close();
});
