// Scales belong to the model (issue #11, item 1; core/observation.ts gmel-obs/2): a model's observation
// scales are fixed when it is trained, recorded in its run, actors and manifest, kept by a fine-tune,
// and used by every consumer at any sweep point, so the same physical task gives the same inputs.
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import pino from 'pino';
import { encodeObservation, observationScales, observationSize, type ObservationFields, type ObservationScales } from '../../core/observation.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';
import { LiveWorld } from '../../sim/live-world.ts';
import { train } from '../../trainer/train.ts';
import { loadRunPolicy } from '../../trainer/evaluate.ts';
import { readActor } from '../../trainer/actor-file.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';

const trained = loadScenario('gmel2024', { ieds: 4 });
const sweep = loadScenario('gmel2024', { ieds: 4, 'task.deadlineSeconds.max': 1, 'task.deadlineSeconds.min': 0.5 } as never);

t.test('the same physical task gives the same inputs at a sweep point as at the training point', async (t) => {
  t.not(sweep.task.deadlineSeconds.max, trained.task.deadlineSeconds.max, 'the sweep point has another d_max');
  const inputs = (scenario: typeof trained, scales = observationScales(trained)) => {
    const w = LiveWorld.create<string>(scenario, 10, { uploaded: () => {}, outcome: () => {} });
    w.arrive(0, { sizeMbit: 20, density: 0.03, deadlineSeconds: 0.8 }, 10, 'x');
    const out = new Float32Array(observationSize(scenario.edgeServers));
    encodeObservation(out, 0, w.observationFields(0), scales);
    return [...out];
  };
  t.same(inputs(sweep), inputs(trained), 'with the model\'s scales: identical inputs');
  t.not(inputs(sweep, observationScales(sweep))[2], inputs(trained)[2], 'with the sweep plant\'s own scales (gmel-obs/1) the deadline input differed');
});

t.test('the shipped model set loads with its training scales at any sweep point, and is refused without them', async (t) => {
  const handle = await loadModelHandle('models/gmel2024-amarl', loadScenario('gmel2024', { 'task.deadlineSeconds.max': 1, 'task.deadlineSeconds.min': 0.5 } as never), [0], 'node');
  t.same(handle.scales, observationScales(loadScenario('gmel2024')), 'the gateway encodes with the model\'s scales, d_max 2.5 s, not the plant\'s 1.0 s');
  await releaseModel(handle);
  const src = 'models/gmel2024-amarl/amarl-e300-28870af05a-obs2';
  const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  for (const [label, change, pattern] of [
    ['an older encoder', { obsEncoderVersion: 'gmel-obs/1' }, /built for observations gmel-obs\/1/],
    ['no scales', { obsScales: undefined }, /no observation scales recorded/],
    ['a non-positive scale', { obsScales: { ...(manifest.obsScales as object), deadlineMaxSeconds: 0 } }, /deadlineMaxSeconds is 0/],
    ['another number of edge servers', { obsScales: { ...(manifest.obsScales as object), edgeServers: 4 } }, /trained for 4 edge servers, the plant has 5/],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'gmel-scales-'));
    cpSync(src, dir, { recursive: true });
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...manifest, ...change }));
    await t.rejects(loadModelHandle(dir, loadScenario('gmel2024'), [0], 'node'), pattern, `${label}: refused`);
  }
});

