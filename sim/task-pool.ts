/**
 * Task storage for the simulator's hot path: struct-of-arrays, no object per task.
 *
 * | structure  | what                                                                        |
 * |------------|-----------------------------------------------------------------------------|
 * | TaskPool   | columns per task id; ids recycled; a generation per id to spot stale refs   |
 * | Fifos      | many FIFO queues threaded through the pool's `next` column (O(1) push/pop)  |
 * | Wheel      | timing wheel of (task, generation) per slot: deadline and local resolutions |
 *
 * A task resolved while it sits inside a FIFO (dropped at its deadline behind others) stays linked
 * and is skipped and freed when it reaches the head (lazy deletion), so ids are never reused while
 * still referenced by a queue; the wheel checks generations for the same reason.
 */

/** Float tolerance for "finished by the deadline" comparisons, in slot units. */
export const EPS = 1e-9;

export const Stage = { Pending: 0, Local: 1, Uplink: 2, Edge: 3 } as const;
export { STAGE_NAMES, type StageName } from '../core/stages.ts';

export type TypedColumn = Int32Array | Uint8Array | Uint32Array | Float64Array;

/** A copy of `column` with `length` entries (the growth step of every typed-array buffer here). */
export function resized<T extends TypedColumn>(column: T, ctor: new (n: number) => T, length: number): T {
  const out = new ctor(length);
  out.set(column.subarray(0, Math.min(column.length, length)) as T);
  return out;
}

export class TaskPool {
  capacity = 0;
  ied = new Int32Array(0);
  /** edge server index (0-based) for offloaded tasks, −1 otherwise */
  server = new Int32Array(0);
  stage = new Uint8Array(0);
  resolved = new Uint8Array(0);
  linked = new Uint8Array(0);
  generation = new Uint32Array(0);
  next = new Int32Array(0);
  /** slot units; fractional for live arrivals (runtimes), whole in simulation */
  arrivalSlot = new Float64Array(0);
  decisionSlot = new Int32Array(0);
  sizeMbit = new Float64Array(0);
  density = new Float64Array(0);
  /** absolute deadline in slot units: arrivalSlot + d / Δt */
  deadline = new Float64Array(0);
  /** data still to send (uplink) or to process (local in tang2020 semantics, edge), Mbit */
  remaining = new Float64Array(0);
  /** local tasks (gmel semantics): when the outcome occurs, slot units */
  resolveAt = new Float64Array(0);
  /** time spent transmitting on the uplink so far, slot units (its effective rate: size / time) */
  txSlots = new Float64Array(0);
  /** Σ sharers × time over that transmission (÷ txSlots: the mean number of IEDs sharing the band) */
  txSharerSlots = new Float64Array(0);
  private free: number[] = [];
  live = 0;

  constructor(initial = 1024) {
    this.grow(initial);
  }

  private grow(capacity: number): void {
    const copy = <T extends TypedColumn>(a: T, ctor: new (n: number) => T): T => resized(a, ctor, capacity);
    this.ied = copy(this.ied, Int32Array);
    this.server = copy(this.server, Int32Array);
    this.stage = copy(this.stage, Uint8Array);
    this.resolved = copy(this.resolved, Uint8Array);
    this.linked = copy(this.linked, Uint8Array);
    this.generation = copy(this.generation, Uint32Array);
    this.next = copy(this.next, Int32Array);
    this.arrivalSlot = copy(this.arrivalSlot, Float64Array);
    this.decisionSlot = copy(this.decisionSlot, Int32Array);
    this.sizeMbit = copy(this.sizeMbit, Float64Array);
    this.density = copy(this.density, Float64Array);
    this.deadline = copy(this.deadline, Float64Array);
    this.remaining = copy(this.remaining, Float64Array);
    this.resolveAt = copy(this.resolveAt, Float64Array);
    this.txSlots = copy(this.txSlots, Float64Array);
    this.txSharerSlots = copy(this.txSharerSlots, Float64Array);
    for (let id = capacity - 1; id >= this.capacity; id--) this.free.push(id);
    this.capacity = capacity;
  }

  alloc(): number {
    if (this.free.length === 0) this.grow(this.capacity * 2);
    const id = this.free.pop() as number;
    this.resolved[id] = 0;
    this.linked[id] = 0;
    this.txSlots[id] = 0;
    this.txSharerSlots[id] = 0;
    this.next[id] = -1;
    this.server[id] = -1;
    this.live++;
    return id;
  }

  release(id: number): void {
    this.generation[id] = ((this.generation[id] as number) + 1) >>> 0;
    this.free.push(id);
    this.live--;
  }

  /** Free a task once it is both resolved and out of every queue. */
  releaseIfDone(id: number): void {
    if (this.resolved[id] === 1 && this.linked[id] === 0) this.release(id);
  }

  clear(): void {
    this.free.length = 0;
    for (let id = this.capacity - 1; id >= 0; id--) {
      this.generation[id] = ((this.generation[id] as number) + 1) >>> 0;
      this.free.push(id);
    }
    this.live = 0;
  }
}

/** `count` FIFO queues of task ids threaded through pool.next. */
export class Fifos {
  readonly head: Int32Array;
  readonly tail: Int32Array;

  constructor(
    private readonly pool: TaskPool,
    count: number,
  ) {
    this.head = new Int32Array(count).fill(-1);
    this.tail = new Int32Array(count).fill(-1);
  }

  push(queue: number, id: number): void {
    const pool = this.pool;
    pool.next[id] = -1;
    pool.linked[id] = 1;
    const tail = this.tail[queue] as number;
    if (tail < 0) this.head[queue] = id;
    else pool.next[tail] = id;
    this.tail[queue] = id;
  }

  /** Remove the head and return it (caller checks non-empty). */
  shift(queue: number): number {
    const pool = this.pool;
    const id = this.head[queue] as number;
    const next = pool.next[id] as number;
    this.head[queue] = next;
    if (next < 0) this.tail[queue] = -1;
    pool.linked[id] = 0;
    return id;
  }

  /** The first unresolved task, freeing resolved ones on the way; −1 if none. */
  firstLive(queue: number): number {
    const pool = this.pool;
    let id = this.head[queue] as number;
    while (id >= 0 && pool.resolved[id] === 1) {
      this.shift(queue);
      pool.release(id);
      id = this.head[queue] as number;
    }
    return id;
  }

  clear(): void {
    this.head.fill(-1);
    this.tail.fill(-1);
  }
}

/** Timing wheel: tasks to look at at the end of a given slot. */
export class Wheel {
  private readonly buckets: number[][];

  constructor(
    private readonly pool: TaskPool,
    readonly horizonSlots: number,
  ) {
    this.buckets = Array.from({ length: horizonSlots }, () => []);
  }

  add(slot: number, id: number): void {
    (this.buckets[slot % this.horizonSlots] as number[]).push(id, this.pool.generation[id] as number);
  }

  /** Call fn for every still-valid task filed under `slot`, then empty the bucket. */
  drain(slot: number, fn: (id: number) => void): void {
    const bucket = this.buckets[slot % this.horizonSlots] as number[];
    const generation = this.pool.generation;
    for (let k = 0; k < bucket.length; k += 2) {
      const id = bucket[k] as number;
      if (generation[id] === bucket[k + 1]) fn(id);
    }
    bucket.length = 0;
  }

  clear(): void {
    for (const b of this.buckets) b.length = 0;
  }
}
