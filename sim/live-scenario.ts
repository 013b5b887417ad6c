/**
 * The world a live runtime embeds: the plant's scenario with random arrivals switched off (tasks come
 * from MQTT announcements) — the same engine and queue semantics as the simulator (sim/).
 */
import { validateScenario } from '../core/scenario/load.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { LiveWorld } from './live-world.ts';

export function liveWorld(scenario: Scenario, startSlot: number): LiveWorld {
  if (scenario.semantics !== 'gmel') throw new Error(`live runtimes run the "gmel" semantics; scenario ${scenario.name} uses "${scenario.semantics}"`);
  const quiet = validateScenario({ ...structuredClone(scenario), arrivals: { ...scenario.arrivals, probability: 0 } }, scenario.name);
  const world = new LiveWorld(quiet);
  world.reset(0);
  world.slot = startSlot;
  return world;
}

/** A bounded memory of recent task ids, to make redelivered (QoS 1) or duplicated tasks idempotent. */
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
