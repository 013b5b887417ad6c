// `--broker a,b`: a runtime starts on the first node of the list that answers and, when the one it is
// on goes away, carries on through the next (protocol/mqtt.ts, mqtt.js's list of servers).
import t from 'tap';
import { connectMqtt, connectedBroker } from '../../protocol/mqtt.ts';
import { freePort, startAedes } from '../helpers/brokers.ts';

t.test('the first node that answers, then the next one on a lost connection', { timeout: 30_000 }, async (t) => {
  const dead = `mqtt://127.0.0.1:${await freePort()}`; // nothing listens there
  const a = await startAedes();
  const b = await startAedes();
  const client = await connectMqtt({ url: [dead, a.url, b.url].join(','), clientId: 'broker-list-client' });
  t.equal(connectedBroker(client), a.url, 'the first node refused the connection: on the second');
  const lostAt = Date.now();
  const reconnected = new Promise<void>((resolve) => client.once('connect', () => resolve()));
  await a.close(); // drops every connection
  await reconnected;
  t.equal(connectedBroker(client), b.url, `on to the third node ${Date.now() - lostAt} ms after the second went away`);
  await client.endAsync(true);
  await b.close();
});
