/**
 * The digital twin's mirror of the live plant: every device as the telemetry shows it, the scenario's
 * parameters estimated from live data, and drift from the scenario the running actors were trained on.
 *
 * | mirrored                    | from                               |
 * |-----------------------------|------------------------------------|
 * | last seen, online/offline   | status (retained, Last Will)       |
 * | task arrivals, s / e / d    | task announcements                 |
 * | decisions (local vs edge m) | decisions                          |
 * | outcomes, latency, drops    | results                            |
 * | edge load and backlogs      | edge state (every slot)            |
 * | uplink time per IED–ES pair | offload uploadedAt − decision time |
 * | effective uplink rates      | offload sizeMbit / uplinkSeconds (uplink-drift.ts)           |
 * | desired vs reported model   | model / model/reported (retained)  |
 *
 * Edge GPU rate: an edge server reports the Gcycles it spent each slot; in a slot where no queue ran
 * dry that is exactly F_m·Δt, so F̂_m is the largest servedGcycles/Δt over the window (a lower bound
 * under light load). An edge server is reported drifting when F̂_m is more than 10% off F_m after at
 * least 20 busy slots (two or more valid queues).
 *
 * Drift statistics (documented in docs/twin.md): z-tests of the fleet's and each IED's arrival
 * probability and of the mean task size, density and deadline against the trained scenario
 * (arrival-stats.ts), with at least `minTasks` tasks seen; edge GPU rates as above; effective uplink
 * rates against the scenario's radio model (uplink-drift.ts).
 *
 * A little over 300 lines: one handler per telemetry kind feeding the estimates that drift() and
 * recalibrated() read; splitting them would separate each estimate from its test.
 */
import type { MqttClient } from 'mqtt';
import type { PerServer, Scenario } from '../core/scenario/schema.ts';
import { perServer } from '../core/scenario/load.ts';
import { decode } from '../protocol/codec.ts';
import { subscriptions } from '../protocol/topics.ts';
import { listen, type Accepted } from '../protocol/inbox.ts';
import type { EdgeState, Offload, TaskAnnouncement } from '../protocol/messages.ts';
import { DeviceTable, type DeviceView } from './devices.ts';
import { UplinkRates, type UplinkEstimate } from './uplink-drift.ts';
import { arrivalStats, PER_IED_Z, type Arrival, type ArrivalStats, type DriftTest } from './arrival-stats.ts';

export interface MirrorOptions {
  readonly scenario: Scenario;
  readonly epochMs: number;
  readonly now: () => number;
  /** slots in the estimation window */
  readonly windowSlots?: number;
  readonly minTasks?: number;
  readonly zThreshold?: number;
}

export type { DeviceView } from './devices.ts';

/** Slots without any announced task after which the drift report says so (an advisory, not drift). */
export const SILENT_ANNOUNCER_SLOTS = 50;

export interface DriftReport {
  readonly drift: boolean;
  /** why the plant is judged drifted (each one a retraining trigger) */
  readonly reasons: readonly string[];
  /** what is off but cannot be retrained for (single IEDs' arrival rates) */
  readonly advisories: readonly string[];
  readonly windowSlots: number;
  readonly tasks: number;
  readonly arrivalProbability: DriftTest;
  /** p̂_i per IED (keys are IED ids) */
  readonly perIedArrivalProbability: Readonly<Record<string, DriftTest>>;
  readonly meanSizeMbit: DriftTest;
  readonly meanDensity: DriftTest;
  readonly meanDeadlineSeconds: DriftTest;
  /** the smallest and largest size, density and deadline announced in the window */
  readonly observed: ArrivalStats['observed'];
  /** ms since the mirror last heard any telemetry */
  readonly lagMs: number;
  /**
   * Slots between now and the newest slot with an announced task: the announcer's own lag (e.g. an
   * emulator that cannot keep up with the wall clock). Arrival statistics end at that slot, so a
   * lagging announcer is reported here, never mistaken for a drop in the arrival rate.
   */
  readonly announcementLagSlots: number;
  /** F̂_m (GHz) per edge server with enough busy slots, against the scenario's F_m */
  readonly edgeGpuGHz: Readonly<Record<string, { readonly estimate: number; readonly scenario: number; readonly busySlots: number }>>;
  /** live effective uplink rates against the scenario's radio model (uplink-drift.ts): per edge server, all together, per "ied:server" pair */
  readonly uplink: { readonly servers: Readonly<Record<string, UplinkEstimate>>; readonly fleet: UplinkEstimate; readonly pairs: Readonly<Record<string, UplinkEstimate>> };
}

