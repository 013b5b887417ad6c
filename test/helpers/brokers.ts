/** Brokers and clients for live tests: the plant's local brokers (plant/brokers.ts) and a client pool. */
import mqtt from 'mqtt';
import { startEmbeddedBroker, type LocalBroker } from '../../plant/brokers.ts';

export { startMosquitto, hasMosquitto, MOSQUITTO, freePort } from '../../plant/brokers.ts';
export type TestBroker = LocalBroker;
export const startAedes = (port = 0): Promise<LocalBroker> => startEmbeddedBroker(port);

/** MQTT clients a test opens, ended together at the end (so the broker can close). */
export function clientPool(url: string): { connect(id: string): Promise<mqtt.MqttClient>; endAll(): Promise<void> } {
  const clients: mqtt.MqttClient[] = [];
  return {
    async connect(id: string) {
      const c = await mqtt.connectAsync(url, { clientId: id });
      clients.push(c);
      return c;
    },
    endAll: async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    },
  };
}

/** Waits until `count()` stops growing over one 300 ms interval (at most 15 s): an observer still receiving what was queued. */
export async function untilSettled(count: () => number): Promise<void> {
  for (let last = -1, k = 0; k < 50 && count() !== last; k++) {
    last = count();
    await new Promise((r) => setTimeout(r, 300));
  }
}
