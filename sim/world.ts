/**
 * The world: the state of the plant's queues and channels, and `step` (Sec. III of the paper).
 *
 * | item            | value                                                                          |
 * |-----------------|--------------------------------------------------------------------------------|
 * | agents          | I IEDs, ids 0..I−1                                                             |
 * | action          | 0 = run locally, m = offload to edge server m (1..M); ignored without a task   |
 * | slot t          | time [t, t+1) in slot units (Δt seconds each); tasks arrive at its start       |
 * | episode         | T slots with arrivals, then a drain without arrivals until every task resolves |
 * | queues          | local (eq. 1), uplink FIFO per IED (Sec. III-C), edge FIFO per (ES, IED) (eq. 2) |
 * | slot order      | semantics "gmel": decide → edge → uplink → uploads join edge → resolutions     |
 * |                 | semantics "tang2020": see stages-tang.ts (chosen once: semantics.ts)           |
 * | outcome         | each task completes or is dropped exactly once; credited to its decision slot  |
 *
 * Times are kept in slot units (floats) so sub-slot completions are exact; seconds = slots × Δt.
 * The stage logic lives in stages-gmel.ts / stages-tang.ts behind one Semantics object (semantics.ts);
 * this file owns the shared state and the bookkeeping.
 *
 * Longer than 300 lines on purpose: the state every stage mutates and the bookkeeping that keeps the
 * "one outcome per task" invariant (complete, drop, finish, the wheel, the active-queue lists) sit
 * together so the invariant can be read in one place; the stage rules themselves are in their files.
 */
import { Rng } from '../core/rng.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import {
  encodeObservation, observationScales, observationSize, type ObservationFields, type ObservationScales,
} from '../core/observation.ts';
import { buildLayout, type Layout } from './layout.ts';
import { TaskPool, Fifos, Wheel, Stage, EPS } from './task-pool.ts';
import { Metrics } from './metrics.ts';
import { createSemantics, type Semantics } from './semantics.ts';
import { taskReward, drawTaskParameters } from './task-model.ts';
import { CreditLog } from './credits.ts';
import { Channel, bandSharers } from './channel.ts';


/**
 * Who hears a world's events besides its metrics (tests, e.g. of the uplink estimates); given at
 * construction. The live runtimes use LiveWorld (live-world.ts), which overrides both.
 */
export interface WorldListeners {
  /** every outcome, before the task's id is recycled; `at` in slot units */
  outcome?(id: number, completed: boolean, at: number, stage: number, latencySeconds: number): void;
  /** when set, a finished upload leaves this world (with no outcome here) instead of joining its edge queue */
  uploaded?(id: number): void;
}

export class World {
  readonly scenario: Scenario;
  readonly layout: Layout;
  readonly I: number;
  readonly M: number;
  readonly dt: number;
  readonly obsSize: number;
  readonly scales: ObservationScales;

  readonly pool = new TaskPool();
  readonly pendingQ: Fifos;
  readonly uplinkQ: Fifos;
  /** edge queue of IED i at server m is queue i·M + m */
  readonly edgeQ: Fifos;
  readonly wheel: Wheel;
  readonly metrics: Metrics;

  rng = new Rng(0);
  slot = 0;
  done = false;
  /** the task IED i must decide on this slot, −1 if none */
  readonly currentTask: Int32Array;
  /** the slot rules ("gmel" or "tang2020") and their own state, chosen once from the scenario */
  readonly semantics: Semantics;
  readonly uplinkBacklogMbit: Float64Array;
  readonly uplinkCount: Int32Array;
  /** [i·M + m] */
  readonly edgeBacklogMbit: Float64Array;
  readonly edgeCount: Int32Array;
  /** non-empty edge queues of server m: activeList[m·I .. m·I + activeLen[m]) */
  readonly activeList: Int32Array;
  readonly activeLen: Int32Array;
  private readonly activePos: Int32Array;
  /** |V_m| during the last slot (the observation's edge load) */
  readonly edgeLoadLast: Float64Array;
  /** Gcycles each edge server spent in the last slot (≤ F_m·Δt; equal when no queue ran dry) */
  readonly edgeServedGcycles: Float64Array;
  readonly channel: Channel;
  /** [i·M + m]: full-band spectral efficiency this slot (bit/s/Hz), channel.spectralEfficiency */
  readonly spectralEfficiency: Float64Array;
  /** scratch: the server each IED transmits to this slot, and sharers per server */
  readonly txServer: Int32Array;
  readonly sharers: Int32Array;
  /** this world's own senders per server in the last uplink stage (before otherSenders and the spectrum's rule) */
  readonly ownSenders: Int32Array;
  /**
   * senders per server that are not in this world but share its bands: in a live gateway that serves
   * part of the plant, the other gateways' (runtime-ied/band.ts); in the simulator, none
   */
  readonly otherSenders: Int32Array;
  /** uploads finished this slot, joining edge queues at its end */
  joining = new Int32Array(64);
  joiningCount = 0;
  /** outcomes resolved during the last step(): the delayed credit of eq. (4) */
  readonly credits = new CreditLog();
  unresolved = 0;