export class TwinMirror {
  /** devices and services as the telemetry shows them (devices.ts) */
  private readonly registry: DeviceTable;
  readonly edges = new Map<number, { slot: number; activeQueues: number; backlogMbit: number; at: number }>();
  /** per edge server: recent (slot, served Gcycles) of busy slots, for F̂_m */
  private readonly served = new Map<number, { slot: number; gcycles: number }[]>();
  /** mean upload time (s) per "ied:edge" pair and the samples behind it */
  readonly uplink = new Map<string, { seconds: number; samples: number }>();
  private readonly arrivals: Arrival[] = [];
  private readonly decidedAt = new Map<string, number>();
  private lastMessageAt = 0;
  /** the first slot the mirror saw a task in: the window never reaches back before it */
  private firstSlot: number | undefined;
  /** the newest slot an announced task belongs to */
  private lastArrivalSlot: number | undefined;
  private readonly windowSlots: number;
  private uplinkRates: UplinkRates;
  private o: MirrorOptions;

  constructor(o: MirrorOptions) {
    this.o = o;
    this.windowSlots = o.windowSlots ?? 300;
    this.uplinkRates = new UplinkRates(this.windowSlots, o.scenario);
    this.registry = new DeviceTable(() => this.o.scenario.ieds);
  }

  /** The scenario the running actors were trained on (and what the twin expects of them) as of now. */
  get scenario(): Scenario {
    return this.o.scenario;
  }

  /**
   * New actors run live, trained on `scenario`: judge drift against it from now on, on fresh evidence
   * (the estimation windows restart; devices and model versions stay).
   */
  retarget(scenario: Scenario): void {
    this.o = { ...this.o, scenario };
    this.uplinkRates = new UplinkRates(this.windowSlots, scenario);
    this.arrivals.length = 0;
    this.served.clear();
    this.firstSlot = undefined;
    this.lastArrivalSlot = undefined;
  }

  static async create(mqtt: MqttClient, o: MirrorOptions): Promise<TwinMirror> {
    const m = new TwinMirror(o);
    await listen({
      mqtt,
      subscriptions: [subscriptions.allTasks, subscriptions.allDecisions, subscriptions.allResults, subscriptions.allEdgeStates, subscriptions.allOffloads, subscriptions.allStatus, subscriptions.allDesiredModels, subscriptions.allReportedModels],
      dispatch: (d) => m.accept(d),
    });
    return m;
  }

  private slotOf(ms: number): number {
    return Math.floor((ms - this.o.epochMs) / (this.o.scenario.slotSeconds * 1000));
  }

  /** One telemetry message (also the entry point for tests and replays). */
  ingest(topic: string, payload: Buffer | string): void {
    const d = decode(topic, payload);
    if (d.ok) this.accept(d);
  }

  /** IEDs (`ied-<i>`) and edge servers (`edge-<m>`) as the telemetry shows them */
  get devices(): ReadonlyMap<string, DeviceView> {
    return this.registry.devices;
  }

  /** the processes around them: gateways (`gateway-<ieds>`), the twin, the emulator */
  get services(): ReadonlyMap<string, DeviceView> {
    return this.registry.services;
  }

  /** One handler per telemetry kind. */
  private accept(d: Accepted): void {
    const now = this.o.now();
    this.lastMessageAt = now;
    const devices = this.registry;
    switch (d.kind) {
      case 'task':
        return this.onTask(d.message, now);
      case 'decision':
        devices.decision(d.message.iedId, d.message.action, now);
        this.decidedAt.set(d.message.taskId, d.message.decidedAt);
        if (this.decidedAt.size > 200_000) this.decidedAt.clear();
        return;
      case 'offload':
        return this.onOffload(d.message);
      case 'result':
        return devices.result(d.message.iedId, d.message.outcome === 'completed');
      case 'edgeState':
        return this.onEdgeState(d.message, now);
      case 'status':
        return devices.status(d.message, now);
      case 'desiredModel':
        devices.ied(d.message.iedId).desiredModel = d.message.version;
        return;
      case 'reportedModel':
        devices.ied(d.message.iedId).reportedModel = d.message.version;
        return;
      default:
        return;
    }
  }

  private onTask(t: TaskAnnouncement, now: number): void {
    this.registry.task(t.iedId, now);
    const slot = this.slotOf(t.createdAt);
    this.firstSlot ??= slot;
    if (this.lastArrivalSlot === undefined || slot > this.lastArrivalSlot) this.lastArrivalSlot = slot;
    this.arrivals.push({ slot, ied: t.iedId, sizeMbit: t.sizeMbit, density: t.density, deadlineSeconds: t.deadlineSeconds });
    // drift() only looks back windowSlots: drop older arrivals in chunks (cheap, bounded memory)
    const oldest = this.arrivals[0];
    if (oldest && oldest.slot < slot - 2 * this.windowSlots) {
      const keep = this.arrivals.findIndex((a) => a.slot >= slot - this.windowSlots);
      this.arrivals.splice(0, keep < 0 ? this.arrivals.length : keep);
    }
  }

