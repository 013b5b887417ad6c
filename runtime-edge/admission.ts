/**
 * What an edge server accepts (issue #10, defect 6; docs/security.md "Message bounds and refusals").
 * The codec has checked the offload's schema; these checks hold it to this plant, so that no client
 * can park work the plant's gateways could never have sent.
 *
 * | refused when                                                                  | code           |
 * |-------------------------------------------------------------------------------|----------------|
 * | from an IED outside the plant                                                 | `unknown-ied`  |
 * | its deadline precedes its creation                                            | `invalid`      |
 * | created more than MAX_CLOCK_SKEW_MS ahead of our clock / due that long ago     | `clock-skew` / `stale` |
 * | size or density above scenario.task's maxima; deadline − creation above the   | `out-of-range` |
 * | declared maximum deadline + MAX_CLOCK_SKEW_MS                                 |                |
 * | its IED already has edgeQueueCap(scenario) tasks queued or waiting here       | `queue-full`   |
 *
 * A refused offload gets no edge result: its gateway's watchdog reports it dropped (gateway.ts).
 */
import type { Scenario } from '../core/scenario/schema.ts';
import type { Offload } from '../protocol/messages.ts';
import { MAX_CLOCK_SKEW_MS, rangeRefusal, timeRefusal, type Refusal } from '../protocol/refusals.ts';

/**
 * Most tasks of one IED queued at one edge server. A task lives at most the declared maximum deadline D,
 * and a task due within the current slot counts until the slot ends, so tasks of one IED alive at once
 * were announced in at most ceil(D/Δt) + 1 slots. Bernoulli arrivals announce at most one per slot: the
 * cap is exact for a legitimate IED (26 for gmel2024). Poisson arrivals (mean λ per slot) have no hard
 * bound: the cap is the mean over those slots plus six standard deviations, and never less.
 */
export function edgeQueueCap(scenario: Scenario): number {
  const slots = Math.max(1, Math.ceil(scenario.task.deadlineSeconds.max / scenario.slotSeconds - 1e-9)) + 1;
  if (scenario.arrivals.process === 'bernoulli') return slots;
  const mean = scenario.arrivals.probability * slots;
  return Math.max(slots, Math.ceil(mean + 6 * Math.sqrt(mean)));
}

/** Why an offload may not join this edge server's queues (undefined: it may); `queued(i)`: IED i's tasks here. */
export function admitOffload(msg: Offload, scenario: Scenario, now: number, queued: (iedId: number) => number): Refusal | undefined {
  if (msg.iedId >= scenario.ieds) return { code: 'unknown-ied', detail: `IED ${msg.iedId} is not in 0..${scenario.ieds - 1}` };
  if (msg.deadlineAt < msg.createdAt) return { code: 'invalid', detail: `deadlineAt ${msg.deadlineAt} precedes createdAt ${msg.createdAt}` };
  const late = timeRefusal(msg.createdAt, msg.deadlineAt, now);
  if (late) return late;
  // the deadline as the skew allows it: the bound protects the queue together with the cap below
  const range = rangeRefusal({ sizeMbit: msg.sizeMbit, density: msg.density, deadlineSeconds: (msg.deadlineAt - msg.createdAt) / 1000 }, scenario.task, MAX_CLOCK_SKEW_MS / 1000);
  if (range) return range;
  const cap = edgeQueueCap(scenario);
  const n = queued(msg.iedId);
  if (n >= cap) return { code: 'queue-full', detail: `IED ${msg.iedId} has ${n} tasks here (cap ${cap})` };
  return undefined;
}
