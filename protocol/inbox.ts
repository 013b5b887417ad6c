/**
 * A runtime's inbound side, the same for every runtime: subscribe, decode every message with the
 * protocol codec, count and log refusals by code (the logs rate-limited: observability.ts Refusals),
 * keep the connection gauge, and hand valid messages to the runtime's dispatcher (one small handler
 * per message kind lives in the runtime). Observers without metrics of their own (the KPI monitor, the
 * twin's mirror) listen the same way.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { decode, type Decoded } from './codec.ts';
import { Refusals, type RuntimeMetrics } from './observability.ts';
import { takeEarlyMessages } from './mqtt.ts';

export type Accepted = Extract<Decoded, { ok: true }>;

export async function listen(o: {
  readonly mqtt: MqttClient;
  /** counts received and refused messages and the connection (absent: an observer that counts none) */
  readonly metrics?: RuntimeMetrics;
  /** logs refusals and handler errors (absent: silent) */
  readonly logger?: Logger;
  /** the runtime's own refusals (its handlers' too), so one log budget per code covers both */
  readonly refusals?: Refusals;
  readonly subscriptions: readonly string[];
  readonly dispatch: (message: Accepted) => void;
}): Promise<void> {
  const refusals = o.refusals ?? new Refusals(o.metrics, o.logger);
  const handle = (topic: string, payload: Buffer) => {
    const d = decode(topic, payload);
    if (!d.ok) {
      refusals.refuse(d.code, { topic, detail: d.detail }, 'refused a message');
      return;
    }
    o.metrics?.received.inc({ kind: d.kind });
    try {
      o.dispatch(d);
    } catch (err) {
      // a handler bug must not take the runtime down (or crash-loop on a redelivered message)
      refusals.refuse('handler-error', { err: (err as Error)?.message ?? String(err), topic, kind: d.kind }, 'handling a message failed');
    }
  };
  // what the broker held for us while we were away, first (connectMqtt kept it), then live messages
  takeEarlyMessages(o.mqtt, handle);
  o.mqtt.on('message', handle);
  const metrics = o.metrics;
  if (metrics) {
    o.mqtt.on('connect', () => metrics.connected.set(1));
    o.mqtt.on('offline', () => metrics.connected.set(0));
  }
  await o.mqtt.subscribeAsync([...o.subscriptions], { qos: 1 });
  metrics?.connected.set(o.mqtt.connected ? 1 : 0);
}