  private onOffload(o: Offload): void {
    const decided = this.decidedAt.get(o.taskId);
    if (decided !== undefined) {
      const key = `${o.iedId}:${o.edgeServerId}`;
      const u = this.uplink.get(key) ?? { seconds: 0, samples: 0 };
      u.seconds += (Math.max(0, o.uploadedAt - decided) / 1000 - u.seconds) / (u.samples + 1);
      u.samples++;
      this.uplink.set(key, u);
    }
    if (o.uplinkSeconds !== undefined) this.uplinkRates.add(this.slotOf(o.uploadedAt), o.iedId, o.edgeServerId, o.sizeMbit, o.uplinkSeconds, o.uplinkSharers ?? 1);
  }

  private onEdgeState(s: EdgeState, now: number): void {
    this.edges.set(s.edgeServerId, { slot: s.slot, activeQueues: s.activeQueues, backlogMbit: Object.values(s.backlogMbit).reduce((a, b) => a + b, 0), at: s.at });
    if (s.servedGcycles !== undefined && s.activeQueues >= 2) {
      const list = this.served.get(s.edgeServerId) ?? [];
      list.push({ slot: s.slot, gcycles: s.servedGcycles });
      if (list.length > 2 * this.windowSlots) list.splice(0, list.length - this.windowSlots);
      this.served.set(s.edgeServerId, list);
    }
    this.registry.edgeState(s.edgeServerId, now);
  }

  /** The drift statistic over the last windowSlots complete slots (see the header). */
  drift(): DriftReport {
    const s = this.o.scenario;
    const current = this.slotOf(this.o.now());
    // arrivals are judged up to the newest announced slot: an announcer running behind the clock
    // (announcementLagSlots) must not read as fewer arrivals
    const end = Math.min(current, (this.lastArrivalSlot ?? current - 1) + 1);
    // a mirror that started recently judges the slots it has seen, not a full window
    const from = Math.max(end - this.windowSlots, this.firstSlot ?? end);
    const slots = Math.max(0, end - from);
    const recent = this.arrivals.filter((a) => a.slot >= from && a.slot < end);
    const stats = arrivalStats(recent, slots, s);
    const threshold = this.o.zThreshold ?? 4;
    const enough = recent.length >= (this.o.minTasks ?? 100);
    const reasons: string[] = [];
    const { arrivalProbability: ap, meanSizeMbit: size, meanDensity: density, meanDeadlineSeconds: deadline } = stats;
    if (enough && Math.abs(ap.z) > threshold) reasons.push(`arrival probability ${ap.estimate.toFixed(3)} vs ${ap.scenario} (z = ${ap.z.toFixed(1)})`);
    // a few IEDs off the trained rate (the worst three, then a count); when most are, the fleet's alarm says it
    const offIeds = Object.entries(stats.perIedArrivalProbability).filter(([, e]) => Math.abs(e.z) > PER_IED_Z).sort(([, a], [, b]) => Math.abs(b.z) - Math.abs(a.z));
    const advisories: string[] = [];
    if (enough && slots >= 30 && offIeds.length > 0 && offIeds.length <= s.ieds / 2)
      advisories.push(offIeds.slice(0, 3).map(([i, e]) => `IED ${i} arrival probability ${e.estimate.toFixed(3)} vs ${e.scenario} (z = ${e.z.toFixed(1)})`).join('; ') + (offIeds.length > 3 ? ` and ${offIeds.length - 3} more IEDs` : ''));
    if (enough && Math.abs(size.z) > threshold) reasons.push(`mean task size ${size.estimate.toFixed(2)} Mbit vs ${size.scenario} (z = ${size.z.toFixed(1)})`);
    if (enough && Math.abs(density.z) > threshold) reasons.push(`mean density ${density.estimate.toFixed(4)} Gcycles/Mbit vs ${density.scenario} (z = ${density.z.toFixed(1)})`);
    if (enough && Math.abs(deadline.z) > threshold) reasons.push(`mean deadline ${deadline.estimate.toFixed(2)} s vs ${deadline.scenario} (z = ${deadline.z.toFixed(1)})`);
    const edgeGpuGHz: Record<string, { estimate: number; scenario: number; busySlots: number }> = {};
    const trainedF = perServer(s.edge.gpuGHz, s.edgeServers);
    for (const [m, list] of this.served) {
      const busy = list.filter((x) => x.slot >= current - this.windowSlots);
      if (busy.length === 0) continue;
      const estimate = Math.max(...busy.map((x) => x.gcycles)) / s.slotSeconds;
      const scenarioF = trainedF[m - 1] as number;
      edgeGpuGHz[String(m)] = { estimate, scenario: scenarioF, busySlots: busy.length };
      if (busy.length >= 20 && Math.abs(estimate - scenarioF) > 0.1 * scenarioF) reasons.push(`edge server ${m} GPU ${estimate.toFixed(2)} GHz vs ${scenarioF} (${busy.length} busy slots)`);
    }
    const fromSlot = current - this.windowSlots;
    const uplink = { servers: this.uplinkRates.servers(fromSlot), fleet: this.uplinkRates.fleet(fromSlot), pairs: this.uplinkRates.pairs(fromSlot) };
    const pct = (u: UplinkEstimate) => `${u.mbps.toFixed(1)} Mbit/s, ${(100 * u.ratio).toFixed(0)}% of the scenario's ${u.scenarioMbps.toFixed(1)} (${u.samples} uploads)`;
    const slowServers = Object.entries(uplink.servers).filter(([, u]) => u.drift);
    for (const [m, u] of slowServers) reasons.push(`uplink to edge server ${m} at ${pct(u)}`);
    if (slowServers.length === 0 && uplink.fleet.drift) reasons.push(`uplinks at ${pct(uplink.fleet)}`);
    // a plant that stopped announcing reads as a growing lag, never as drift: say so once it is long
    const announcementLagSlots = this.lastArrivalSlot === undefined ? 0 : Math.max(0, current - 1 - this.lastArrivalSlot);
    if (announcementLagSlots >= SILENT_ANNOUNCER_SLOTS)
      advisories.push(`no task announced for ${(announcementLagSlots * s.slotSeconds).toFixed(1)} s: the announcer is behind the clock or the plant stopped`);
    return {
      drift: reasons.length > 0,
      reasons,
      advisories,
      windowSlots: slots,
      tasks: recent.length,
      ...stats,
      lagMs: this.lastMessageAt ? this.o.now() - this.lastMessageAt : Number.NaN,
      announcementLagSlots,
      edgeGpuGHz,
      uplink,
    };
  }