  private readonly fields: ObservationFields;
  protected readonly onWheel: (id: number) => void;

  constructor(scenario: Scenario, private readonly listeners: WorldListeners = {}) {
    this.scenario = scenario;
    this.layout = buildLayout(scenario);
    const I = (this.I = scenario.ieds);
    const M = (this.M = scenario.edgeServers);
    this.dt = scenario.slotSeconds;
    this.obsSize = observationSize(M);
    this.scales = observationScales(scenario);
    this.semantics = createSemantics(scenario, this.pool);
    this.pendingQ = new Fifos(this.pool, I);
    this.uplinkQ = new Fifos(this.pool, I);
    this.edgeQ = new Fifos(this.pool, I * M);
    const horizon = Math.ceil(scenario.task.deadlineSeconds.max / this.dt) + 3;
    this.wheel = new Wheel(this.pool, horizon);
    this.metrics = new Metrics(I);
    this.currentTask = new Int32Array(I).fill(-1);
    this.uplinkBacklogMbit = new Float64Array(I);
    this.uplinkCount = new Int32Array(I);
    this.edgeBacklogMbit = new Float64Array(I * M);
    this.edgeCount = new Int32Array(I * M);
    this.activeList = new Int32Array(I * M);
    this.activeLen = new Int32Array(M);
    this.activePos = new Int32Array(I * M).fill(-1);
    this.edgeLoadLast = new Float64Array(M);
    this.edgeServedGcycles = new Float64Array(M);
    this.channel = new Channel(scenario.radio, this.layout);
    this.spectralEfficiency = this.channel.spectralEfficiency;
    this.txServer = new Int32Array(I);
    this.sharers = new Int32Array(M);
    this.ownSenders = new Int32Array(M);
    this.otherSenders = new Int32Array(M);
    this.fields = {
      taskSizeMbit: 0, taskDensity: 0, taskDeadlineLeftSeconds: 0, localWaitSeconds: 0,
      uplinkBacklogMbit: 0, edgeBacklogMbit: this.edgeBacklogMbit, edgeOffset: 0,
      edgeLoad: this.edgeLoadLast, spectralEfficiency: this.spectralEfficiency, channelOffset: 0,
    };
    this.onWheel = (id) => this.wheelEvent(id);
  }

  reset(seed: number): void {
    this.rng = new Rng(seed);
    this.pool.clear();
    for (const q of [this.pendingQ, this.uplinkQ, this.edgeQ]) q.clear();
    this.semantics.reset();
    this.wheel.clear();
    this.metrics.clear();
    for (const a of [this.uplinkBacklogMbit, this.edgeBacklogMbit, this.edgeLoadLast, this.edgeServedGcycles])
      a.fill(0);
    this.uplinkCount.fill(0);
    this.edgeCount.fill(0);
    this.activeLen.fill(0);
    this.activePos.fill(-1);
    this.currentTask.fill(-1);
    this.slot = 0;
    this.done = false;
    this.unresolved = 0;
    this.credits.clear();
    this.joiningCount = 0;
    this.drawArrivals();
    this.drawChannel();
  }

  /** Advance one slot with one action per IED; returns true when the episode (with drain) is over. */
  step(actions: ArrayLike<number>): boolean {
    if (this.done) throw new Error('step() after the episode ended: call reset()');
    this.credits.clear();
    const I = this.I;
    const M = this.M;
    for (let i = 0; i < I; i++) {
      const id = this.currentTask[i] as number;
      if (id < 0) continue;
      const a = actions[i];
      if (a === undefined || !Number.isInteger(a) || a < 0 || a > M)
        throw new RangeError(`action of IED ${i} must be an integer in 0..${M}, got ${String(a)}`);
      this.decideAt(i, id, a);
    }
    this.runSlot();
    const T = this.scenario.episodeSlots;
    if (this.slot >= T) {
      // drain: no arrivals, no decisions, until every task has an outcome
      const limit = this.slot + this.wheel.horizonSlots + this.pool.capacity;
      while (this.unresolved > 0 && this.slot < limit) {
        this.drawChannel();
        this.runSlot();
      }
      if (this.unresolved > 0) throw new Error(`drain did not resolve ${this.unresolved} tasks (engine bug)`);
      this.currentTask.fill(-1);
      this.done = true;
      return true;
    }
    this.drawArrivals();
    this.drawChannel();
    return false;
  }

