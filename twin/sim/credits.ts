/**
 * The delayed credits of one step (eq. 4): one row per task resolved in it, tagged with the IED and
 * the slot of the decision it rewards. Parallel typed arrays, grown on demand, reused every step.
 */
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
    const grow = <T extends Int32Array | Float64Array | Uint8Array>(a: T, ctor: new (n: number) => T): T => {
      const b = new ctor(n);
      b.set(a);
      return b;
    };
    this.ied = grow(this.ied, Int32Array);
    this.slot = grow(this.slot, Int32Array);
    this.reward = grow(this.reward, Float64Array);
    this.completed = grow(this.completed, Uint8Array);
  }
}
