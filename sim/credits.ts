/**
 * The delayed credits of one step (eq. 4): one row per task resolved in it, tagged with the IED and
 * the slot of the decision it rewards. Parallel typed arrays, grown on demand, reused every step.
 */
import { resized } from './task-pool.ts';

export class CreditLog {
  ied = new Int32Array(64);
  slot = new Int32Array(64);
  reward = new Float64Array(64);
  completed = new Uint8Array(64);
  count = 0;

  clear(): void {
    this.count = 0;
  }

  push(ied: number, slot: number, reward: number, completed: boolean): void {
    if (this.count === this.ied.length) this.grow(this.count * 2);
    const k = this.count++;
    this.ied[k] = ied;
    this.slot[k] = slot;
    this.reward[k] = reward;
    this.completed[k] = completed ? 1 : 0;
  }

  private grow(n: number): void {
    this.ied = resized(this.ied, Int32Array, n);
    this.slot = resized(this.slot, Int32Array, n);
    this.reward = resized(this.reward, Float64Array, n);
    this.completed = resized(this.completed, Uint8Array, n);
  }
}
