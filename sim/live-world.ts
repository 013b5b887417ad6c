/**
 * The world as the live runtimes drive it: the simulator's own engine (world.ts, "gmel" semantics),
 * clocked by real time instead of step(), fed by MQTT announcements instead of random arrivals. The
 * runtimes call only the methods below and hear back through the listener given at construction;
 * each task carries the runtime's own reference (`T`, e.g. its announcement), handed back with its
 * outcome, so no runtime keeps a second table of the world's task ids.
 *
 * | method        | used by       | does                                                             |
 * |---------------|---------------|------------------------------------------------------------------|
 * | create        | both          | a quiet copy of the plant (no random arrivals) at a given slot   |
 * | arrive        | runtime-ied   | a task arrives for IED i (at a given, possibly fractional, slot) |
 * | setLocalWait  | runtime-ied   | the local executor's own wait, for the observation               |
 * | observeEdge   | runtime-ied   | an edge server's reported load and backlogs, for the observation |
 * | decide        | runtime-ied   | decide IED i's current task now (one decision per announcement)  |
 * | handOffLocal  | runtime-ied   | IED i's task leaves for a real local executor                    |
 * | acceptAtEdge  | runtime-edge  | an offloaded task whose upload ended joins edge queue (i, m)     |
 * | catchUpTo     | both          | the slot the runtime's clock says is ending                      |
 * | endSlot       | both          | run the slot's chosen stages and resolutions, start the next     |
 * | abandonAll    | runtime-ied   | tasks still here leave, with their stage (shutdown reports)      |
 *
 * test/sim/live-engine.test.ts: a gateway-side and an edge-side LiveWorld, connected as the
 * runtimes are, resolve every task exactly as one simulator World.
 */
import { validateScenario } from '../core/scenario/load.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { World } from './world.ts';
import { EPS, Stage, STAGE_NAMES, type StageName } from './task-pool.ts';
import { edgeStage, uplinkStage, joinUploads, GmelSemantics } from './stages-gmel.ts';

/** A finished upload leaving the gateway's world for its edge server. */
export interface Upload {
  /** 0-based edge server index */
  readonly server: number;
  /** time on air, seconds (slots the IED transmitted × Δt) */
  readonly uplinkSeconds: number;
  /** mean number of IEDs sharing the band while it transmitted (absent if it never did) */
  readonly sharers?: number;
}

export interface LiveListener<T> {
  /** a task this world held reached its outcome (never called for a task that left it) */
  outcome?(ref: T, completed: boolean, stage: StageName, latencySeconds: number): void;
  /** gateway side: a finished upload leaves for its edge server (the task leaves this world) */
  uploaded?(ref: T, upload: Upload): void;
}

export class LiveWorld<T> extends World {
  private readonly refs = new Map<number, T>();
  private readonly gmel: GmelSemantics;

  private constructor(scenario: Scenario, private readonly listener: LiveListener<T>) {
    super(scenario);
    this.gmel = this.semantics as GmelSemantics;
  }

  /** The plant's scenario with random arrivals switched off (tasks come from MQTT), at `startSlot`. */
  static create<T>(scenario: Scenario, startSlot: number, listener: LiveListener<T>): LiveWorld<T> {
    if (scenario.semantics !== 'gmel') throw new Error(`live runtimes run the "gmel" semantics; scenario ${scenario.name} uses "${scenario.semantics}"`);
    const quiet = validateScenario({ ...structuredClone(scenario), arrivals: { ...scenario.arrivals, probability: 0 } }, scenario.name);
    const world = new LiveWorld<T>(quiet, listener);
    world.reset(0);
    world.slot = startSlot;
    return world;
  }

  /** tasks this world still holds (pending, local, uplink or at the edge) */
  get open(): number {
    return this.refs.size;
  }

  /** A task arrives for IED i at `arrivalSlot` (≤ now); sizes in Mbit, density Gcycles/Mbit, deadline s. */
  arrive(i: number, task: { sizeMbit: number; density: number; deadlineSeconds: number }, arrivalSlot: number, ref: T): void {
    this.refs.set(super.announce(i, task, arrivalSlot), ref);
  }

  /** Live tasks come with their runtime's reference (arrive): one without would never reach its runtime. */
  override announce(): number {
    throw new Error('a live world takes tasks through arrive(), with the runtime\'s reference');
  }

  /** The local executor's own queue wait for IED i (the observation's local wait), seconds. */
  setLocalWait(i: number, seconds: number): void {
    this.gmel.localBusyUntil[i] = this.slot + seconds / this.dt;
  }