  private runSlot(): void {
    this.semantics.runSlot(this);
    this.wheel.drain(this.slot, this.onWheel);
    this.slot++;
  }

  protected decideAt(i: number, id: number, action: number): void {
    const pool = this.pool;
    pool.decisionSlot[id] = this.slot;
    this.currentTask[i] = -1;
    if (action === 0) {
      pool.stage[id] = Stage.Local;
      this.semantics.decideLocal(this, i, id);
      return;
    }
    pool.stage[id] = Stage.Uplink;
    pool.server[id] = action - 1;
    pool.remaining[id] = pool.sizeMbit[id] as number;
    this.uplinkQ.push(i, id);
    this.uplinkBacklogMbit[i] = (this.uplinkBacklogMbit[i] as number) + (pool.sizeMbit[id] as number);
    this.uplinkCount[i] = (this.uplinkCount[i] as number) + 1;
  }

  private wheelEvent(id: number): void {
    const pool = this.pool;
    if (pool.resolved[id] === 1) return;
    const stage = pool.stage[id] as number;
    if (stage !== Stage.Pending && this.semantics.stagesOwnDeadlines) return; // e.g. tang2020: dropped when taken
    if (stage === Stage.Local) {
      // gmel local tasks: outcome fixed at decision (eq. 1); remaining = 0 marks "completes"
      const at = pool.resolveAt[id] as number;
      if (at > this.slot + 1 + EPS) return this.refile(id, at);
      if (pool.remaining[id] === 0) this.complete(id, at);
      else this.drop(id);
      return;
    }
    const deadline = pool.deadline[id] as number;
    if (deadline <= this.slot + 1 + EPS) this.drop(id);
    else this.refile(id, deadline);
  }

  /** A task due beyond the wheel's horizon (live tasks may carry longer deadlines): look again later. */
  private refile(id: number, at: number): void {
    this.wheel.add(Math.min(Math.ceil(at - EPS) - 1, this.slot + this.wheel.horizonSlots - 1), id);
  }

  /** A task finished at time `at` (slot units). */
  complete(id: number, at: number): void {
    const pool = this.pool;
    const i = pool.ied[id] as number;
    const latency = (at - (pool.arrivalSlot[id] as number)) * this.dt;
    const m = this.metrics;
    m.completed[i] = (m.completed[i] as number) + 1;
    if (pool.stage[id] === Stage.Local) m.completedLocal[i] = (m.completedLocal[i] as number) + 1;
    m.latencySum[i] = (m.latencySum[i] as number) + latency;
    m.latencyDropsAtDeadlineSum[i] = (m.latencyDropsAtDeadlineSum[i] as number) + latency;
    m.servedGcycles[i] = (m.servedGcycles[i] as number) + (pool.sizeMbit[id] as number) * (pool.density[id] as number);
    this.outcomeEvent(id, true, at, pool.stage[id] as number, latency);
    this.finish(id, i, taskReward(this.scenario, true, latency), true);
  }

  /** A task's deadline passed where it is (its current stage); its unsent/unprocessed data leaves the queue. */
  drop(id: number, queued = true): void {
    const pool = this.pool;
    const i = pool.ied[id] as number;
    const stage = pool.stage[id] as number;
    const m = this.metrics;
    m.drops[stage * this.I + i] = (m.drops[stage * this.I + i] as number) + 1;
    const deadlineSeconds = ((pool.deadline[id] as number) - (pool.arrivalSlot[id] as number)) * this.dt;
    m.latencyDropsAtDeadlineSum[i] = (m.latencyDropsAtDeadlineSum[i] as number) + deadlineSeconds;
    const rem = pool.remaining[id] as number;
    if (!queued) {
      // never entered a queue (live: arrived at the edge already past its deadline)
    } else if (stage === Stage.Uplink) {
      this.uplinkBacklogMbit[i] = Math.max(0, (this.uplinkBacklogMbit[i] as number) - rem);
      this.uplinkCount[i] = (this.uplinkCount[i] as number) - 1;
    } else if (stage === Stage.Edge) {
      this.leaveEdge(i, pool.server[id] as number, rem);
    } else if (stage === Stage.Local) {
      this.semantics.localDropped(this, i, id, rem);
    }
    this.outcomeEvent(id, false, pool.deadline[id] as number, stage, deadlineSeconds);
    this.finish(id, i, taskReward(this.scenario, false, deadlineSeconds), false);
  }

