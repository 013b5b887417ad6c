/**
 * The edge-server runtime: one process per edge server m. One FIFO per IED, the GPU shared equally
 * among the non-empty queues (eq. 2), deadline drops — the simulator's own engine (sim/ World,
 * edge stage only), clocked in real time. Publishes its state every slot (retained) and each result.
 *
 * | handler        | on                                   | does                                               |
 * |----------------|--------------------------------------|----------------------------------------------------|
 * | onOffload      | gmel/v1/edge/{m}/offload             | admit (admission.ts), dedupe, queue (from the slot  |
 *                                                          after upload)                                       |
 * | onSlotEnd(k)   | the end of slot k (SlotTicker)       | serve slot k, drop expired, publish state; each     |
 *                                                          outcome to the IED's gateway (edge-result)          |
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Scenario } from '../core/scenario/schema.ts';
import { SlotTicker, slotAt, type Clock } from '../protocol/clock.ts';
import { RecentIds } from '../protocol/recent-ids.ts';
import { Refusals, runtimeMetrics, Registry, type RuntimeMetrics } from '../protocol/observability.ts';
import { Gauge } from 'prom-client';
import { encode } from '../protocol/codec.ts';
import { listen } from '../protocol/inbox.ts';
import { Outbox } from '../protocol/outbox.ts';
import { topics } from '../protocol/topics.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import type { Offload } from '../protocol/messages.ts';
import type { StageName } from '../sim/task-pool.ts';
import { LiveWorld } from '../sim/live-world.ts';
import { admitOffload } from './admission.ts';

export interface EdgeServerOptions {
  readonly scenario: Scenario;
  /** 1-based, as in actions and topics */
  readonly edgeServerId: number;
  readonly mqtt: MqttClient;
  readonly clock: Clock;
  /** wall-clock time of slot 0's start, shared by the whole plant */
  readonly epochMs: number;
  readonly logger: Logger;
  readonly registry?: Registry;
}

interface Waiting {
  readonly msg: Offload;
  readonly uploadedSlot: number;
}

export class EdgeServerRuntime {
  readonly world: LiveWorld<Offload>;
  readonly metrics: RuntimeMetrics;
  readonly registry: Registry;
  private readonly m: number;
  private readonly slotMs: number;
  private readonly ticker: SlotTicker;
  private readonly seen = new RecentIds();
  private readonly waiting: Waiting[] = [];
  private closed = false;
  private readonly outbox: Outbox;
  private readonly queuedTasks: Gauge;
  private readonly backlogBytes: Gauge;
  /** counted, rate-limited refusal logs (shared with the inbox) */
  private readonly refusals: Refusals;

  private constructor(private readonly o: EdgeServerOptions) {
    this.m = o.edgeServerId - 1;
    if (!(this.m >= 0 && this.m < o.scenario.edgeServers)) throw new RangeError(`edge server ${o.edgeServerId} is not in 1..${o.scenario.edgeServers}`);
    this.slotMs = o.scenario.slotSeconds * 1000;
    this.registry = o.registry ?? new Registry();
    this.metrics = runtimeMetrics(this.registry, 'gmel_edge');
    this.queuedTasks = new Gauge({ name: 'gmel_edge_queued_tasks', help: 'offloaded tasks queued here (uploaded, not yet resolved)', registers: [this.registry] });
    this.backlogBytes = new Gauge({ name: 'gmel_edge_backlog_bytes', help: 'unprocessed task data queued here, bytes', registers: [this.registry] });
    this.refusals = new Refusals(this.metrics, o.logger);
    this.ticker = new SlotTicker(o.clock, o.epochMs, this.slotMs, (k) => this.onSlotEnd(k), (err, k) => o.logger.error({ err: (err as Error)?.message ?? String(err), slot: k }, 'slot handler failed'));
    this.world = LiveWorld.create<Offload>(o.scenario, this.ticker.currentSlot, {
      outcome: (msg, completed, stage, latency) => this.onOutcome(msg, completed, stage, latency),
    });
    this.outbox = new Outbox(o.mqtt, o.logger);
  }

  static async create(o: EdgeServerOptions): Promise<EdgeServerRuntime> {
    const rt = new EdgeServerRuntime(o);
    await listen({
      mqtt: o.mqtt, metrics: rt.metrics, logger: o.logger, refusals: rt.refusals, subscriptions: [topics.offload(o.edgeServerId)],
      dispatch: (d) => {
        if (d.kind === 'offload') rt.onOffload(d.message);
      },
    });
    rt.ticker.start();
    return rt;
  }

