// Device status: retained "online" on connect, and the broker's Last Will "offline" when a runtime
// vanishes without a goodbye (on aedes, MQTT 3.1.1, and on Mosquitto, MQTT 5).
import t, { type Test } from 'tap';
import mqtt from 'mqtt';
import { connectMqtt } from '../../protocol/mqtt.ts';
import { topics } from '../../protocol/topics.ts';
import { decode } from '../../protocol/codec.ts';
import { startAedes, startMosquitto, hasMosquitto, type TestBroker } from '../helpers/brokers.ts';

async function check(t: Test, broker: TestBroker, expectVersion: 4 | 5) {
  const device = await connectMqtt({ url: broker.url, clientId: `gw-status-${expectVersion}`, device: { kind: 'ied', id: 'gw-7', modelVersion: 'v1' } });
  t.equal(device.options.protocolVersion, expectVersion, `spoke MQTT ${expectVersion === 5 ? '5' : '3.1.1'}`);
  const watcher = await mqtt.connectAsync(broker.url, { clientId: `watcher-${expectVersion}` });
  const states: string[] = [];
  watcher.on('message', (topic, payload) => {
    const d = decode(topic, payload);
    if (d.ok && d.kind === 'status') states.push(d.message.state);
  });
  await watcher.subscribeAsync(topics.status('ied', 'gw-7'), { qos: 1 });
  await new Promise((r) => setTimeout(r, 200));
  t.same(states, ['online'], 'retained online status');
  (device.stream as { destroy(): void }).destroy(); // vanish: no DISCONNECT packet
  device.options.reconnectPeriod = 0;
  for (let k = 0; k < 40 && states.length < 2; k++) await new Promise((r) => setTimeout(r, 100));
  t.same(states, ['online', 'offline'], 'the Last Will says offline');
  device.end(true);
  await watcher.endAsync();
}

t.test('aedes', async (t) => {
  const broker = await startAedes();
  await check(t, broker, 4);
  await broker.close();
});

t.test('mosquitto', { skip: hasMosquitto ? false : 'mosquitto is not installed (.ci/run installs it)' }, async (t) => {
  const broker = await startMosquitto();
  await check(t, broker, 5);
  await broker.close();
});