t.test('a run records its scales; a fine-tune on another plant keeps its parent\'s; evaluation uses them', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmel-scales-run-'));
  const parent = join(dir, 'parent');
  await train({ algo: 'dqn', scenario: trained, preset: 'smoke', seed: 1, outDir: parent, episodes: 2, backend: 'wasm' });
  const scalesOf = (run: string) => (JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as { obsScales: unknown }).obsScales;
  t.same(scalesOf(parent), observationScales(trained), 'the run config records the training plant\'s scales');
  t.same(readActor(join(parent, 'actors', 'ied-0')).metadata.obsScales, observationScales(trained), 'so does each exported actor');
  const child = join(dir, 'child');
  const enc = await recordingEncoder(); // what the fine-tune's own environment encodes with
  const mocked = await t.mockImport<typeof import('../../trainer/train.ts')>('../../trainer/train.ts', { '../../core/observation.ts': enc.module });
  await mocked.train({ algo: 'dqn', scenario: sweep, preset: 'smoke', seed: 2, outDir: child, episodes: 1, initFrom: parent, backend: 'wasm' });
  t.same(scalesOf(child), observationScales(trained), 'a fine-tune on a plant with d_max 1.0 s keeps its parent\'s scales (d_max 2.5 s)');
  t.ok(enc.scales.length > 0 && enc.scales.every((k) => k.deadlineMaxSeconds === trained.task.deadlineSeconds.max), `and trains on them: ${enc.scales.length} observations, all with d_max 2.5 s`);
  const spec = await loadRunPolicy(child);
  t.same(spec.obsScales, observationScales(trained), 'evaluation at any point encodes with the actors\' scales');
  // and its policy does: what reaches world.observeAll at the sweep point
  const world = new World(sweep);
  world.reset(1);
  const used: unknown[] = [];
  const observeAll = world.observeAll.bind(world);
  world.observeAll = (out, scales) => (used.push(scales), observeAll(out, scales));
  spec.make(new Rng(1)).act(world, new Int32Array(world.I));
  t.same(used, [observationScales(trained)], 'the policy observed the sweep plant with the training scales');
});

/** encodeObservation, recording the scales of every call (the consumers below are imported with it) */
async function recordingEncoder(): Promise<{ scales: ObservationScales[]; module: Record<string, unknown> }> {
  const real = await import('../../core/observation.ts');
  const scales: ObservationScales[] = [];
  return { scales, module: { ...real, encodeObservation: (out: Float32Array, offset: number, f: ObservationFields, k: ObservationScales) => (scales.push(k), real.encodeObservation(out, offset, f, k)) } };
}
const sweep50 = loadScenario('gmel2024', { ieds: 4, 'task.deadlineSeconds.max': 1, 'task.deadlineSeconds.min': 0.5 } as never);

t.test('gmel sim --model and the twin\'s prediction encode with the model\'s scales at a sweep point', async (t) => {
  const enc = await recordingEncoder();
  const { runModelInSim } = await t.mockImport<typeof import('../../twin/predict.ts')>('../../twin/predict.ts', { '../../core/observation.ts': enc.module });
  await runModelInSim(sweep50, 'models/gmel2024-amarl', 1, 1);
  t.ok(enc.scales.length > 0, `${enc.scales.length} observations encoded`);
  t.ok(enc.scales.every((k) => k.deadlineMaxSeconds === 2.5), 'every one with the model\'s d_max (2.5 s), none with the plant\'s 1.0 s');
});

t.test('the gateway encodes with the model\'s scales at a sweep point', { timeout: 30_000 }, async (t) => {
  const enc = await recordingEncoder();
  const { IedGatewayRuntime } = await t.mockImport<typeof import('../../runtime-ied/gateway.ts')>('../../runtime-ied/gateway.ts', { '../../core/observation.ts': enc.module });
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const model = await loadModelHandle('models/gmel2024-amarl', sweep50, [0], 'node');
  const gw = await IedGatewayRuntime.create({ scenario: sweep50, iedIds: [0], model, mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger: pino({ level: 'silent' }) });
  const pub = await connect('pub');
  await pub.publishAsync(topics.task(0), JSON.stringify({ v: 1, taskId: 's-1', iedId: 0, sizeMbit: 10, density: 0.02, deadlineSeconds: 0.8, createdAt: Date.now() }), { qos: 1 });
  for (let k = 0; k < 100 && enc.scales.length === 0; k++) await new Promise((r) => setTimeout(r, 20));
  t.same(enc.scales, [observationScales(loadScenario('gmel2024'))], 'the decision\'s observation used the model\'s scales (d_max 2.5 s, 50 IEDs), not the plant\'s');
  await gw.close({ drainMs: 0 });
  await releaseModel(model);
  await endAll();
  await broker.close();
});
