// A broker that goes away and comes back: the runtimes reconnect, and every task announced is decided
// once and reaches exactly one outcome (QoS 1, persistent sessions, idempotent task ids).
import t from 'tap';
import pino from 'pino';
import mqtt from 'mqtt';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { subscriptions } from '../../protocol/topics.ts';
import { startMosquitto, hasMosquitto, untilSettled } from '../helpers/brokers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('Mosquitto restarts mid-run', { skip: hasMosquitto ? false : 'mosquitto is not installed (.ci/run installs it)', timeout: 60_000 }, async (t) => {
  const broker = await startMosquitto();
  const observer = await mqtt.connectAsync(broker.url, { clientId: 'loss-observer', clean: false, protocolVersion: 5, properties: { sessionExpiryInterval: 600 }, reconnectPeriod: 200 });
  const decisions = new Map<string, number>();
  const outcomes = new Map<string, number>();
  observer.on('message', (topic, payload) => {
    const { taskId } = JSON.parse(payload.toString()) as { taskId: string };
    const map = topic.endsWith('/decision') ? decisions : outcomes;
    map.set(taskId, (map.get(taskId) ?? 0) + 1);
  });
  await observer.subscribeAsync([subscriptions.allDecisions, subscriptions.allResults], { qos: 1 });
  const plant = await startPlant({ scenario: loadScenario('gmel2024', { ieds: 8 }), modelPath: 'models/gmel2024-amarl', brokerUrl: broker.url, logger: pino({ level: 'silent' }) });
  await sleep(1500);
  const outageStart = Date.now();
  await broker.stop();
  await sleep(1500);
  await broker.restart();
  const outageEnd = Date.now() + 1200; // clients retry every second
  await sleep(2500);
  const announced = plant.emulator.announced;
  await plant.stop(true);
  // the observer may still be receiving what was queued during the outage: wait until it settles
  await untilSettled(() => outcomes.size);
  await observer.endAsync();
  await broker.close();
  t.ok(announced > 30, `announced ${announced}`);
  // MQTT 5 message expiry: a task announced while the broker was away and stale before it came back
  // is discarded by the broker (never accepted, by design); every task a gateway accepted gets one outcome
  const undecided = plant.emulator.log.filter((a) => !decisions.has(a.taskId));
  t.ok(undecided.every((a) => a.createdAt >= outageStart - 150 && a.createdAt <= outageEnd), `only tasks announced during the outage are missing (${undecided.length} of ${announced})`);
  t.ok(decisions.size >= announced - undecided.length && decisions.size > 0.8 * announced, `decided ${decisions.size}/${announced}`);
  // (a decision itself may expire unseen by the observer while it was cut off: outcomes never expire)
  const announcedIds = new Set(plant.emulator.log.map((a) => a.taskId));
  t.ok([...decisions.keys()].every((id) => outcomes.has(id)), 'every decided task has an outcome');
  t.ok([...outcomes.keys()].every((id) => announcedIds.has(id)), 'no outcome for a task that was not announced');
  t.ok(outcomes.size >= decisions.size, `outcomes ${outcomes.size} ≥ decisions seen ${decisions.size}`);
  t.ok([...decisions.values()].every((n) => n === 1), 'no task decided twice');
  t.ok([...outcomes.values()].every((n) => n === 1), 'no task resolved twice');
});
