/**
 * Every reason an inbound message is refused: one list for the codec and the runtimes. Each refusal is
 * logged and counted as gmel_*_messages_rejected_total{reason="<code>"}; the process carries on.
 * docs/protocol.md documents the same list (test/protocol/refusals.test.ts keeps them equal).
 */
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
  duplicate: 'a task id already accepted (a redelivery or a replay): never run twice',
  invalid: "a message whose fields contradict each other (e.g. an offload's deadline before its creation)",
  'handler-error': "the message's handler threw; logged, the runtime keeps going",
} as const;

export type RefusalCode = keyof typeof REFUSALS;

/** The codes decode() can return (codec.ts). */
export const DECODE_ERRORS = ['oversized', 'unknown-topic', 'malformed-json', 'schema', 'id-mismatch'] as const satisfies readonly RefusalCode[];
export type DecodeErrorCode = (typeof DECODE_ERRORS)[number];
