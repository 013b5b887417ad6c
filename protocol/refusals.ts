/**
 * Every reason an inbound message is refused: one list for the codec and the runtimes. Each refusal is
 * counted as gmel_*_messages_rejected_total{reason="<code>"} and logged (rate-limited: observability.ts
 * Refusals); the process carries on. docs/protocol.md documents the same list (test/protocol/
 * refusals.test.ts keeps them equal); docs/security.md the bounds below.
 */
import type { Scenario } from '../core/scenario/schema.ts';

export const REFUSALS = {
  // codec.ts: decode() refuses before any handler sees the message
  oversized: 'payload larger than MAX_PAYLOAD_BYTES (64 KiB)',
  'unknown-topic': 'not a gmel/v1 topic this process understands',
  'malformed-json': 'not parseable as JSON',
  schema: "JSON that fails the message's schema (the field is named)",
  'id-mismatch': "the payload's iedId/edgeServerId differs from the topic's id",
  // the runtimes: a valid message this process cannot act on
  'unknown-ied': 'a task or offload for an IED this process does not serve, or outside the plant',
  'unknown-edge': 'an edge state from a server outside the plant',
  duplicate: 'a task id already accepted, or an edge result for a task already resolved (a redelivery or a replay): never run twice',
  invalid: "a message whose fields contradict each other or the plant (e.g. an offload's deadline before its creation, a band report of the wrong width)",
  'clock-skew': "created more than MAX_CLOCK_SKEW_MS ahead of the receiving clock; a band report more than BAND_STALE_SLOTS slots ahead of the receiver's slot",
  stale: 'its deadline passed more than MAX_CLOCK_SKEW_MS ago by the receiving clock',
  'out-of-range': "a size, density or deadline above the plant's declared range (scenario.task)",
  'queue-full': "an offload beyond the per-IED queue cap at an edge server (edgeQueueCap)",
  'unknown-task': 'an edge result for a task this gateway never offloaded',
  forged: "an edge result for an offloaded task with the wrong IED, stage or edge server; a band report in the name of one of the receiving gateway's IEDs",
  'handler-error': "the message's handler threw; logged, the runtime keeps going",
} as const;

export type RefusalCode = keyof typeof REFUSALS;

/** The codes decode() can return (codec.ts). */
export const DECODE_ERRORS = ['oversized', 'unknown-topic', 'malformed-json', 'schema', 'id-mismatch'] as const satisfies readonly RefusalCode[];
export type DecodeErrorCode = (typeof DECODE_ERRORS)[number];

/** A runtime's refusal of a decoded message: its code and what was wrong (for the log line). */
export interface Refusal {
  readonly code: RefusalCode;
  readonly detail: string;
}

/**
 * The largest difference between two plant clocks a runtime tolerates, ms. The plant's clocks are
 * NTP-synchronised (docs/protocol.md, Slots), normally to milliseconds; 5 s leaves room for a device
 * whose clock has not settled yet while still refusing stamps from another year. Used both ways: a
 * message created further ahead is `clock-skew`, one whose deadline passed longer ago is `stale`.
 */
export const MAX_CLOCK_SKEW_MS = 5000;

/**
 * Relative slack on the upper end of a declared range (scenario.task): none in substance, only room
 * for the rounding of a value drawn as min + u·(max − min) and written as decimal JSON.
 */
export const RANGE_SLACK = 1e-9;

/** `clock-skew` or `stale` for a message created at `createdAt` and due at `deadlineAt` (ms), by the receiver's clock `now`. */
export function timeRefusal(createdAt: number, deadlineAt: number, now: number): Refusal | undefined {
  if (createdAt > now + MAX_CLOCK_SKEW_MS) return { code: 'clock-skew', detail: `createdAt is ${((createdAt - now) / 1000).toFixed(1)} s ahead of this clock (bound ${MAX_CLOCK_SKEW_MS / 1000} s)` };
  if (deadlineAt < now - MAX_CLOCK_SKEW_MS) return { code: 'stale', detail: `its deadline passed ${((now - deadlineAt) / 1000).toFixed(1)} s ago (bound ${MAX_CLOCK_SKEW_MS / 1000} s)` };
  return undefined;
}

/**
 * `out-of-range` for a quantity above the plant's declared range. Only the upper ends are bounds: a
 * task smaller, lighter or shorter-lived than the scenario declares costs less than a declared one
 * (the schema already requires it > 0). `deadlineSlackSeconds` widens the deadline's bound (see the
 * edge server's use).
 */
export function rangeRefusal(task: { readonly sizeMbit: number; readonly density: number; readonly deadlineSeconds: number }, ranges: Scenario['task'], deadlineSlackSeconds = 0): Refusal | undefined {
  const above = (v: number, max: number) => v > max * (1 + RANGE_SLACK);
  if (above(task.sizeMbit, ranges.sizeMbit.max)) return { code: 'out-of-range', detail: `sizeMbit ${task.sizeMbit} > ${ranges.sizeMbit.max}` };
  if (above(task.density, ranges.densityGcyclesPerMbit.max)) return { code: 'out-of-range', detail: `density ${task.density} > ${ranges.densityGcyclesPerMbit.max} Gcycles/Mbit` };
  if (above(task.deadlineSeconds, ranges.deadlineSeconds.max + deadlineSlackSeconds)) return { code: 'out-of-range', detail: `deadline ${task.deadlineSeconds} s > ${ranges.deadlineSeconds.max + deadlineSlackSeconds} s` };
  return undefined;
}
