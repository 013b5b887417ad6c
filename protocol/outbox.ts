/**
 * Publishing in small batches: a slot's end can release hundreds of offloads and results at once
 * (every upload that finished in the slot); sending them all in one go would hold the event loop for
 * milliseconds while decisions wait. The outbox sends `batch` messages per turn of the event loop, in
 * order, so decisions interleave with the burst.
 */
import type { MqttClient, IClientPublishOptions } from 'mqtt';
import type { Logger } from 'pino';

interface Item {
  readonly topic: string;
  readonly payload: string;
  readonly opts: IClientPublishOptions;
  /** called once the broker acknowledged it (QoS 1) or it was written (QoS 0) */
  readonly onSent?: () => void;
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

  publish(topic: string, payload: string, opts: IClientPublishOptions, onSent?: () => void): void {
    this.queue.push(onSent ? { topic, payload, opts, onSent } : { topic, payload, opts });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.beforeSend?.();
    const end = Math.min(this.queue.length, this.head + this.batch);
    for (; this.head < end; this.head++) {
      const { topic, payload, opts, onSent } = this.queue[this.head] as Item;
      this.mqtt.publish(topic, payload, opts, (err) => {
        if (err) this.logger.warn({ err: err.message, topic }, 'publish failed');
        else onSent?.();
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
