// A new model version is loaded beside the current one and swapped in between two decisions: no task
// is dropped or decided twice, and decisions switch version at one point.
import t from 'tap';
import pino from 'pino';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { resolveModelDir } from '../../core/model-set.ts';
import { PlantEmulator } from '../../plant/emulator.ts';
import { subscriptions } from '../../protocol/topics.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

t.test('swap under load', async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 6, 'arrivals.probability': 0.8 });
  const ieds = [0, 1, 2, 3, 4, 5];
  const next = mkdtempSync(join(tmpdir(), 'gmel-next-model-'));
  cpSync(resolveModelDir('models/gmel2024-amarl'), next, { recursive: true });
  const manifestPath = join(next, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify({ ...JSON.parse(readFileSync(manifestPath, 'utf8')), version: 'next-version' }));
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const logger = pino({ level: 'silent' });
  const first = await loadModelHandle('models/gmel2024-amarl', scenario, ieds, 'node');
  const gateway = await IedGatewayRuntime.create({ scenario, iedIds: ieds, model: first, mqtt: await connect('gw'), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger });
  const seen: { taskId: string; version: string }[] = [];
  const observer = await connect('obs');
  observer.on('message', (_topic, payload) => {
    const d = JSON.parse(payload.toString()) as { taskId: string; policyVersion: string };
    seen.push({ taskId: d.taskId, version: d.policyVersion });
  });
  await observer.subscribeAsync(subscriptions.allDecisions, { qos: 1 });
  const emulator = PlantEmulator.create({ scenario, mqtt: await connect('emu'), clock: systemClock, epochMs: PLANT_EPOCH_MS, seed: 3, logger });
  await new Promise((r) => setTimeout(r, 1000));
  const second = await loadModelHandle(next, scenario, ieds, 'node');
  await gateway.swapModel(second);
  await new Promise((r) => setTimeout(r, 1000));
  emulator.stop();
  await new Promise((r) => setTimeout(r, 300));
  await gateway.idle();
  const announced = emulator.announced;
  t.ok(announced > 60, `announced ${announced}`);
  t.equal(seen.length, announced, 'every task decided');
  t.equal(new Set(seen.map((s) => s.taskId)).size, seen.length, 'none twice');
  const switchAt = seen.findIndex((s) => s.version === 'next-version');
  t.ok(switchAt > 0, 'decisions before the swap used the first version');
  t.ok(seen.slice(switchAt).every((s) => s.version === 'next-version'), 'and every decision after it the new one');
  t.equal(gateway.modelVersion, 'next-version');
  await gateway.close();
  await releaseModel(second);
  await endAll();
  await broker.close();
});