  private finish(id: number, i: number, reward: number, completed: boolean): void {
    const pool = this.pool;
    pool.resolved[id] = 1;
    this.unresolved--;
    // a task dropped before any decision (Poisson backlog) has no transition to credit
    if ((pool.decisionSlot[id] as number) < 0) {
      pool.releaseIfDone(id);
      return;
    }
    this.credits.push(i, pool.decisionSlot[id] as number, reward, completed);
    pool.releaseIfDone(id);
  }

  /** every outcome passes here before the task's id is recycled (LiveWorld hands it to its runtime) */
  protected outcomeEvent(id: number, completed: boolean, at: number, stage: number, latencySeconds: number): void {
    this.listeners.outcome?.(id, completed, at, stage, latencySeconds);
  }

  /** An upload finished: into edge queue (i, m), or out of this world to the `uploaded` listener. */
  uploaded(id: number): void {
    const leave = this.listeners.uploaded;
    if (!leave) {
      this.joinEdge(id);
      return;
    }
    leave(id);
    this.leaveWithoutOutcome(id);
  }

  /** The task now lives elsewhere (a remote edge server, a real executor): it leaves this world without an outcome here. */
  protected leaveWithoutOutcome(id: number): void {
    const pool = this.pool;
    pool.resolved[id] = 1;
    this.unresolved--;
    pool.releaseIfDone(id);
  }

  /** An upload finished: the task joins edge queue (i, m) (served from the next slot). */
  joinEdge(id: number): void {
    const pool = this.pool;
    const i = pool.ied[id] as number;
    const m = pool.server[id] as number;
    const q = i * this.M + m;
    pool.stage[id] = Stage.Edge;
    pool.remaining[id] = pool.sizeMbit[id] as number;
    this.edgeQ.push(q, id);
    this.edgeBacklogMbit[q] = (this.edgeBacklogMbit[q] as number) + (pool.sizeMbit[id] as number);
    if (this.edgeCount[q] === 0) this.activeJoin(i, m);
    this.edgeCount[q] = (this.edgeCount[q] as number) + 1;
  }

  protected activeJoin(i: number, m: number): void {
    const q = i * this.M + m;
    if ((this.activePos[q] as number) >= 0) return;
    const len = this.activeLen[m] as number;
    this.activeList[m * this.I + len] = i;
    this.activePos[q] = len;
    this.activeLen[m] = len + 1;
  }

  /** A task leaves edge queue (i, m) (served or dropped) with `remainingMbit` unprocessed. */
  leaveEdge(i: number, m: number, remainingMbit: number): void {
    const q = i * this.M + m;
    this.edgeBacklogMbit[q] = Math.max(0, (this.edgeBacklogMbit[q] as number) - remainingMbit);
    const count = (this.edgeCount[q] as number) - 1;
    this.edgeCount[q] = count;
    if (count === 0) {
      this.edgeBacklogMbit[q] = 0;
      const pos = this.activePos[q] as number;
      const last = (this.activeLen[m] as number) - 1;
      const moved = this.activeList[m * this.I + last] as number;
      this.activeList[m * this.I + pos] = moved;
      this.activePos[moved * this.M + m] = pos;
      this.activePos[q] = -1;
      this.activeLen[m] = last;
    }
  }

  /**
   * The uplink stage counted its senders per server in `sharers`: keep them as ownSenders, add the
   * senders outside this world, and apply the spectrum's rule (channel.ts bandSharers), in place.
   */
  shareBands(): void {
    const sharers = this.sharers;
    this.ownSenders.set(sharers);
    for (let m = 0; m < this.M; m++) sharers[m] = (sharers[m] as number) + (this.otherSenders[m] as number);
    bandSharers(sharers, this.layout.sharedSpectrum);
  }

  /** Uplink rate (Mbit/s) of IED i to server m when `sharers` IEDs transmit to m this slot. */
  uplinkRateMbps(i: number, m: number, sharers: number): number {
    return this.channel.rateMbps(i, m, sharers);
  }

