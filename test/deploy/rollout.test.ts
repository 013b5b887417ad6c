// Staged rollout over the air: a good version passes its canary and is promoted to every gateway; a bad
// one is caught by the canary's completion rate (against the rest of the fleet, or against the twin's
// prediction) or by its decision errors, and rolled back, the other gateways never touched; an error on
// the way aborts and puts the canaries back.
import t from 'tap';
import pino from 'pino';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { signModelSet } from '../../core/model-signature.ts';
import { sha256, type ModelSetManifest } from '../../core/model-set.ts';
import { generateKeys } from '../../deploy/signing.ts';
import { buildRegistryApp } from '../../deploy/registry.ts';
import { runRollout } from '../../deploy/rollout.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { EdgeServerRuntime } from '../../runtime-edge/edge-server.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { resolveModelDir } from '../../core/model-set.ts';
import { ModelUpdater } from '../../runtime-ied/ota.ts';
import { PlantEmulator } from '../../plant/emulator.ts';
import { actorToOnnx } from '../../trainer/export-onnx.ts';
import { runModelInSim } from '../../twin/predict.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { failingActorOnnx, ENCODER_META } from '../helpers/models.ts';

const token = 'rollout-test-token-0123456789';
const IEDS = 8;

function makeSet(dir: string, version: string, model: (i: number) => Uint8Array, privateKey: string, sequence: number): void {
  mkdirSync(dir, { recursive: true });
  const base = JSON.parse(readFileSync(join(resolveModelDir('models/gmel2024-amarl'), 'manifest.json'), 'utf8')) as ModelSetManifest;
  const files: Record<string, ModelSetManifest['files'][string]> = {};
  for (let i = 0; i < IEDS; i++) {
    const bytes = model(i);
    writeFileSync(join(dir, `ied-${i}.onnx`), bytes);
    files[`ied-${i}.onnx`] = { sha256: sha256(bytes), bytes: bytes.length, ied: i, inputSize: 20, actions: 6 };
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...base, version, ieds: IEDS, files }));
  signModelSet(dir, privateKey, { sequence });
}

