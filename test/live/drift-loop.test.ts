// The closed loop: the plant drifts (its arrival rate changes) → the twin reports drift → fine-tunes
// the incumbent in a child process → promotes the candidate → signs and publishes it → canary → full
// rollout over the air. Timeline and completion rates are printed; the quick fine-tune here is too
// short to promise recovery, so the promotion margin is opened (the real margin is a twin option).
import t from 'tap';
import pino from 'pino';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../core/live/clock.ts';
import { signModelSet } from '../../core/model-signature.ts';
import { generateKeys } from '../../deploy/signing.ts';
import { buildRegistryApp } from '../../deploy/registry.ts';
import { publishModelSet } from '../../deploy/publish.ts';
import { train } from '../../trainer/train.ts';
import { exportRun } from '../../trainer/export-set.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { ModelUpdater } from '../../runtime-ied/ota.ts';
import { PlantEmulator } from '../../twin/live/emulator.ts';
import { TwinMirror } from '../../twin/live/mirror.ts';
import { KpiMonitor } from '../../twin/live/kpi.ts';
import { Retrainer } from '../../twin/live/retrainer.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const token = 'drift-loop-token-0123456789';

t.test('drift → fine-tune → promote → canary → rollout', { timeout: 180_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-loop-'));
  const keys = generateKeys(join(root, 'keys'));
  const privateKeyPem = readFileSync(keys.privateKey, 'utf8');
  const trained = loadScenario('gmel2024', { ieds: 4, episodeSlots: 40, 'arrivals.probability': 0.2 });
  const incumbentRun = join(root, 'incumbent');
  await train({ algo: 'amarl', scenario: trained, preset: 'smoke', seed: 1, outDir: incumbentRun, episodes: 4 });
  const first = exportRun({ runDir: incumbentRun, outDir: join(root, 'models', 'plant') });
  signModelSet(first.dir, privateKeyPem);
  const registry = buildRegistryApp({ storeDir: join(root, 'store'), token });
  const url = await registry.listen({ port: 0, host: '127.0.0.1' });
  await publishModelSet({ versionDir: first.dir, registry: url, token, modelSet: 'plant', version: first.manifest.version });

  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const logger = pino({ level: 'silent' });
  const edges = [];
  for (let m = 1; m <= trained.edgeServers; m++) edges.push(await EdgeServerRuntime.create({ scenario: trained, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
  const gateways: IedGatewayRuntime[] = [];
  for (const [name, ieds] of [['a', [0]], ['b', [1, 2, 3]]] as const) {
    const c = await connect(`gw-${name}`);
    const gw = await IedGatewayRuntime.create({ scenario: trained, iedIds: ieds, model: await loadModelHandle(first.dir, trained, ieds, 'node'), mqtt: c, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
    await ModelUpdater.create({ gateway: gw, mqtt: c, iedIds: ieds, scenario: trained, engine: 'node', trustedPublicKey: readFileSync(keys.publicKey, 'utf8'), workDir: join(root, `ota-${name}`), logger });
    gateways.push(gw);
  }
  // the plant drifts: tasks now arrive with probability 0.8, the actors were trained for 0.2
  const emulator = PlantEmulator.create({ scenario: loadScenario('gmel2024', { ieds: 4, 'arrivals.probability': 0.8 }), mqtt: await connect('emu'), clock: systemClock, epochMs: PLANT_EPOCH_MS, seed: 4, logger });
  const mirror = await TwinMirror.create(await connect('twin'), { scenario: trained, epochMs: PLANT_EPOCH_MS, now: () => Date.now(), windowSlots: 30, minTasks: 50 });
  const kpi = await KpiMonitor.create(await connect('kpi'));
  const events: string[] = [];
  const start = Date.now();
  const log = (line: string) => events.push(`${((Date.now() - start) / 1000).toFixed(1)} s ${line}`);
  const retrainer = new Retrainer({
    mirror, incumbentRun, modelSetDir: join(root, 'models', 'plant'), workDir: join(root, 'twin'), episodes: 3, marginPp: -100, onDrift: true, everyMs: 0, checkEveryMs: 500, log,
    deploy: { privateKeyPem, registry: url, token, modelSet: 'plant', mqtt: await connect('rollout'), iedIds: [0, 1, 2, 3], runningVersion: first.manifest.version, canaryFraction: 0.25, windowMs: 2500, maxDropPp: 60, minTasks: 5, logger },
  });
  const before = kpi.snapshot();
  for (let k = 0; k < 600 && retrainer.history.length === 0; k++) await new Promise((r) => setTimeout(r, 100));
  await retrainer.stop(); // the drift persists: no second cycle
  const cycle = retrainer.history[0];
  t.ok(cycle, `a cycle ran: ${events.join(' | ')}`);
  t.match(cycle?.reason ?? '', /^drift: arrival probability/, 'triggered by the drift');
  t.equal(cycle?.rollout?.outcome, 'promoted', `rollout: ${cycle?.rollout?.reason}`);
  const version = cycle?.exported?.version ?? '?';
  t.same(gateways.map((g) => g.modelVersion), [version, version], 'every gateway runs the fine-tuned version');
  t.comment(`timeline: ${events.join(' | ')}`);
  t.comment(`live completion before ${(100 * before.completionRate).toFixed(1)}%, at the end ${(100 * kpi.snapshot().completionRate).toFixed(1)}%; candidate ${(100 * (cycle?.candidate ?? 0)).toFixed(1)}% vs incumbent ${(100 * (cycle?.incumbent ?? 0)).toFixed(1)}% on the recalibrated simulator`);
  emulator.stop();
  for (const g of gateways) {
    await g.close();
    await releaseModel(g.currentModel);
  }
  for (const e of edges) await e.close();
  await endAll();
  await broker.close();
  await registry.close();
});
