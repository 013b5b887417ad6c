/**
 * Slot semantics "tang2020": those of Tang & Wong's public simulator (TMC 2020), so our queue engine
 * can be checked against an independent implementation (see test/sim/tang-reference.test.ts).
 *
 * | rule          | behaviour                                                                     |
 * |---------------|-------------------------------------------------------------------------------|
 * | order         | decide → local queues → edge queues → uplinks → count active edge queues      |
 * | service       | a queue serves its head only; ≤ 1 completion per queue per slot; capacity left |
 * |               | in the slot after a completion is wasted; the next head starts next slot      |
 * | edge share    | F_m·Δt / e over the number of ES m's queues non-empty at the end of the       |
 * |               | previous slot                                                                 |
 * | upload → edge | a task whose upload ends in slot t joins the edge queue in t (after the edge  |
 * |               | stage), so it is first served in t+1                                          |
 * | deadlines     | D = deadline in slots. In service and unfinished when t − arrival + 1 = D:    |
 * |               | dropped. Queued and taken when t − arrival + 1 > D: dropped                    |
 * | delay         | t_done − t_arrival + 1 slots (completion at the end of slot t_done)            |
 *
 * "In service" is the head of a queue whose resolveAt ≥ 0 (the slot it was taken).
 */
import type { World } from './world.ts';
import { Fifos, type TaskPool } from './task-pool.ts';
import type { Semantics } from './semantics.ts';

/** Deadline in whole slots, as the reference code's max_delay. */
function deadlineSlots(w: World, id: number): number {
  return Math.round((w.pool.deadline[id] as number) - (w.pool.arrivalSlot[id] as number));
}

/**
 * Take the head into service if none is in service, dropping expired heads on the way.
 * Returns the task in service, or −1.
 */
function takeHead(w: World, queue: Fifos, q: number): number {
  const pool = w.pool;
  const t = w.slot;
  for (;;) {
    const id = queue.firstLive(q);
    if (id < 0) return -1;
    if ((pool.resolveAt[id] as number) >= 0) return id; // already in service
    if (t - (pool.arrivalSlot[id] as number) + 1 > deadlineSlots(w, id)) {
      queue.shift(q);
      w.drop(id);
      continue;
    }
    pool.resolveAt[id] = t;
    return id;
  }
}

/** Serve `capacityMbit` of the task in service: finished, past its deadline, or still working. */
function serve(w: World, id: number, capacityMbit: number): 'done' | 'expired' | 'working' {
  const pool = w.pool;
  const rem = (pool.remaining[id] as number) - capacityMbit;
  pool.remaining[id] = rem;
  if (rem <= 0) return 'done';
  if (w.slot - (pool.arrivalSlot[id] as number) + 1 >= deadlineSlots(w, id)) return 'expired';
  return 'working';
}

/** The "tang2020" semantics: its own state is the local FIFO and the work left in it. */
export class TangSemantics implements Semantics {
  readonly name = 'tang2020';
  /** a task that left the pending stage is dropped when taken (takeHead), not by the world's wheel */
  readonly stagesOwnDeadlines = true;
  readonly localQ: Fifos;
  /** work left in IED i's local queue, Gcycles */
  readonly localBacklogGcycles: Float64Array;

  constructor(pool: TaskPool, ieds: number) {
    this.localQ = new Fifos(pool, ieds);
    this.localBacklogGcycles = new Float64Array(ieds);
  }

  reset(): void {
    this.localQ.clear();
    this.localBacklogGcycles.fill(0);
  }

  runSlot(w: World): void {
    tangSlot(w, this);
  }

  decideLocal(w: World, i: number, id: number): void {
    const pool = w.pool;
    pool.remaining[id] = pool.sizeMbit[id] as number;
    this.localQ.push(i, id);
    this.localBacklogGcycles[i] = (this.localBacklogGcycles[i] as number) + (pool.sizeMbit[id] as number) * (pool.density[id] as number);
  }

  localWaitSeconds(w: World, i: number): number {
    return (this.localBacklogGcycles[i] as number) / w.scenario.ied.gpuGHz;
  }

  localDropped(w: World, i: number, id: number, remainingMbit: number): void {
    this.localBacklogGcycles[i] = Math.max(0, (this.localBacklogGcycles[i] as number) - remainingMbit * (w.pool.density[id] as number));
  }
}

