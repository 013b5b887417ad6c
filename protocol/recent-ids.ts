/**
 * A bounded memory of recent task ids, to make redelivered (QoS 1) or duplicated messages idempotent:
 * used by the runtimes and the KPI monitor.
 */
export class RecentIds {
  private readonly ring: (string | undefined)[];
  private readonly set = new Set<string>();
  private next = 0;
  constructor(private readonly capacity = 100_000) {
    this.ring = new Array<string | undefined>(capacity);
  }
  /** true if new (and now remembered), false if seen before; O(1), the oldest id is forgotten first */
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    const old = this.ring[this.next];
    if (old !== undefined) this.set.delete(old);
    this.ring[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.set.add(id);
    return true;
  }
  has(id: string): boolean {
    return this.set.has(id);
  }
}
