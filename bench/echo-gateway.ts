/**
 * The harness floor of `npm run bench -- journal`: a "gateway" that decides nothing. It takes every
 * task from the broker and answers with a decision at once (action 0), decoding and encoding them
 * with the protocol's own codec on the same MQTT client stack as the real gateway (protocol/mqtt.ts),
 * with no queues, no model, no journal. Run in the gateway's place, it measures what the broker, the
 * emulator, the observer and this machine's scheduling alone add to announcement → decision.
 *
 * usage: tsx bench/echo-gateway.ts <broker url> <ieds>
 */
import { connectMqtt, takeEarlyMessages } from '../protocol/mqtt.ts';
import { decode, encode } from '../protocol/codec.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import { subscriptions, topics } from '../protocol/topics.ts';

const [url, iedsText] = process.argv.slice(2);
if (!url || !iedsText) throw new Error('usage: tsx bench/echo-gateway.ts <broker url> <ieds>');
const client = await connectMqtt({ url, clientId: `bench-echo-gateway-${process.pid}`, device: { kind: 'ied', id: `0-${Number(iedsText) - 1}` } });
const answer = (topic: string, payload: Buffer) => {
  const r = decode(topic, payload);
  if (!r.ok || r.kind !== 'task') return;
  const t = r.message;
  const left = (t.createdAt + t.deadlineSeconds * 1000 - Date.now()) / 1000;
  client.publish(topics.decision(t.iedId), encode('decision', { v: 1, taskId: t.taskId, iedId: t.iedId, action: 0, policyVersion: 'echo', decidedAt: Date.now(), inferenceMicros: 0 }), publishOptions('decision', client, left));
};
takeEarlyMessages(client, answer); // what came before this line, then everything live
client.on('message', answer);
await client.subscribeAsync(subscriptions.allTasks, { qos: 1 });
process.once('SIGTERM', () => void client.endAsync(true).then(() => process.exit(0)));
