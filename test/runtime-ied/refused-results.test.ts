// A result the broker refuses for good (MQTT 5 PUBACK reason ≥ 0x80, here Mosquitto's ACL: "not
// authorized") is counted, logged and settled: the journal does not keep it forever and a restart does
// not send it again (issue #10). A result the broker accepts is settled the same way.
import t from 'tap';
import pino from 'pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario } from '../../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../../protocol/clock.ts';
import { connectMqtt } from '../../protocol/mqtt.ts';
import { topics } from '../../protocol/topics.ts';
import { Outbox } from '../../protocol/outbox.ts';
import { passwdLine, renderAcl } from '../../deploy/acl.ts';
import { IedGatewayRuntime } from '../../runtime-ied/gateway.ts';
import { TaskJournal } from '../../runtime-ied/journal.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import { hasMosquitto, startMosquitto } from '../helpers/brokers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const logger = pino({ level: 'silent' });

t.test('the outbox tells a final refusal from a lost connection', async (t) => {
  const answers: (Error | undefined)[] = [undefined, Object.assign(new Error('Publish error: Not authorized'), { code: 0x87 }), new Error('client disconnecting')];
  const fake = { publish: (_topic: string, _payload: string, _opts: unknown, cb: (err?: Error) => void) => cb(answers.shift()) };
  const settled: string[] = [];
  const outbox = new Outbox(fake as never, logger);
  for (const k of [0, 1, 2]) outbox.publish('x', String(k), { qos: 1 }, (refused) => settled.push(`${k}: ${refused ? `refused 0x${refused.code.toString(16)}` : 'sent'}`));
  await sleep(10);
  t.same(settled, ['0: sent', '1: refused 0x87'], 'acknowledged and refused settle; a lost connection does not (mqtt.js sends it again)');
});

t.test('a gateway whose identity may not publish a result: refused by the broker, settled in the journal', { skip: hasMosquitto ? false : 'needs mosquitto (apt-get install mosquitto)', timeout: 60_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 2 });
  // the gateway's identity may publish IED 0's results, not IED 1's (a misconfigured ACL)
  const rules = (list: [string, string][]) => list.map(([access, topic]) => ({ access: access as 'read' | 'write', topic }));
  const ids = [
    { username: 'gw', role: 'gateway' as const, rules: rules([['read', topics.task(0)], ['read', topics.task(1)], ['read', 'gmel/v1/edge/+/state'], ['write', topics.result(0)], ['write', 'gmel/v1/ied/+/decision'], ['write', 'gmel/v1/status/#']]) },
    { username: 'obs', role: 'operator' as const, rules: rules([['read', 'gmel/v1/#'], ['write', 'gmel/v1/ied/+/task']]) },
  ];
  const broker = await startMosquitto({
    files: { passwd: ids.map((i) => passwdLine(i.username, `pw-${i.username}`)).join('\n') + '\n', 'mosquitto.acl': renderAcl(ids) },
    config: (dir) => `allow_anonymous false\npassword_file ${dir}/passwd\nacl_file ${dir}/mosquitto.acl\nuser root\n`,
  });
  t.teardown(() => broker.close());
  const dir = mkdtempSync(join(tmpdir(), 'gmel-refused-'));
  const opened = TaskJournal.open({ dir, clock: systemClock });
  const mqtt = await connectMqtt({ url: broker.url, clientId: 'gw', username: 'gw', password: 'pw-gw', ackAfterListen: true });
  const model = await loadModelHandle('models/gmel2024-amarl', scenario, [0, 1], 'node');
  const rt = await IedGatewayRuntime.create({ scenario, iedIds: [0, 1], model, mqtt, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger, journal: opened });
  const obs = await connectMqtt({ url: broker.url, clientId: 'obs', username: 'obs', password: 'pw-obs' });
  const results: string[] = [];
  obs.on('message', (_topic, payload) => results.push((JSON.parse(payload.toString()) as { taskId: string }).taskId));
  await obs.subscribeAsync('gmel/v1/ied/+/result', { qos: 1 });
  for (let k = 0; k < 6; k++) await obs.publishAsync(topics.task(k % 2), JSON.stringify({ v: 1, taskId: `r-${k}`, iedId: k % 2, sizeMbit: 5, density: 0.02, deadlineSeconds: 1, createdAt: Date.now() }), { qos: 1 });
  const refused = async () => (await rt.registry.getSingleMetricAsString('gmel_ied_results_refused_total')).match(/ (\d+)$/m)?.[1];
  for (let k = 0; k < 100 && (await refused()) !== '3'; k++) await sleep(50);
  await sleep(200);
  t.equal(await refused(), '3', 'the three results for IED 1 were refused by the broker and counted');
  t.same(results.sort(), ['r-0', 'r-2', 'r-4'], 'the three for IED 0 arrived');
  await rt.close({ drainMs: 0 });
  await mqtt.endAsync();
  opened.journal.close();
  await releaseModel(rt.currentModel);
  const next = TaskJournal.open({ dir, clock: systemClock });
  t.same([next.recovered.open.length, next.recovered.unsettled.length], [0, 0], 'the next process has nothing to send again: refused results are settled');
  next.journal.close();
  await obs.endAsync();
});
