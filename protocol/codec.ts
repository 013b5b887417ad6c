/**
 * Decoding every inbound MQTT message the same way: size limit, topic, JSON, schema, and that the id
 * in the payload matches the id in the topic. Never throws: returns the message or a coded error,
 * so a handler can count it, log it and carry on. Its codes are DECODE_ERRORS in refusals.ts.
 */
import type { ValidateFunction } from 'ajv';
import { defineValidator, errorsText } from '../core/validators.ts';
import { SCHEMAS, MAX_PAYLOAD_BYTES, type MessageKind, type MessageOf } from './messages.ts';
import { parseTopic } from './topics.ts';

export { DECODE_ERRORS, type DecodeErrorCode } from './refusals.ts';
import type { DecodeErrorCode } from './refusals.ts';

export type Decoded =
  { [K in MessageKind]: { ok: true; kind: K; topicId: string; message: MessageOf[K]; /** edge results: the server named by the topic */ topicServer?: number } }[MessageKind]
  | { ok: false; code: DecodeErrorCode; detail: string; topic: string };

// the first error is enough for a refusal; compiled on first use (or precompiled in the gateway's bundle)
const validators = Object.fromEntries(
  (Object.keys(SCHEMAS) as MessageKind[]).map((kind) => [kind, defineValidator(`message/${kind}`, SCHEMAS[kind], { allErrors: false })]),
) as Record<MessageKind, () => ValidateFunction>;
function validatorOf(kind: MessageKind): ValidateFunction {
  return validators[kind]();
}

export function decode(topic: string, payload: Uint8Array | string, maxBytes = MAX_PAYLOAD_BYTES): Decoded {
  const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (bytes > maxBytes) return { ok: false, code: 'oversized', detail: `${bytes} bytes > ${maxBytes}`, topic };
  const parsed = parseTopic(topic);
  if (!parsed) return { ok: false, code: 'unknown-topic', detail: topic, topic };
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'malformed-json', detail: (err as Error).message, topic };
  }
  const validate = validatorOf(parsed.kind);
  if (!validate(value)) {
    const e = validate.errors?.[0];
    const field = e?.keyword === 'additionalProperties' ? `${e.instancePath}/${String((e.params as { additionalProperty: string }).additionalProperty)}` : e?.instancePath || '/';
    return { ok: false, code: 'schema', detail: `${parsed.kind} ${field}: ${e?.message ?? 'invalid'}`, topic };
  }
  const msg = value as Record<string, unknown>;
  const payloadId = parsed.kind === 'offload' || parsed.kind === 'edgeState' ? msg.edgeServerId : parsed.kind === 'status' ? msg.id : parsed.kind === 'band' ? msg.gateway : msg.iedId;
  if (String(payloadId) !== parsed.id) return { ok: false, code: 'id-mismatch', detail: `topic says ${parsed.id}, payload says ${String(payloadId)}`, topic };
  if (parsed.server !== undefined && msg.edgeServerId !== undefined && String(msg.edgeServerId) !== parsed.server)
    return { ok: false, code: 'id-mismatch', detail: `topic says edge server ${parsed.server}, payload says ${String(msg.edgeServerId)}`, topic };
  return { ok: true, kind: parsed.kind, topicId: parsed.id, message: value, ...(parsed.server !== undefined ? { topicServer: Number(parsed.server) } : {}) } as Decoded;
}

/** Encode after validating (a process never publishes what it would refuse to receive). */
export function encode<K extends MessageKind>(kind: K, message: MessageOf[K]): string {
  const validate = validatorOf(kind);
  if (!validate(message)) throw new Error(`refusing to publish an invalid ${kind}: ${errorsText(validate.errors)}`);
  return JSON.stringify(message);
}