  /** The scenario recalibrated to the live estimates (what a fine-tuning run would train on). */
  recalibrated(): Scenario {
    const d = this.drift();
    const s = structuredClone(this.o.scenario) as Scenario;
    // one arrival probability for the fleet (the scenario format has no per-IED rates; /twin/drift shows them)
    s.arrivals.probability = Math.min(1, Math.max(0, Number(d.arrivalProbability.estimate.toFixed(4))));
    // a drifted task statistic: its uniform range becomes the range announced in the window
    const threshold = this.o.zThreshold ?? 4;
    const enough = d.tasks >= (this.o.minTasks ?? 100);
    const ranges = [['sizeMbit', d.meanSizeMbit], ['densityGcyclesPerMbit', d.meanDensity], ['deadlineSeconds', d.meanDeadlineSeconds]] as const;
    for (const [field, e] of ranges) {
      const r = d.observed[field];
      if (enough && r && r.max > r.min && Math.abs(e.z) > threshold) s.task[field] = { min: Number(r.min.toPrecision(4)), max: Number(r.max.toPrecision(4)) };
    }
    // edge servers measured on enough busy slots take their measured rate
    const rates = Array.from(perServer(s.edge.gpuGHz, s.edgeServers));
    let changed = false;
    for (const [m, e] of Object.entries(d.edgeGpuGHz))
      if (e.busySlots >= 20 && Math.abs(e.estimate - e.scenario) > 0.1 * e.scenario) {
        rates[Number(m) - 1] = Number(e.estimate.toFixed(3));
        changed = true;
      }
    if (changed) s.edge.gpuGHz = rates;
    // uplinks off the scenario's rates scale the band (uplink-drift.ts: the scale that explains ρ)
    if (s.radio.spectrum === 'shared') {
      // one system band: only a fleet-wide change can be said as a band; a slow server alone cannot
      if (d.uplink.fleet.drift) s.radio.bandwidthMHz = Number(((s.radio.bandwidthMHz as number) * this.uplinkRates.bandScale(d.uplink.fleet.ratio)).toFixed(3));
      return s;
    }
    const bands = Array.from(perServer(s.edge.bandwidthMHz as PerServer, s.edgeServers));
    const slow = Object.entries(d.uplink.servers).filter(([, u]) => u.drift);
    const scale = (m: number, c: number) => (bands[m] = Number(((bands[m] as number) * c).toFixed(3)));
    for (const [m, u] of slow) scale(Number(m) - 1, this.uplinkRates.bandScale(u.ratio, Number(m)));
    if (slow.length === 0 && d.uplink.fleet.drift) {
      const c = this.uplinkRates.bandScale(d.uplink.fleet.ratio);
      bands.forEach((_, m) => scale(m, c));
    }
    const rescaled = slow.length > 0 || d.uplink.fleet.drift;
    if (rescaled) s.edge.bandwidthMHz = bands;
    return s;
  }
}
