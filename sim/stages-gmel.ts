/**
 * Slot semantics "gmel": our reading of the paper's Sec. III (the default everywhere).
 *
 * | stage  | rule                                                                                   |
 * |--------|----------------------------------------------------------------------------------------|
 * | local  | eq. (1): FIFO on the IED's GPU in whole slots; a task decided in slot t completes at     |
 * |        | τ = max(t, τ_prev) + ⌈s·e / (Δt·f)⌉ (at least one slot). If τ is past its deadline it is |
 * |        | dropped at the deadline; the GPU worked on it until then (freed at the next boundary), |
 * |        | or not at all if it never started.                                                     |
 * | edge   | eq. (2): each valid (non-empty at slot start) queue of ES m gets F_m·Δt/|V_m(t)| Gcycles |
 * |        | in slot t, spent on its tasks in FIFO order, so several may finish in one slot, at     |
 * |        | exact sub-slot times. Capacity a queue cannot use (it empties) is not redistributed.   |
 * | uplink | the IEDs whose head task goes to ES m share B_m equally (OFDMA; with a shared system band |
 * |        | B, every IED sending this slot shares B), rate by Shannon with this slot's fading. An IED sends to one ES per slot: after its head finishes, leftover |
 * |        | airtime goes to the next task only if that task goes to the same ES.                    |
 * | join   | a finished upload joins its edge queue at the end of the slot (eq. 2 adds s_{i,m}(t)   |
 * |        | after service), so edge service starts in the next slot.                               |
 * | drops  | a head task whose deadline falls inside the slot is worked on until then and dropped; |
 * |        | any other task is dropped at the end of the slot holding its deadline (world wheel).   |
 * | order  | decide → edge → uplink → join → resolutions. Edge before uplink makes no difference   |
 * |        | here because joins wait for the slot's end.                                            |
 */
import type { World } from './world.ts';
import { EPS, resized } from './task-pool.ts';
import type { Semantics } from './semantics.ts';

/** The "gmel" semantics: its own state is when each IED's local GPU is next free (eq. 1). */
export class GmelSemantics implements Semantics {
  readonly name = 'gmel';
  readonly stagesOwnDeadlines = false;
  /** slot at which IED i's local GPU is free (eq. 1's max over earlier completions) */
  readonly localBusyUntil: Float64Array;

  constructor(ieds: number) {
    this.localBusyUntil = new Float64Array(ieds);
  }

  reset(): void {
    this.localBusyUntil.fill(0);
  }

  runSlot(w: World): void {
    edgeStage(w);
    uplinkStage(w);
    joinUploads(w);
  }

  /** eq. (1): fix a local task's outcome at decision time (FIFO ⇒ it depends only on earlier tasks). */
  decideLocal(w: World, i: number, id: number): void {
    const pool = w.pool;
    const t = w.slot;
    const start = Math.max(t, this.localBusyUntil[i] as number);
    const slotsNeeded = Math.max(1, Math.ceil(((pool.sizeMbit[id] as number) * (pool.density[id] as number)) / (w.dt * w.scenario.ied.gpuGHz) - EPS));
    const finish = start + slotsNeeded;
    const deadline = pool.deadline[id] as number;
    if (finish <= deadline + EPS) {
      pool.remaining[id] = 0; // completes
      pool.resolveAt[id] = finish;
      this.localBusyUntil[i] = finish;
      w.wheel.add(Math.min(finish - 1, t + w.wheel.horizonSlots - 1), id);
    } else {
      pool.remaining[id] = 1; // dropped at its deadline
      pool.resolveAt[id] = deadline;
      // started before the deadline: the GPU was busy with it up to the slot boundary after it
      if (start < deadline - EPS) this.localBusyUntil[i] = Math.ceil(deadline - EPS);
    }
  }

  localWaitSeconds(w: World, i: number): number {
    return Math.max(0, (this.localBusyUntil[i] as number) - w.slot) * w.dt;
  }

  /** a local task's outcome was fixed at decision: nothing queued to release */
  localDropped(): void {}
}

/** Finished uploads join their edge queues, or leave for a remote edge server (live runtimes). */
export function joinUploads(w: World): void {
  for (let k = 0; k < w.joiningCount; k++) w.uploaded(w.joining[k] as number);
  w.joiningCount = 0;
}

