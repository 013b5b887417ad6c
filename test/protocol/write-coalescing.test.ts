// coalesceWrites (protocol/mqtt.ts): a turn's packets are held until its check phase, then leave in one write, in order.
import t from 'tap';
import mqtt from 'mqtt';
import { coalesceWrites } from '../../protocol/mqtt.ts';
import { startAedes } from '../helpers/brokers.ts';

const tick = () => new Promise((r) => process.nextTick(r));
const turn = () => new Promise((r) => setImmediate(r));

t.test("a burst of publishes leaves at the turn's end, in one write, in order", async (t) => {
  const broker = await startAedes();
  const sub = await mqtt.connectAsync(broker.url, { clientId: 'coalesce-sub' });
  const got: string[] = [];
  sub.on('message', (_topic, payload) => got.push(payload.toString()));
  await sub.subscribeAsync('coalesce/#', { qos: 0 });
  const pub = await mqtt.connectAsync(broker.url, { clientId: 'coalesce-pub' });
  coalesceWrites(pub);
  const socket = pub.stream as unknown as { writableCorked: number; _writev: (...args: unknown[]) => unknown; _write: (...args: unknown[]) => unknown };
  let writes = 0;
  for (const k of ['_writev', '_write'] as const) {
    const real = socket[k].bind(socket);
    socket[k] = (...args: unknown[]) => (writes++, real(...args));
  }
  await turn();
  writes = 0;
  for (let k = 0; k < 20; k++) pub.publish('coalesce/x', String(k), { qos: 0 });
  await tick(); // mqtt-packet's own cork ends here
  t.ok(socket.writableCorked > 0, 'still held after the next tick');
  t.equal(writes, 0, 'nothing written yet');
  await turn();
  t.equal(socket.writableCorked, 0, 'released in the check phase');
  t.equal(writes, 1, 'twenty packets, one write');
  for (let k = 0; k < 50 && got.length < 20; k++) await new Promise((r) => setTimeout(r, 20));
  t.same(got, Array.from({ length: 20 }, (_, k) => String(k)), 'all delivered, in order');
  await Promise.all([pub.endAsync(true), sub.endAsync(true)]);
  await broker.close();
});
