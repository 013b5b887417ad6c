/**
 * The plant emulator: announces tasks for N IEDs in real time, from the simulator's arrival process
 * (Bernoulli(p) per IED per slot, or Poisson, and drawTaskParameters), on gmel/v1/ied/{i}/task.
 * A task of slot k is stamped createdAt = epoch + k·Δt and published as slot k starts (the paper's
 * slotted arrivals), or, with spreadWithinSlot, at a uniform random instant inside slot k (stamped
 * with that instant): arrivals as a real plant produces them, for latency benchmarks.
 *
 * A producer that retries: every announcement is QoS 1 and stays in the MQTT client's outgoing store
 * until the broker acknowledges it; mqtt.js sends the store again on every (re)connect, to whichever
 * node of the list it reaches. `delivery` counts what each handshake went through: acknowledged on
 * the connection it was sent on, sent again after that connection died before the PUBACK (announced
 * into a dead node), or published while no connection was up and sent on the next one. What the
 * broker acknowledged and then lost, no producer can see (docs/scale-out.md).
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Rng } from '../core/rng.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { SlotTicker, type Clock } from '../protocol/clock.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import { encode } from '../protocol/codec.ts';
import { topics } from '../protocol/topics.ts';
import { drawTaskParameters } from '../sim/task-model.ts';

export interface EmulatorOptions {
  readonly scenario: Scenario;
  readonly mqtt: MqttClient;
  readonly clock: Clock;
  readonly epochMs: number;
  readonly seed: number;
  readonly logger: Logger;
  /** announce only for these IEDs (default all) */
  readonly iedIds?: readonly number[];
  /** publish each task at a random instant inside its slot instead of all at the slot's start */
  readonly spreadWithinSlot?: boolean;
}

export class PlantEmulator {
  private readonly ticker: SlotTicker;
  private readonly rng: Rng;
  private readonly slotMs: number;
  private readonly ieds: readonly number[];
  private readonly runTag: string;
  announced = 0;
  /**
   * How far behind the wall clock this process announces: ms from a slot's start to the moment its
   * tasks were announced (a loaded machine falls behind; a real plant's producer would not). Reported
   * as the emulator's lag, never as a change of the plant.
   */
  readonly lag = { maxMs: 0, sumMs: 0, slots: 0 };
  /** every announcement (id, createdAt ms, deadline s), for audits and tests; bounded */
  readonly log: { taskId: string; createdAt: number; deadlineSeconds: number }[] = [];
  /**
   * QoS 1 handshakes of the announcements: acknowledged (in all), of those sent again on a later
   * connection (the first went into a connection that died before its PUBACK) or sent first on a
   * later one (published while disconnected), and failed (the client gave up: logged as a warning)
   */
  readonly delivery = { acknowledged: 0, resent: 0, queuedWhileDisconnected: 0, failed: 0 };
  /** the announcements behind delivery.resent and delivery.queuedWhileDisconnected, for audits; bounded */
  readonly retried: { taskId: string; how: 'resent' | 'queued' }[] = [];
  /**
   * Which connection an announcement went out on: bumped when a connection closes (mqtt.js emits
   * 'connect' only once the resent store has drained, so a resend's PUBACK can arrive before it).
   * Kept after stop(): announcements in flight still complete their handshakes.
   */
  private connection = 0;
  private readonly onClose = () => void this.connection++;
  private stopped = false;

  private constructor(private readonly o: EmulatorOptions) {
    this.rng = new Rng(o.seed);
    this.slotMs = o.scenario.slotSeconds * 1000;
    this.ieds = o.iedIds ?? Array.from({ length: o.scenario.ieds }, (_, i) => i);
    this.runTag = `${o.epochMs.toString(36)}s${o.seed}`;
    // the end of slot k - 1 is the start of slot k: announce slot k's tasks then
    this.ticker = new SlotTicker(o.clock, o.epochMs - this.slotMs, this.slotMs, (k) => this.announceSlot(k));
    o.mqtt.on('close', this.onClose);
  }

  static create(o: EmulatorOptions): PlantEmulator {
    const e = new PlantEmulator(o);
    e.ticker.start();
    return e;
  }

  private announceSlot(slot: number): void {
    if (this.stopped || slot < 0) return;
    const { arrivals, task } = this.o.scenario;
    const createdAt = this.o.epochMs + slot * this.slotMs;
    const lateMs = Math.max(0, this.o.clock.now() - createdAt);
    this.lag.maxMs = Math.max(this.lag.maxMs, lateMs);
    this.lag.sumMs += lateMs;
    this.lag.slots++;
    for (const i of this.ieds) {
      const count = arrivals.process === 'poisson' ? this.rng.poisson(arrivals.probability) : this.rng.uniform() < arrivals.probability ? 1 : 0;
      for (let n = 0; n < count; n++) {
        const t = drawTaskParameters(this.rng, task);
        const offset = this.o.spreadWithinSlot ? Math.floor(this.rng.uniform() * (this.slotMs - 1)) : 0;
        const taskId = `${this.runTag}-${slot}-${i}-${n}`;
        const publish = () => {
          if (this.stopped) return;
          // spread arrivals are stamped when actually published (a late timer must not count against the system)
          const at = offset > 0 ? Math.max(createdAt + offset, this.o.clock.now()) : createdAt;
          const msg = encode('task', { v: 1, taskId, iedId: i, sizeMbit: t.sizeMbit, density: t.density, deadlineSeconds: t.deadlineSeconds, createdAt: at });
          this.announced++;
          if (this.log.length < 1_000_000) this.log.push({ taskId, createdAt: at, deadlineSeconds: t.deadlineSeconds });
          const sentOn = this.o.mqtt.connected ? this.connection : -1;
          this.o.mqtt.publish(topics.task(i), msg, publishOptions('task', this.o.mqtt, t.deadlineSeconds), (err) => this.handshakeDone(taskId, sentOn, err));
        };
        if (offset > 0) this.o.clock.setTimeout(publish, createdAt + offset - this.o.clock.now());
        else publish();
      }
    }
  }

  private handshakeDone(taskId: string, sentOn: number, err: Error | undefined): void {
    if (err) {
      this.delivery.failed++;
      this.o.logger.warn({ err: err.message, taskId }, 'announce failed');
      return;
    }
    this.delivery.acknowledged++;
    if (sentOn === this.connection) return;
    const how = sentOn === -1 ? 'queued' : 'resent';
    if (how === 'queued') this.delivery.queuedWhileDisconnected++;
    else this.delivery.resent++;
    if (this.retried.length < 100_000) this.retried.push({ taskId, how });
  }

  /** no more announcements; what is in flight still completes its handshake (and is counted) */
  stop(): void {
    this.stopped = true;
    this.ticker.stop();
  }
}