  private drawArrivals(): void {
    const s = this.scenario;
    const rng = this.rng;
    const p = s.arrivals.probability;
    const poisson = s.arrivals.process === 'poisson';
    for (let i = 0; i < this.I; i++) {
      if (poisson) {
        for (let n = rng.poisson(p); n > 0; n--) this.pendingQ.push(i, this.drawTask(i));
        const id = this.pendingQ.firstLive(i);
        this.currentTask[i] = id >= 0 ? this.pendingQ.shift(i) : -1;
      } else {
        this.currentTask[i] = rng.uniform() < p ? this.drawTask(i) : -1;
      }
    }
  }

  /**
   * Put a given task before IED i in the current slot (replaying live announcements, or tests with
   * hand-computed cases; usually with arrivals.probability = 0). Sizes in Mbit, density in
   * Gcycles/Mbit, deadline in seconds from now.
   */
  announce(i: number, task: { sizeMbit: number; density: number; deadlineSeconds: number }, arrivalSlot = this.slot): number {
    if (this.done) throw new Error('announce() after the episode ended');
    if (!(i >= 0 && i < this.I)) throw new RangeError(`no IED ${i} (0..${this.I - 1})`);
    if (this.currentTask[i] !== -1) throw new Error(`IED ${i} already has a task in slot ${this.slot}`);
    if (!(task.sizeMbit > 0 && task.density > 0 && task.deadlineSeconds > 0))
      throw new RangeError(`task of IED ${i}: size, density and deadline must be > 0`);
    const id = this.newTask(i, task.sizeMbit, task.density, task.deadlineSeconds, arrivalSlot);
    this.currentTask[i] = id;
    return id;
  }

  private drawTask(i: number): number {
    const t = drawTaskParameters(this.rng, this.scenario.task);
    return this.newTask(i, t.sizeMbit, t.density, t.deadlineSeconds);
  }

  protected newTask(i: number, sizeMbit: number, density: number, deadlineSeconds: number, arrivalSlot = this.slot): number {
    const pool = this.pool;
    const id = pool.alloc();
    pool.ied[id] = i;
    pool.stage[id] = Stage.Pending;
    pool.arrivalSlot[id] = arrivalSlot;
    pool.decisionSlot[id] = -1;
    pool.sizeMbit[id] = sizeMbit;
    pool.density[id] = density;
    const deadline = arrivalSlot + deadlineSeconds / this.dt;
    pool.deadline[id] = deadline;
    pool.remaining[id] = 0;
    pool.resolveAt[id] = -1;
    this.unresolved++;
    const m = this.metrics;
    m.arrived[i] = (m.arrived[i] as number) + 1;
    m.offeredGcycles[i] = (m.offeredGcycles[i] as number) + (pool.sizeMbit[id] as number) * (pool.density[id] as number);
    // every task is looked at at the end of the slot holding its deadline (tang2020: only if still pending)
    this.wheel.add(Math.max(this.slot, Math.min(Math.ceil(deadline - EPS) - 1, this.slot + this.wheel.horizonSlots - 1)), id);
    return id;
  }

  protected drawChannel(): void {
    this.channel.draw(this.rng);
  }

  /** Local queue waiting time of IED i at the current slot, seconds. */
  localWaitSeconds(i: number): number {
    return this.semantics.localWaitSeconds(this, i);
  }

  /** Raw (physical-unit) observation fields of IED i; the returned object is reused. */
  observationFields(i: number): ObservationFields {
    const f = this.fields;
    const id = this.currentTask[i] as number;
    const pool = this.pool;
    f.taskSizeMbit = id >= 0 ? (pool.sizeMbit[id] as number) : 0;
    f.taskDensity = id >= 0 ? (pool.density[id] as number) : 0;
    f.taskDeadlineLeftSeconds = id >= 0 ? ((pool.deadline[id] as number) - this.slot) * this.dt : 0;
    f.localWaitSeconds = this.localWaitSeconds(i);
    f.uplinkBacklogMbit = this.uplinkBacklogMbit[i] as number;
    f.edgeOffset = i * this.M;
    f.channelOffset = i * this.M;
    return f;
  }

  /**
   * All IEDs' encoded observations into out[i·obsSize ..] (core/observation.ts), with `scales`: those of
   * the model that will read them (no default: a model's scales are its own, not this plant's `scales`).
   */
  observeAll(out: Float32Array, scales: ObservationScales): void {
    for (let i = 0; i < this.I; i++) encodeObservation(out, i * this.obsSize, this.observationFields(i), scales);
  }
}
