// The closed loop, end to end on a live plant: an edge server slows down (drift) → the twin measures its
// GPU rate from the edge state and reports drift → fine-tunes the incumbent on the recalibrated
// simulator in a child process → the candidate beats the incumbent by the real margin → it is signed,
// published, canaried against the twin's prediction and rolled out → the live completion rate of the
// tasks decided by the new version recovers. The timeline and the numbers are printed.
import t from 'tap';
import pino from 'pino';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
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
import { PlantEmulator } from '../../plant/emulator.ts';
import { TwinMirror } from '../../twin/mirror.ts';
import { Retrainer } from '../../twin/retrainer.ts';
import { subscriptions } from '../../protocol/topics.ts';
import { decode } from '../../protocol/codec.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const token = 'drift-loop-token-0123456789';
// a plant where offloading is right (slow local GPUs) and both edge servers are fast
const plant = { ieds: 4, edgeServers: 2, episodeSlots: 40, 'ied.gpuGHz': 0.3, 'arrivals.probability': 0.4 };
const MARGIN_PP = 2;

t.test('edge server slows down → drift → fine-tune → promote → canary → rollout → live completion recovers', { timeout: 180_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-loop-'));
  const keys = generateKeys(join(root, 'keys'));
  const privateKeyPem = readFileSync(keys.privateKey, 'utf8');
  const trained = loadScenario('gmel2024', { ...plant, 'edge.gpuGHz': [15, 15] });
  const slowed = loadScenario('gmel2024', { ...plant, 'edge.gpuGHz': [0.5, 15] }); // edge server 1 at 1/30 of its speed
  const incumbentRun = join(root, 'incumbent');
  await train({ algo: 'amarl', scenario: trained, preset: 'smoke', seed: 1, outDir: incumbentRun, episodes: 30 });
  const first = exportRun({ runDir: incumbentRun, outDir: join(root, 'models', 'plant') });
  signModelSet(first.dir, privateKeyPem);
  const registry = buildRegistryApp({ storeDir: join(root, 'store'), token });
  const url = await registry.listen({ port: 0, host: '127.0.0.1' });
  await publishModelSet({ versionDir: first.dir, registry: url, token, modelSet: 'plant', version: first.manifest.version });

  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const logger = pino({ level: 'silent' });
  const edges = [];
  for (let m = 1; m <= 2; m++) edges.push(await EdgeServerRuntime.create({ scenario: slowed, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
  const gateways: IedGatewayRuntime[] = [];
  for (const [name, ieds] of [['a', [0]], ['b', [1, 2, 3]]] as const) {
    const c = await connect(`gw-${name}`);
    const gw = await IedGatewayRuntime.create({ scenario: trained, iedIds: ieds, model: await loadModelHandle(first.dir, trained, ieds, 'node'), mqtt: c, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
    await ModelUpdater.create({ gateway: gw, mqtt: c, iedIds: ieds, scenario: trained, engine: 'node', trustedPublicKey: readFileSync(keys.publicKey, 'utf8'), workDir: join(root, `ota-${name}`), logger, registry: url });
    gateways.push(gw);
  }
  // live accounting: each task's outcome under the policy version that decided it
  const versionOf = new Map<string, string>();
  const byVersion = new Map<string, { decided: number; done: number; ok: number; at: number[] }>();
  const start = Date.now();
  const watcher = await connect('watcher');
  watcher.on('message', (topic, payload) => {
    const d = decode(topic, payload);
    if (!d.ok) return;
    if (d.kind === 'decision') {
      versionOf.set(d.message.taskId, d.message.policyVersion);
      const v = byVersion.get(d.message.policyVersion) ?? { decided: 0, done: 0, ok: 0, at: [] };
      v.decided++;
      v.at.push(Date.now() - start);
      byVersion.set(d.message.policyVersion, v);
    } else if (d.kind === 'result') {
      const v = byVersion.get(versionOf.get(d.message.taskId) ?? '');
      if (!v) return;
      v.done++;
      if (d.message.outcome === 'completed') v.ok++;
    }
  });
  await watcher.subscribeAsync([subscriptions.allDecisions, subscriptions.allResults], { qos: 1 });
  const emulator = PlantEmulator.create({ scenario: trained, mqtt: await connect('emu'), clock: systemClock, epochMs: PLANT_EPOCH_MS, seed: 4, logger });
  const mirror = await TwinMirror.create(await connect('twin'), { scenario: trained, epochMs: PLANT_EPOCH_MS, now: () => Date.now(), windowSlots: 30, minTasks: 50 });
  const events: string[] = [];
  const log = (line: string) => events.push(`${((Date.now() - start) / 1000).toFixed(1)} s ${line}`);
  const retrainer = new Retrainer({
    mirror, incumbentRun, modelSetDir: join(root, 'models', 'plant'), workDir: join(root, 'twin'), episodes: 40, marginPp: MARGIN_PP, onDrift: true, everyMs: 0, checkEveryMs: 500, log,
    deploy: { privateKeyPem, registry: url, token, modelSet: 'plant', mqtt: await connect('rollout'), iedIds: [0, 1, 2, 3], runningVersion: first.manifest.version, canaryFraction: 0.25, windowMs: 5000, drainMs: 3000, maxDropPp: 15, minTasks: 10, logger },
  });
  for (let k = 0; k < 900 && retrainer.history.length === 0; k++) await new Promise((r) => setTimeout(r, 100));
  await retrainer.stop(); // one cycle is the subject here
  const cycle = retrainer.history[0];
  t.ok(cycle, `a cycle ran: ${events.join(' | ')}`);
  t.match(cycle?.reason ?? '', /^drift: .*edge server 1 GPU/, 'triggered by edge server 1 slowing down');
  t.ok(cycle?.promoted, `promoted with the real margin: candidate ${(100 * (cycle?.candidate ?? 0)).toFixed(1)}% vs incumbent ${(100 * (cycle?.incumbent ?? 0)).toFixed(1)}% (+${MARGIN_PP} needed)`);
  t.equal(cycle?.rollout?.outcome, 'promoted', `rollout: ${cycle?.rollout?.reason}`);
  const version = cycle?.exported?.version ?? '?';
  t.same(gateways.map((g) => g.modelVersion), [version, version], 'every gateway runs the fine-tuned version');
  // run on the new version for a while, then let every decided task finish (deadlines ≤ 2.5 s)
  await new Promise((r) => setTimeout(r, 6000));
  emulator.stop();
  await new Promise((r) => setTimeout(r, 3000));
  const old = byVersion.get(first.manifest.version);
  const tuned = byVersion.get(version);
  const rate = (v: typeof old) => (v && v.done > 0 ? v.ok / v.done : 0);
  t.ok(old && old.done >= 50 && tuned && tuned.done >= 50, `enough outcomes: ${old?.done} under the incumbent, ${tuned?.done} under the fine-tuned version`);
  t.ok(rate(tuned) >= rate(old) + 0.1, `live completion recovers: ${(100 * rate(old)).toFixed(1)}% → ${(100 * rate(tuned)).toFixed(1)}%`);
  t.comment(`timeline: ${events.join(' | ')}`);
  t.comment(`rollout: ${cycle?.rollout?.timeline.map((e) => `${((e.at - start) / 1000).toFixed(1)} s ${e.event}`).join(' | ')}`);
  t.comment(`twin: incumbent ${(100 * (cycle?.incumbent ?? 0)).toFixed(1)}%, candidate ${(100 * (cycle?.candidate ?? 0)).toFixed(1)}% on the recalibrated simulator; fine-tune ${cycle?.seconds.toFixed(1)} s`);
  t.comment(`live: incumbent ${(100 * rate(old)).toFixed(1)}% of ${old?.done} tasks, fine-tuned ${(100 * rate(tuned)).toFixed(1)}% of ${tuned?.done} tasks`);
  for (const g of gateways) {
    await g.close();
    await releaseModel(g.currentModel);
  }
  for (const e of edges) await e.close();
  await endAll();
  await broker.close();
  await registry.close();
});