  onOffload(msg: Offload): void {
    if (msg.edgeServerId !== this.o.edgeServerId) return;
    if (this.seen.has(msg.taskId)) {
      this.refusals.refuse('duplicate', { taskId: msg.taskId }, 'duplicate offload: ignored');
      return;
    }
    const refusal = admitOffload(msg, this.o.scenario, this.o.clock.now(), (i) => this.queued(i));
    if (refusal) {
      this.refusals.refuse(refusal.code, { taskId: msg.taskId, iedId: msg.iedId, detail: refusal.detail }, 'offload refused');
      return;
    }
    this.seen.add(msg.taskId);
    // stamps from a clock ahead of ours count from now: an upload cannot finish in a slot not yet reached
    const uploadedSlot = Math.min(Math.floor(slotAt(msg.uploadedAt, this.o.epochMs, this.slotMs) + 1e-9), this.world.slot);
    this.o.logger.debug({ taskId: msg.taskId, uploadedSlot, slot: this.world.slot }, 'offload received');
    this.waiting.push({ msg, uploadedSlot });
    // an upload that finished in an earlier slot is served from the current one (as in the simulator)
    this.admit(this.world.slot - 1);
  }

  /** IED i's tasks here: in its edge queue, or waiting for the slot after their upload */
  private queued(i: number): number {
    let n = this.world.edgeCount[i * this.world.M + this.m] ?? 0;
    for (const w of this.waiting) if (w.msg.iedId === i) n++;
    return n;
  }

  /** Join every waiting task whose upload finished in a slot ≤ upTo. */
  private admit(upTo: number): void {
    // in arrival order (the simulator's order for uploads finishing in the same slot), in one pass
    const ready = this.waiting.filter((w) => w.uploadedSlot <= upTo);
    if (ready.length === 0) return;
    const still = this.waiting.filter((w) => w.uploadedSlot > upTo);
    this.waiting.length = 0;
    this.waiting.push(...still);
    for (const { msg } of ready) {
      // a task already past its deadline is dropped inside acceptAtEdge (its outcome is published)
      this.world.acceptAtEdge(msg.iedId, this.m, {
        sizeMbit: msg.sizeMbit,
        density: msg.density,
        arrivalSlot: Math.min(slotAt(msg.createdAt, this.o.epochMs, this.slotMs), this.world.slot),
        deadlineSlot: slotAt(msg.deadlineAt, this.o.epochMs, this.slotMs),
      }, msg);
    }
  }

  private onSlotEnd(slot: number): void {
    if (this.closed) return;
    const w = this.world;
    w.catchUpTo(slot); // a stalled process catches up slot by slot (SlotTicker)
    this.admit(slot - 1);
    w.endSlot({ edge: true, uplink: false });
    this.admit(slot); // uploads finished during slot `slot` queue for slot + 1
    const backlogMbit: Record<string, number> = {};
    for (let i = 0; i < w.I; i++) {
      const q = i * w.M + this.m;
      if ((w.edgeCount[q] as number) > 0) backlogMbit[String(i)] = Math.round((w.edgeBacklogMbit[q] as number) * 1e6) / 1e6;
    }
    this.queuedTasks.set(w.open);
    this.backlogBytes.set(Object.values(backlogMbit).reduce((a, b) => a + b, 0) * 125_000); // Mbit → bytes
    const state = encode('edgeState', { v: 1, edgeServerId: this.o.edgeServerId, slot, at: this.o.clock.now(), activeQueues: w.edgeLoadLast[this.m] as number, backlogMbit, servedGcycles: Math.round((w.edgeServedGcycles[this.m] as number) * 1e6) / 1e6 });
    this.outbox.publish(topics.edgeState(this.o.edgeServerId), state, publishOptions('edgeState'));
  }

  private onOutcome(msg: Offload, completed: boolean, stageName: StageName, latencySeconds: number): void {
    this.metrics.outcomes.inc({ outcome: completed ? 'completed' : 'dropped', stage: stageName });
    const latency = Math.max(0, latencySeconds); // never negative, whatever the stamps said
    if (completed) this.metrics.latency.observe(latency);
    const result = encode('edgeResult', { v: 1, taskId: msg.taskId, iedId: msg.iedId, outcome: completed ? 'completed' : 'dropped', stage: stageName, latencySeconds: latency, at: this.o.clock.now(), edgeServerId: this.o.edgeServerId });
    this.o.logger.debug({ taskId: msg.taskId, completed }, 'result');
    this.outbox.publish(topics.edgeResult(msg.iedId, this.o.edgeServerId), result, publishOptions('edgeResult'));
  }

  health(): { ok: boolean; connected: boolean; slot: number; queued: number } {
    return { ok: !this.closed && this.o.mqtt.connected, connected: this.o.mqtt.connected, slot: this.world.slot, queued: this.world.open };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker.stop();
    this.refusals.flush();
    while (this.outbox.pending > 0) await new Promise((r) => setImmediate(r));
  }
}
