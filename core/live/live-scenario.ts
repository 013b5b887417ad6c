/**
 * The world a live runtime embeds: the plant's scenario with random arrivals switched off (tasks come
 * from MQTT announcements) — the same engine and queue semantics as the simulator (twin/sim).
 */
import { validateScenario } from '../scenario/load.ts';
import type { Scenario } from '../scenario/schema.ts';
import { LiveWorld } from '../../twin/sim/live-world.ts';

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
  private readonly order: string[] = [];
  private readonly set = new Set<string>();
  constructor(private readonly capacity = 100_000) {}
  /** true if new (and now remembered), false if seen before */
  add(id: string): boolean {
    if (this.set.has(id)) return false;
    this.set.add(id);
    this.order.push(id);
    if (this.order.length > this.capacity) this.set.delete(this.order.shift() as string);
    return true;
  }
}