function tangSlot(w: World, s: TangSemantics): void {
  tangLocal(w, s);
  tangEdge(w);
  tangUplink(w);
  // the count the next slot's edge stage divides by (the reference code's fog_iot_m)
  for (let m = 0; m < w.M; m++) w.edgeLoadLast[m] = w.activeLen[m] as number;
}

/** Local queues: each serves its head at the IED's GPU rate. */
function tangLocal(w: World, s: TangSemantics): void {
  const pool = w.pool;
  const t = w.slot;
  const localMbitPerGcycle = w.dt * w.scenario.ied.gpuGHz;
  for (let i = 0; i < w.I; i++) {
    const id = takeHead(w, s.localQ, i);
    if (id < 0) continue;
    const density = pool.density[id] as number;
    const before = pool.remaining[id] as number;
    const outcome = serve(w, id, localMbitPerGcycle / density);
    const worked = Math.min(before, before - (pool.remaining[id] as number));
    s.localBacklogGcycles[i] = Math.max(0, (s.localBacklogGcycles[i] as number) - worked * density);
    if (outcome === 'done') {
      s.localQ.shift(i);
      pool.remaining[id] = 0;
      w.complete(id, t + 1);
    } else if (outcome === 'expired') {
      s.localQ.shift(i);
      w.drop(id);
    }
  }
}

/** Edge queues, at the share fixed by the previous slot's count. */
function tangEdge(w: World): void {
  const pool = w.pool;
  const I = w.I;
  const M = w.M;
  const t = w.slot;
  for (let m = 0; m < M; m++) {
    const active = w.activeLen[m] as number;
    if (active === 0) continue;
    const share = w.edgeLoadLast[m] as number;
    const capacityGcycles = ((w.layout.edgeGpuGHz[m] as number) * w.dt) / (share > 0 ? share : 1);
    for (let k = active - 1; k >= 0; k--) {
      const i = w.activeList[m * I + k] as number;
      const q = i * M + m;
      const id = takeHead(w, w.edgeQ, q);
      if (id < 0) continue;
      const density = pool.density[id] as number;
      const before = pool.remaining[id] as number;
      const outcome = serve(w, id, capacityGcycles / density);
      w.edgeBacklogMbit[q] = Math.max(0, (w.edgeBacklogMbit[q] as number) - Math.min(before, before - (pool.remaining[id] as number)));
      if (outcome === 'done') {
        w.edgeQ.shift(q);
        w.leaveEdge(i, m, 0);
        pool.remaining[id] = 0;
        w.complete(id, t + 1);
      } else if (outcome === 'expired') {
        w.edgeQ.shift(q);
        w.drop(id);
      }
    }
  }
}

/** Uplinks: one head per IED; finished uploads join the edge queue now (served next slot). */
function tangUplink(w: World): void {
  const pool = w.pool;
  const I = w.I;
  w.sharers.fill(0);
  for (let i = 0; i < I; i++) {
    w.txServer[i] = -1;
    if (w.uplinkCount[i] === 0) continue;
    const id = takeHead(w, w.uplinkQ, i);
    if (id < 0) continue;
    const m = pool.server[id] as number;
    w.txServer[i] = id;
    w.sharers[m] = (w.sharers[m] as number) + 1;
  }
  w.shareBands();
  for (let i = 0; i < I; i++) {
    const id = w.txServer[i] as number;
    if (id < 0) continue;
    const m = pool.server[id] as number;
    const before = pool.remaining[id] as number;
    const outcome = serve(w, id, w.uplinkRateMbps(i, m, w.sharers[m] as number) * w.dt);
    w.uplinkBacklogMbit[i] = Math.max(0, (w.uplinkBacklogMbit[i] as number) - Math.min(before, before - (pool.remaining[id] as number)));
    if (outcome === 'done') {
      w.uplinkQ.shift(i);
      w.uplinkCount[i] = (w.uplinkCount[i] as number) - 1;
      pool.resolveAt[id] = -1; // not yet in service at the edge
      w.joinEdge(id);
    } else if (outcome === 'expired') {
      w.uplinkQ.shift(i);
      w.drop(id);
    }
  }
}
