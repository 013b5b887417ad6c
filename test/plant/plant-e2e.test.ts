// The live plant end to end: emulator → gateway (ONNX actors) → edge servers → results, through a real
// broker: the embedded aedes (MQTT 3.1.1) and Mosquitto (MQTT 5). Every announced task gets exactly one
// outcome and exactly one decision.
import t, { type Test } from 'tap';
import pino from 'pino';
import mqtt from 'mqtt';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { subscriptions } from '../../protocol/topics.ts';
import { startAedes, startMosquitto, hasMosquitto, type TestBroker } from '../helpers/brokers.ts';

const logger = pino({ level: 'silent' });
const scenario = loadScenario('gmel2024', { ieds: 12 });

async function runFor(broker: TestBroker, seconds: number, protocolVersion: 4 | 5) {
  // an independent observer counts decisions and outcomes per task id
  const observer = await mqtt.connectAsync(broker.url, { clientId: `observer-${Date.now()}`, protocolVersion });
  const decisions = new Map<string, number>();
  const outcomes = new Map<string, number>();
  let expiryProperty = false;
  observer.on('message', (topic, payload, packet) => {
    const msg = JSON.parse(payload.toString()) as { taskId: string };
    const map = topic.endsWith('/decision') ? decisions : outcomes;
    map.set(msg.taskId, (map.get(msg.taskId) ?? 0) + 1);
    if (topic.endsWith('/decision') && packet.properties?.messageExpiryInterval) expiryProperty = true;
  });
  await observer.subscribeAsync([subscriptions.allDecisions, subscriptions.allResults], { qos: 1 });
  const plant = await startPlant({ scenario, modelPath: 'models/gmel2024-amarl', brokerUrl: broker.url, logger });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const announced = plant.emulator.announced;
  await plant.stop(true);
  await new Promise((r) => setTimeout(r, 200));
  await observer.endAsync();
  return { announced, decisions, outcomes, kpi: plant.kpi.snapshot(), expiryProperty };
}

function checkRun(t: Test, r: Awaited<ReturnType<typeof runFor>>) {
  t.ok(r.announced > 20, `tasks announced (${r.announced})`);
  t.equal(r.decisions.size, r.announced, 'one decision per announced task');
  t.equal(r.outcomes.size, r.announced, 'one outcome per announced task');
  t.ok([...r.decisions.values(), ...r.outcomes.values()].every((n) => n === 1), 'nothing decided or resolved twice');
  t.equal(r.kpi.completed + r.kpi.dropped.total, r.announced);
  t.equal(r.kpi.announced, r.announced, 'the KPI monitor saw every announcement');
  t.equal(r.kpi.unresolved, 0, 'none left without an outcome');
  t.ok(r.kpi.completionRate > 0.6, `completion rate ${r.kpi.completionRate.toFixed(3)}`);
}

t.test('on the embedded aedes broker', async (t) => {
  const broker = await startAedes();
  const r = await runFor(broker, 3, 4);
  checkRun(t, r);
  t.equal(r.expiryProperty, false, 'MQTT 3.1.1: no expiry property');
  await broker.close();
});

t.test('on Mosquitto (MQTT 5)', { skip: hasMosquitto ? false : 'mosquitto is not installed (.ci/run installs it)' }, async (t) => {
  const broker = await startMosquitto();
  const r = await runFor(broker, 3, 5);
  checkRun(t, r);
  t.equal(r.expiryProperty, true, 'MQTT 5: decisions carry a message expiry');
  await broker.close();
});
