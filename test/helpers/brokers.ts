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
