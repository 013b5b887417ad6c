/**
 * Publishing in small batches: a slot's end can release hundreds of offloads and results at once
 * (every upload that finished in the slot); sending them all in one go would hold the event loop for
 * milliseconds while decisions wait. The outbox sends `batch` messages per turn of the event loop, in
 * order, so decisions interleave with the burst.
 */
import type { MqttClient, IClientPublishOptions } from 'mqtt';
import type { Logger } from 'pino';

/**
 * The broker's final word on a message: accepted (no argument), or refused with an MQTT 5 reason
 * code ≥ 0x80 (not authorized, quota exceeded…), which sending it again cannot change. Not called
 * when the connection failed before the answer: mqtt.js sends a QoS 1 message again on reconnect.
 */
export type Settled = (refused?: { readonly code: number; readonly message: string }) => void;

interface Item {
  readonly topic: string;
  readonly payload: string;
  readonly opts: IClientPublishOptions;
  /** called once the broker acknowledged it (QoS 1) or it was written (QoS 0), or refused it for good */
  readonly onSettled?: Settled;
}

export class Outbox {
  private readonly queue: Item[] = [];
  private head = 0;
  private scheduled = false;

  constructor(
    private readonly mqtt: MqttClient,
    private readonly logger: Logger,
    private readonly batch = 16,
    /** runs before each batch is sent (a journal writing what the batch's messages depend on) */
    private readonly beforeSend?: () => void,
  ) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  publish(topic: string, payload: string, opts: IClientPublishOptions, onSettled?: Settled): void {
    this.queue.push(onSettled ? { topic, payload, opts, onSettled } : { topic, payload, opts });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.beforeSend?.();
    const end = Math.min(this.queue.length, this.head + this.batch);
    for (; this.head < end; this.head++) {
      const { topic, payload, opts, onSettled } = this.queue[this.head] as Item;
      this.mqtt.publish(topic, payload, opts, (err) => {
        if (!err) return onSettled?.();
        const code = (err as { code?: unknown }).code;
        this.logger.warn({ err: err.message, topic, ...(typeof code === 'number' ? { reasonCode: code } : {}) }, 'publish failed');
        if (typeof code === 'number' && code >= 0x80) onSettled?.({ code, message: err.message });
      });
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      this.scheduled = false;
    } else {
      // under sustained load the queue never drains to empty: drop what was sent now and then
      if (this.head > 4096) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      setImmediate(() => this.flush());
    }
  }
}