  /** Edge server m's last reported |V_m| and the backlogs (Mbit) of the given IEDs' queues there. */
  observeEdge(m: number, activeQueues: number, backlogMbit: (i: number) => number, ieds: Iterable<number>): void {
    if (!(m >= 0 && m < this.M)) throw new RangeError(`no edge server ${m + 1}`);
    this.edgeLoadLast[m] = activeQueues;
    for (const i of ieds) this.edgeBacklogMbit[i * this.M + m] = backlogMbit(i);
  }

  /** Decide IED i's current task now (a decision per announcement, not per step). */
  decide(i: number, action: number): void {
    const id = this.currentTask[i] as number;
    if (id < 0) throw new Error(`IED ${i} has no task to decide in slot ${this.slot}`);
    if (!Number.isInteger(action) || action < 0 || action > this.M) throw new RangeError(`action of IED ${i} must be an integer in 0..${this.M}, got ${action}`);
    this.decideAt(i, id, action);
  }

  /** IED i's current task (decided local) leaves this world for a real executor: its reference. */
  handOffLocal(i: number): T {
    const id = this.currentTask[i] as number;
    if (id < 0) throw new Error(`IED ${i} has no task to hand off in slot ${this.slot}`);
    const pool = this.pool;
    pool.decisionSlot[id] = this.slot;
    pool.stage[id] = Stage.Local;
    this.currentTask[i] = -1;
    return this.leave(id) as T;
  }

  /**
   * Edge side: an offloaded task whose upload finished joins edge queue (i, m). Times in slot units of
   * this world's clock. A task whose deadline passed before the current slot began is dropped at once
   * (its outcome reaches the listener before this returns false); true: queued.
   */
  acceptAtEdge(i: number, m: number, task: { sizeMbit: number; density: number; arrivalSlot: number; deadlineSlot: number }, ref: T): boolean {
    if (!(i >= 0 && i < this.I)) throw new RangeError(`no IED ${i} (0..${this.I - 1})`);
    if (!(m >= 0 && m < this.M)) throw new RangeError(`no edge server ${m + 1}`);
    const id = this.newTask(i, task.sizeMbit, task.density, (task.deadlineSlot - task.arrivalSlot) * this.dt, task.arrivalSlot);
    this.refs.set(id, ref);
    const pool = this.pool;
    pool.decisionSlot[id] = Math.floor(task.arrivalSlot);
    pool.server[id] = m;
    if (task.deadlineSlot <= this.slot + EPS) {
      // expired before this slot began: the simulator drops it at the end of the slot its upload
      // ended in, before the next slot's service, so it must not count among the valid queues
      pool.stage[id] = Stage.Edge;
      pool.remaining[id] = task.sizeMbit;
      this.drop(id, false);
      return false;
    }
    this.joinEdge(id);
    return true;
  }

  /** The runtime's clock says slot `slot` is ending (a stalled process's SlotTicker catches up one slot at a time). */
  catchUpTo(slot: number): void {
    this.slot = slot;
  }

  /** Run the chosen stages of the current slot and its resolutions, then start the next slot. */
  endSlot(stages: { edge: boolean; uplink: boolean }): void {
    this.credits.clear();
    if (stages.edge) edgeStage(this);
    if (stages.uplink) uplinkStage(this);
    joinUploads(this);
    this.wheel.drain(this.slot, this.onWheel);
    this.slot++;
    this.drawChannel();
  }

  /**
   * Shutdown: every task still held leaves this world without an outcome here; returns each one's
   * reference and stage, for the runtime to report (a restart would not know these tasks).
   */
  abandonAll(): [T, StageName][] {
    const open = [...this.refs].map(([id, ref]): [T, StageName] => [ref, STAGE_NAMES[this.pool.stage[id] as number] ?? 'pending']);
    this.refs.clear();
    return open;
  }

  protected override outcomeEvent(id: number, completed: boolean, _at: number, stage: number, latencySeconds: number): void {
    const ref = this.refs.get(id);
    if (ref === undefined) return;
    this.refs.delete(id);
    this.listener.outcome?.(ref, completed, STAGE_NAMES[stage] ?? 'pending', latencySeconds);
  }

  /** A finished upload on the gateway side leaves for its edge server; it has no outcome here. */
  override uploaded(id: number): void {
    const uploaded = this.listener.uploaded;
    if (!uploaded) return super.uploaded(id);
    const pool = this.pool;
    const txSlots = pool.txSlots[id] as number;
    const upload: Upload = { server: pool.server[id] as number, uplinkSeconds: txSlots * this.dt, ...(txSlots > 0 ? { sharers: (pool.txSharerSlots[id] as number) / txSlots } : {}) };
    const ref = this.leave(id);
    if (ref !== undefined) uploaded(ref, upload);
  }

  /** the task leaves this world without an outcome here; its reference is returned */
  private leave(id: number): T | undefined {
    const ref = this.refs.get(id);
    this.refs.delete(id);
    this.leaveWithoutOutcome(id);
    return ref;
  }
}
