// startEmbeddedBroker().close() returns while a client is still connected (one that never disconnects,
// or a process still shutting down): it used to wait for that client for ever.
import t from 'tap';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../plant/brokers.ts';

t.test('close() drops live connections', async (t) => {
  const broker = await startEmbeddedBroker(0);
  const client = await mqtt.connectAsync(broker.url, { clientId: 'lingering', reconnectPeriod: 0 });
  const closed = await Promise.race([broker.close().then(() => 'closed'), new Promise((r) => setTimeout(() => r('still waiting after 5 s'), 5000).unref())]);
  t.equal(closed, 'closed');
  client.end(true);
});