t.test('canary, then promotion or rollback', { timeout: 90_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gmel-rollout-'));
  const keys = generateKeys(join(root, 'keys'));
  const privateKey = readFileSync(keys.privateKey, 'utf8');
  const shipped = resolveModelDir('models/gmel2024-amarl');
  const trained = (i: number) => readFileSync(join(shipped, `ied-${i}.onnx`));
  const layer = { kernel: new Float32Array(20 * 6), bias: Float32Array.of(5, 0, 0, 0, 0, 0), inputs: 20, outputs: 6, activation: 'linear' as const };
  const localOnly = () => actorToOnnx({ kind: 'mlp', layers: [layer] }, { policyVersion: 'bad', ...ENCODER_META, ied: 0, algo: 'test', actionNames: [] });
  makeSet(join(root, 'sets', 'v1'), 'v1', trained, privateKey, 1);
  makeSet(join(root, 'sets', 'v2-good'), 'v2-good', trained, privateKey, 2);
  makeSet(join(root, 'sets', 'v3-bad'), 'v3-bad', localOnly, privateKey, 3);
  makeSet(join(root, 'sets', 'v4-failing'), 'v4-failing', () => failingActorOnnx(20, 6), privateKey, 4);
  const registry = buildRegistryApp({ storeDir: join(root, 'store'), token });
  const url = await registry.listen({ port: 0, host: '127.0.0.1' });
  for (const v of ['v1', 'v2-good', 'v3-bad', 'v4-failing'])
    for (const f of [...Array.from({ length: IEDS }, (_, i) => `ied-${i}.onnx`), 'manifest.sig', 'release.json', 'manifest.json'])
      await fetch(`${url}/models/plant/${v}/${f}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: readFileSync(join(root, 'sets', v, f)) });

  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const scenario = loadScenario('gmel2024', { ieds: IEDS, 'arrivals.probability': 0.8 });
  const logger = pino({ level: 'silent' });
  const edges = [];
  for (let m = 1; m <= scenario.edgeServers; m++) edges.push(await EdgeServerRuntime.create({ scenario, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
  const gateways: IedGatewayRuntime[] = [];
  for (const [name, ieds] of [['canary', [0, 1]], ['rest', [2, 3, 4, 5, 6, 7]]] as const) {
    const c = await connect(`gw-${name}`);
    const gw = await IedGatewayRuntime.create({ scenario, iedIds: ieds, model: await loadModelHandle(join(root, 'sets', 'v1'), scenario, ieds, 'node'), mqtt: c, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
    // the sets carry signed release sequences v1 < v2-good < v3-bad < v4-failing, so the rollout's rollbacks are
    // real downgrades: the gateways (strict, no unsigned window) accept them only as rollbacks signed with the deploy key
    await ModelUpdater.create({ gateway: gw, mqtt: c, iedIds: ieds, scenario, engine: 'node', trustedPublicKey: readFileSync(keys.publicKey, 'utf8'), workDir: join(root, `ota-${name}`), logger, registry: url });
    gateways.push(gw);
  }
  const emulator = PlantEmulator.create({ scenario, mqtt: await connect('emu'), clock: systemClock, epochMs: PLANT_EPOCH_MS, seed: 2, logger });
  const operator = await connect('operator');
  const common = { mqtt: operator, iedIds: Array.from({ length: IEDS }, (_, i) => i), modelSet: 'plant', registry: url, canaryFraction: 0.25, windowMs: 4000, maxDropPp: 20, minTasks: 20, logger, rollbackKeyPem: privateKey };
  await new Promise((r) => setTimeout(r, 1000));

  const bad = await runRollout({ ...common, fromVersion: 'v1', toVersion: 'v3-bad' });
  t.equal(bad.outcome, 'rolled-back', `bad version: ${bad.reason}`);
  t.equal(bad.reference, 'live fleet');
  t.same(bad.canaries, [0, 1]);
  t.ok(bad.canaryCompletion < bad.referenceCompletion - 0.1, `canary ${bad.canaryCompletion.toFixed(3)} vs reference ${bad.referenceCompletion.toFixed(3)}`);
  t.same(gateways.map((g) => g.modelVersion), ['v1', 'v1'], 'the canary is back on v1; the rest never left it');

  const failing = await runRollout({ ...common, fromVersion: 'v1', toVersion: 'v4-failing' });
  t.equal(failing.outcome, 'rolled-back', `failing version: ${failing.reason}`);
  t.ok(failing.canaryDecisions > 0 && failing.decisionErrors === failing.canaryDecisions, `${failing.decisionErrors} of ${failing.canaryDecisions} canary decisions were errors`);
  t.match(failing.reason, /canary decisions were errors/);
  t.same(gateways.map((g) => g.modelVersion), ['v1', 'v1'], 'back on v1 after the decision errors');

  // the twin's prediction as the reference: what the simulator expects of the good actors at the canary IEDs
  let predicted = Number.NaN;
  const predictCompletion = async (canaries: readonly number[]) => (predicted = (await runModelInSim(scenario, join(root, 'sets', 'v2-good'), 5, 11, 'node', canaries)).summary.completionRate);
  const mislabelled = await runRollout({ ...common, fromVersion: 'v1', toVersion: 'v3-bad', predictCompletion });
  t.equal(mislabelled.outcome, 'rolled-back', `a bad file shipped under a good prediction: ${mislabelled.reason}`);
  t.equal(mislabelled.reference, 'twin prediction');
  t.ok(mislabelled.canaryCompletion < predicted - 0.2, `canary ${mislabelled.canaryCompletion.toFixed(3)} vs predicted ${predicted.toFixed(3)}`);

  const good = await runRollout({ ...common, fromVersion: 'v1', toVersion: 'v2-good', predictCompletion });
  t.equal(good.reference, 'twin prediction');
  t.equal(good.decisionErrors, 0, 'no decision errors');
  t.comment(`good canary ${good.canaryCompletion.toFixed(3)} vs twin prediction ${predicted.toFixed(3)}`);
  t.equal(good.outcome, 'promoted', `good version: ${good.reason}`);
  t.same(gateways.map((g) => g.modelVersion), ['v2-good', 'v2-good'], 'every gateway runs the new version');
  t.ok(good.timeline.length >= 3, good.timeline.map((e) => e.event).join(' → '));

  // an error on the way (the twin cannot predict): aborted, and the canaries go back to the running version
  const failed = await runRollout({ ...common, fromVersion: 'v2-good', toVersion: 'v4-failing', predictCompletion: () => Promise.reject(new Error('twin unavailable')) });
  t.equal(failed.outcome, 'aborted');
  t.match(failed.reason, /error during the rollout: twin unavailable; IEDs 0,1 desired back on v2-good/);
  for (let k = 0; k < 100 && gateways.some((g) => g.modelVersion !== 'v2-good'); k++) await new Promise((r) => setTimeout(r, 100));
  t.same(gateways.map((g) => g.modelVersion), ['v2-good', 'v2-good'], 'the canaries are back on the running version');
  // without the deploy key's signature, a rollback is a downgrade a stranger could ask for: refused
  const unsigned = await runRollout({ ...common, rollbackKeyPem: undefined, fromVersion: 'v2-good', toVersion: 'v3-bad' });
  t.equal(unsigned.outcome, 'rolled-back', `bad version again: ${unsigned.reason}`);
  for (let k = 0; k < 30; k++) await new Promise((r) => setTimeout(r, 100));
  t.equal(gateways[0]?.modelVersion, 'v3-bad', 'an unsigned rollback to v2-good is refused: the canaries stay on v3-bad until a signed one comes');
  const back = await runRollout({ ...common, fromVersion: 'v3-bad', toVersion: 'v4-failing', predictCompletion: () => Promise.reject(new Error('twin unavailable')) });
  t.equal(back.outcome, 'aborted');
  t.equal(operator.listenerCount('message'), 0, 'no rollout listener left behind');

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
