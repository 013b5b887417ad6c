/**
 * How each kind of message is published: one table, read at every publish (MQTT 5 §3.3.1 retain,
 * §4.3 QoS, §3.3.2.3.3 message expiry).
 *
 * | kind          | QoS | retain | expiry                 | why                                               |
 * |---------------|-----|--------|------------------------|---------------------------------------------------|
 * | task          | 1   | no     | at the task's deadline | a task nobody can decide in time is worthless     |
 * | decision      | 1   | no     | at the task's deadline | observers only; stale after the deadline          |
 * | offload       | 1   | no     | none                   | an accepted task must reach an outcome: a late    |
 * |               |     |        |                        | offload is delivered and dropped by the edge      |
 * | edgeResult    | 1   | no     | none                   | the gateway owns the outcome and waits for it     |
 * | result        | 1   | no     | none                   | the one outcome of a task: KPIs, twin             |
 * | edgeState     | 0   | yes    | none                   | a newer state replaces it every slot              |
 * | band          | 0   | no     | none                   | a newer count comes every slot; a lost one is     |
 * |               |     |        |                        | replaced by the next (band.ts ages them out)      |
 * | status        | 1   | yes    | none                   | online/offline (the will is the retained offline) |
 * | desiredModel  | 1   | yes    | none                   | a gateway that (re)connects learns what to run    |
 * | reportedModel | 1   | yes    | none                   | what each gateway runs, for rollout and twin      |
 *
 * Expiry is capped at MAX_EXPIRY_SECONDS: a stamp from outside (a deadline far in the future) can never
 * ask for more than MQTT's four-byte interval holds, which would make the client drop its connection.
 */
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { MessageKind } from './messages.ts';

interface PublishRule {
  readonly qos: 0 | 1;
  readonly retain: boolean;
  /** MQTT 5 message expiry at the task's deadline */
  readonly expiresAtDeadline: boolean;
}

export const PUBLISH_RULES: Readonly<Record<MessageKind, PublishRule>> = {
  task: { qos: 1, retain: false, expiresAtDeadline: true },
  decision: { qos: 1, retain: false, expiresAtDeadline: true },
  offload: { qos: 1, retain: false, expiresAtDeadline: false },
  edgeResult: { qos: 1, retain: false, expiresAtDeadline: false },
  result: { qos: 1, retain: false, expiresAtDeadline: false },
  edgeState: { qos: 0, retain: true, expiresAtDeadline: false },
  band: { qos: 0, retain: false, expiresAtDeadline: false },
  status: { qos: 1, retain: true, expiresAtDeadline: false },
  desiredModel: { qos: 1, retain: true, expiresAtDeadline: false },
  reportedModel: { qos: 1, retain: true, expiresAtDeadline: false },
};

/** The longest message expiry we ever ask for, seconds (one hour: far beyond any task deadline). */
export const MAX_EXPIRY_SECONDS = 3600;

/**
 * Publish options for a message of `kind`. `secondsLeft`: time to the task's deadline, for kinds that
 * expire with it (ignored by the others and on MQTT 3.1.1, which has no expiry).
 */
export function publishOptions(kind: MessageKind, client?: MqttClient, secondsLeft?: number): IClientPublishOptions {
  const rule = PUBLISH_RULES[kind];
  const base: IClientPublishOptions = rule.retain ? { qos: rule.qos, retain: true } : { qos: rule.qos };
  if (!rule.expiresAtDeadline || secondsLeft === undefined || client?.options.protocolVersion !== 5) return base;
  const expiry = Math.min(MAX_EXPIRY_SECONDS, Math.max(1, Math.ceil(Number.isFinite(secondsLeft) ? secondsLeft : MAX_EXPIRY_SECONDS)));
  return { ...base, properties: { messageExpiryInterval: expiry } };
}
