// A device's retained status says online while it is connected, even when its Last Will arrives after
// it has reconnected (a cluster node that lost it notices only at its keepalive timeout): it reads its
// own status and answers an offline with online (protocol/mqtt.ts).
import t from 'tap';
import mqtt from 'mqtt';
import { connectMqtt } from '../../protocol/mqtt.ts';
import { encode } from '../../protocol/codec.ts';
import { topics } from '../../protocol/topics.ts';
import { startAedes } from '../helpers/brokers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a late Will is answered with online', async (t) => {
  const broker = await startAedes();
  const device = await connectMqtt({ url: broker.url, clientId: 'late-will-device', device: { kind: 'edge', id: '9' } });
  const stranger = await mqtt.connectAsync(broker.url, { clientId: 'late-will-node' });
  const seen: string[] = [];
  stranger.on('message', (_topic, payload) => seen.push((JSON.parse(payload.toString()) as { state: string }).state));
  await stranger.subscribeAsync(topics.status('edge', 9), { qos: 1 });
  await sleep(200);
  t.same(seen, ['online'], 'online at connect');
  // what a node that lost the device publishes for it, late: its Will
  await stranger.publishAsync(topics.status('edge', 9), encode('status', { v: 1, kind: 'edge', id: '9', state: 'offline', at: Date.now() }), { qos: 1, retain: true });
  await sleep(500);
  t.same(seen, ['online', 'offline', 'online'], 'the device answered the offline it read');
  const late = await mqtt.connectAsync(broker.url, { clientId: 'late-will-reader' });
  const retained = new Promise<string>((resolve) => late.once('message', (_topic, payload) => resolve((JSON.parse(payload.toString()) as { state: string }).state)));
  await late.subscribeAsync(topics.status('edge', 9), { qos: 1 });
  t.equal(await retained, 'online', 'and the retained status a newcomer reads is online');
  await Promise.all([device.endAsync(), stranger.endAsync(), late.endAsync()]);
  await broker.close();
});