export function edgeStage(w: World): void {
  const pool = w.pool;
  const t = w.slot;
  const I = w.I;
  const M = w.M;
  const slotEnd = t + 1;
  for (let m = 0; m < M; m++) {
    const valid = w.activeLen[m] as number;
    w.edgeLoadLast[m] = valid;
    w.edgeServedGcycles[m] = 0;
    if (valid === 0) continue;
    let served = 0;
    // Gcycles per slot unit that each valid queue receives (eq. 2)
    const speed = ((w.layout.edgeGpuGHz[m] as number) * w.dt) / valid;
    // backwards: leaveEdge() swaps the last active queue into a freed position
    for (let k = valid - 1; k >= 0; k--) {
      const i = w.activeList[m * I + k] as number;
      const q = i * M + m;
      let now = t;
      while (now < slotEnd - EPS) {
        const id = w.edgeQ.firstLive(q);
        if (id < 0) break;
        const density = pool.density[id] as number;
        const rem = pool.remaining[id] as number;
        const deadline = pool.deadline[id] as number;
        const finishAt = now + (rem * density) / speed;
        const limit = deadline < slotEnd ? deadline : slotEnd;
        if (finishAt <= limit + EPS) {
          w.edgeQ.shift(q);
          w.leaveEdge(i, m, rem);
          pool.remaining[id] = 0;
          now = finishAt;
          w.complete(id, finishAt);
        } else if (deadline < slotEnd) {
          // worked on until its deadline, then dropped where it is
          const worked = deadline > now ? ((deadline - now) * speed) / density : 0;
          pool.remaining[id] = rem - worked;
          w.edgeBacklogMbit[q] = (w.edgeBacklogMbit[q] as number) - worked;
          if (deadline > now) now = deadline;
          w.edgeQ.shift(q);
          w.drop(id);
        } else {
          const worked = ((slotEnd - now) * speed) / density;
          pool.remaining[id] = rem - worked;
          w.edgeBacklogMbit[q] = (w.edgeBacklogMbit[q] as number) - worked;
          now = slotEnd;
        }
      }
      served += (now - t) * speed; // the GPU share this queue used in the slot
    }
    w.edgeServedGcycles[m] = served;
  }
}

export function uplinkStage(w: World): void {
  const pool = w.pool;
  const t = w.slot;
  const I = w.I;
  const slotEnd = t + 1;
  const sharers = w.sharers;
  sharers.fill(0);
  for (let i = 0; i < I; i++) {
    if (w.uplinkCount[i] === 0) {
      w.txServer[i] = -1;
      continue;
    }
    const id = w.uplinkQ.firstLive(i);
    const m = pool.server[id] as number;
    w.txServer[i] = m;
    sharers[m] = (sharers[m] as number) + 1;
  }
  w.shareBands();
  for (let i = 0; i < I; i++) {
    const m = w.txServer[i] as number;
    if (m < 0) continue;
    // Mbit per slot unit at this slot's share and fading
    const k = sharers[m] as number;
    const rate = w.uplinkRateMbps(i, m, k) * w.dt;
    let now = t;
    while (now < slotEnd - EPS) {
      const id = w.uplinkQ.firstLive(i);
      if (id < 0 || pool.server[id] !== m) break;
      const rem = pool.remaining[id] as number;
      const deadline = pool.deadline[id] as number;
      const finishAt = now + rem / rate;
      const limit = deadline < slotEnd ? deadline : slotEnd;
      if (finishAt <= limit + EPS) {
        tx(pool, id, finishAt - now, k);
        w.uplinkQ.shift(i);
        w.uplinkBacklogMbit[i] = Math.max(0, (w.uplinkBacklogMbit[i] as number) - rem);
        w.uplinkCount[i] = (w.uplinkCount[i] as number) - 1;
        pool.remaining[id] = 0;
        now = finishAt;
        pushJoining(w, id);
      } else if (deadline < slotEnd) {
        const sent = deadline > now ? (deadline - now) * rate : 0;
        if (deadline > now) tx(pool, id, deadline - now, k);
        pool.remaining[id] = rem - sent;
        w.uplinkBacklogMbit[i] = (w.uplinkBacklogMbit[i] as number) - sent;
        if (deadline > now) now = deadline;
        w.uplinkQ.shift(i);
        w.drop(id);
      } else {
        const sent = (slotEnd - now) * rate;
        tx(pool, id, slotEnd - now, k);
        pool.remaining[id] = rem - sent;
        w.uplinkBacklogMbit[i] = (w.uplinkBacklogMbit[i] as number) - sent;
        now = slotEnd;
      }
    }
  }
}

/** Account `slots` of transmission shared by k IEDs (the twin's effective-rate statistic). */
function tx(pool: World['pool'], id: number, slots: number, k: number): void {
  pool.txSlots[id] = (pool.txSlots[id] as number) + slots;
  pool.txSharerSlots[id] = (pool.txSharerSlots[id] as number) + slots * k;
}

function pushJoining(w: World, id: number): void {
  if (w.joiningCount === w.joining.length) w.joining = resized(w.joining, Int32Array, w.joining.length * 2);
  w.joining[w.joiningCount++] = id;
}
