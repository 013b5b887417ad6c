/**
 * The world as the live runtimes drive it: the simulator's own engine (world.ts), clocked by real
 * time instead of step(), fed by MQTT instead of random arrivals.
 *
 * | method        | used by       | does                                                             |
 * |---------------|---------------|------------------------------------------------------------------|
 * | announce      | runtime-ied   | a task arrives for IED i (at a given, possibly fractional, slot) |
 * | decideTask    | runtime-ied   | decide IED i's current task now (one decision per announcement)  |
 * | acceptAtEdge  | runtime-edge  | an offloaded task whose upload ended joins edge queue (i, m)     |
 * | advanceSlot   | both          | run the chosen stages of the slot, its resolutions, next slot    |
 *
 * test/sim/live-engine.test.ts: a gateway-side and an edge-side LiveWorld, connected as the
 * runtimes are, resolve every task exactly as one simulator World.
 */
import { World, EPS } from './world.ts';
import { Stage } from './task-pool.ts';
import { edgeStage, uplinkStage, joinUploads } from './stages-gmel.ts';

export class LiveWorld extends World {
  /**
   * Live runtime with a real local executor: IED i's current task (decided local) leaves this world;
   * the executor reports its outcome. Returns the task id (valid until the next world mutation).
   */
  handOffLocal(i: number): number {
    const id = this.currentTask[i] as number;
    if (id < 0) throw new Error(`IED ${i} has no task to hand off in slot ${this.slot}`);
    this.pool.decisionSlot[id] = this.slot;
    this.pool.stage[id] = Stage.Local;
    this.currentTask[i] = -1;
    this.pool.resolved[id] = 1;
    this.unresolved--;
    this.pool.releaseIfDone(id);
    return id;
  }

  /** Live runtimes: decide IED i's current task now (a decision per announcement, not per step). */
  decideTask(i: number, action: number): void {
    const id = this.currentTask[i] as number;
    if (id < 0) throw new Error(`IED ${i} has no task to decide in slot ${this.slot}`);
    if (!Number.isInteger(action) || action < 0 || action > this.M) throw new RangeError(`action of IED ${i} must be an integer in 0..${this.M}, got ${action}`);
    this.decide(i, id, action);
  }

  /**
   * Live edge runtime: an offloaded task whose upload finished in slot `uploadedSlot` joins edge queue
   * (i, m). Times in slot units of this world's clock. Returns the task id. A task whose deadline passed
   * before the current slot began is dropped at once (an outcome at the edge).
   */
  acceptAtEdge(i: number, m: number, task: { sizeMbit: number; density: number; arrivalSlot: number; deadlineSlot: number }): number {
    if (!(i >= 0 && i < this.I)) throw new RangeError(`no IED ${i} (0..${this.I - 1})`);
    if (!(m >= 0 && m < this.M)) throw new RangeError(`no edge server ${m + 1}`);
    const id = this.newTask(i, task.sizeMbit, task.density, (task.deadlineSlot - task.arrivalSlot) * this.dt, task.arrivalSlot);
    const pool = this.pool;
    pool.decisionSlot[id] = Math.floor(task.arrivalSlot);
    pool.server[id] = m;
    if (task.deadlineSlot <= this.slot + EPS) {
      // expired before this slot began: the simulator drops it at the end of the slot its upload
      // ended in, before the next slot's service, so it must not count among the valid queues
      pool.stage[id] = Stage.Edge;
      pool.remaining[id] = task.sizeMbit;
      this.drop(id, false);
      return id;
    }
    this.joinEdge(id);
    return id;
  }

  /** Live runtimes: run the chosen stages of the current slot, its resolutions, then start the next slot. */
  advanceSlot(stages: { edge: boolean; uplink: boolean }): void {
    if (this.scenario.semantics !== 'gmel') throw new Error('live runtimes run the "gmel" semantics only');
    this.credits.clear();
    if (stages.edge) edgeStage(this);
    if (stages.uplink) uplinkStage(this);
    joinUploads(this);
    this.wheel.drain(this.slot, this.onWheel);
    this.slot++;
    this.drawChannel();
  }

}
