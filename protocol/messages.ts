/**
 * GMEL edge wire protocol v1: every MQTT payload's schema, defined once (TypeBox) and used by every
 * process. Documented in docs/protocol.md. All payloads are JSON objects with `v: 1`.
 *
 * | message     | topic (topics.ts)                    | QoS | retained | expiry (MQTT 5)   |
 * |-------------|--------------------------------------|-----|----------|-------------------|
 * | task        | gmel/v1/ied/{ied}/task               | 1   | no       | the task deadline |
 * | decision    | gmel/v1/ied/{ied}/decision           | 1   | no       | the task deadline |
 * | offload     | gmel/v1/edge/{edge}/offload          | 1   | no       | none: an accepted task must reach an outcome |
 * | edgeState   | gmel/v1/edge/{edge}/state            | 0   | yes      | —                 |
 * | edgeResult  | gmel/v1/ied/{ied}/edge-result/{edge} | 1   | no       | —                 |
 * | result      | gmel/v1/ied/{ied}/result             | 1   | no       | —                 |
 * | status      | gmel/v1/status/{kind}/{id}           | 1   | yes      | — (Last Will: offline) |
 * | desiredModel| gmel/v1/ied/{ied}/model              | 1   | yes      | —                 |
 * | reportedModel| gmel/v1/ied/{ied}/model/reported    | 1   | yes      | —                 |
 *
 * Units as in the scenario files: Mbit, Gcycles/Mbit, seconds; wall-clock times in ms since the epoch.
 */
import { Type, type Static } from '@sinclair/typebox';
import { STAGE_NAMES } from '../core/stages.ts';

export const PROTOCOL_VERSION = 1;
const V = Type.Literal(PROTOCOL_VERSION);
const Id = Type.Integer({ minimum: 0, maximum: 1_000_000 });
const TaskId = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._:-]+$' });
const Millis = Type.Number({ minimum: 0 });
const Stage = Type.Union(STAGE_NAMES.map((name) => Type.Literal(name)));

export const TaskAnnouncement = Type.Object(
  {
    v: V,
    taskId: TaskId,
    iedId: Id,
    sizeMbit: Type.Number({ exclusiveMinimum: 0, maximum: 1e4 }),
    density: Type.Number({ exclusiveMinimum: 0, maximum: 1e3, description: 'Gcycles per Mbit' }),
    deadlineSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600 }),
    createdAt: Millis,
  },
  { additionalProperties: false },
);

export const Decision = Type.Object(
  {
    v: V,
    taskId: TaskId,
    iedId: Id,
    /** 0 local, m ≥ 1 edge server m (1-based, as the action space) */
    action: Type.Integer({ minimum: 0, maximum: 1024 }),
    policyVersion: Type.String({ maxLength: 128 }),
    decidedAt: Millis,
    inferenceMicros: Type.Number({ minimum: 0 }),
    /** set when the model's decision could not be used and the task ran locally instead (a decision error) */
    fallback: Type.Optional(Type.Union([Type.Literal('inference-error'), Type.Literal('invalid-action')])),
  },
  { additionalProperties: false },
);

export const Offload = Type.Object(
  {
    v: V,
    taskId: TaskId,
    iedId: Id,
    /** 1-based, as the action */
    edgeServerId: Type.Integer({ minimum: 1, maximum: 1024 }),
    sizeMbit: Type.Number({ exclusiveMinimum: 0, maximum: 1e4 }),
    density: Type.Number({ exclusiveMinimum: 0, maximum: 1e3 }),
    createdAt: Millis,
    deadlineAt: Millis,
    uploadedAt: Millis,
    /** time the task spent transmitting (not waiting in the uplink queue), seconds: its effective rate is sizeMbit / uplinkSeconds */
    uplinkSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 1e6 })),
    /** mean number of IEDs sharing the edge server's band while it transmitted (OFDMA) */
    uplinkSharers: Type.Optional(Type.Number({ minimum: 1, maximum: 1e6 })),
  },
  { additionalProperties: false },
);

export const EdgeState = Type.Object(
  {
    v: V,
    edgeServerId: Type.Integer({ minimum: 1, maximum: 1024 }),
    slot: Type.Integer({ minimum: 0 }),
    at: Millis,
    /** |V_m| in the slot just served */
    activeQueues: Type.Integer({ minimum: 0 }),
    /** backlog per IED with a non-empty queue, Mbit: { "7": 12.5 } */
    backlogMbit: Type.Record(Type.String({ pattern: '^[0-9]+$' }), Type.Number({ minimum: 0 })),
    /** Gcycles the GPU spent in that slot (the twin estimates F_m from it) */
    servedGcycles: Type.Optional(Type.Number({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const Result = Type.Object(
  {
    v: V,
    taskId: TaskId,
    iedId: Id,
    outcome: Type.Union([Type.Literal('completed'), Type.Literal('dropped')]),
    stage: Stage,
    latencySeconds: Type.Number({ minimum: 0 }),
    at: Millis,
  },
  { additionalProperties: false },
);

/**
 * An edge server's outcome for an offloaded task: a result plus the server that resolved it (optional
 * for protocol compatibility; the gateway checks it against the server it offloaded the task to).
 */
export const EdgeResult = Type.Object(
  { ...Result.properties, edgeServerId: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })) },
  { additionalProperties: false },
);

/**
 * A gateway's share of the uplink band in one slot: how many of its IEDs transmitted to each edge
 * server. Gateways that each serve part of the plant add each other's counts to their own, so that
 * OFDMA splits a band among all its senders, not only one process's (runtime-ied/band.ts).
 */
export const BandReport = Type.Object(
  {
    v: V,
    /** the gateway's smallest IED id: its name on the band (the IED sets of a plant's gateways are disjoint) */
    gateway: Id,
    slot: Type.Integer({ minimum: 0 }),
    /** per edge server (index m − 1): its IEDs whose uplink sent to m in that slot */
    senders: Type.Array(Type.Integer({ minimum: 0, maximum: 1_000_000 }), { minItems: 1, maxItems: 1024 }),
  },
  { additionalProperties: false },
);

export const Status = Type.Object(
  {
    v: V,
    kind: Type.Union([Type.Literal('ied'), Type.Literal('edge'), Type.Literal('emulator'), Type.Literal('twin')]),
    id: Type.String({ maxLength: 64 }),
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    modelVersion: Type.Optional(Type.String({ maxLength: 128 })),
    at: Millis,
  },
  { additionalProperties: false },
);

const Version = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][\\w.-]*$' });

/** The model version a gateway should run (retained; set by the rollout). */
export const DesiredModel = Type.Object(
  {
    v: V,
    iedId: Id,
    modelSet: Version,
    version: Version,
    /** base URL of the model registry (deploy/registry.ts) */
    registry: Type.String({ minLength: 1, maxLength: 512, pattern: '^https?://' }),
    /** wall-clock ms when wished; a gateway refuses one more than MAX_DESIRE_CLOCK_SKEW_MS (runtime-ied/ota-policy.ts) ahead of its clock */
    at: Millis,
    /**
     * a rollback instruction: the deploy key's Ed25519 signature (base64) of core/model-signature.ts
     * `rollbackStatement(modelSet, version, at)`, needed to go to a set of lower release sequence
     */
    rollbackSignature: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9+/]+={0,2}$' })),
  },
  { additionalProperties: false },
);

/** What a gateway runs, and whether it refused the desired version (retained). */
export const ReportedModel = Type.Object(
  {
    v: V,
    iedId: Id,
    version: Version,
    state: Type.Union([Type.Literal('running'), Type.Literal('refused')]),
    /** the version refused, and why */
    refused: Type.Optional(Type.Object({ version: Version, reason: Type.String({ maxLength: 512 }) }, { additionalProperties: false })),
    at: Millis,
  },
  { additionalProperties: false },
);

export type TaskAnnouncement = Static<typeof TaskAnnouncement>;
export type Decision = Static<typeof Decision>;
export type Offload = Static<typeof Offload>;
export type EdgeState = Static<typeof EdgeState>;
export type Result = Static<typeof Result>;
export type Status = Static<typeof Status>;
export type BandReport = Static<typeof BandReport>;
export type DesiredModel = Static<typeof DesiredModel>;
export type ReportedModel = Static<typeof ReportedModel>;

export const SCHEMAS = {
  task: TaskAnnouncement,
  decision: Decision,
  offload: Offload,
  edgeState: EdgeState,
  /** an edge server's outcome of an offloaded task, to the IED's gateway (which owns the final result) */
  edgeResult: EdgeResult,
  result: Result,
  band: BandReport,
  status: Status,
  desiredModel: DesiredModel,
  reportedModel: ReportedModel,
} as const;
export type MessageKind = keyof typeof SCHEMAS;
export interface MessageOf {
  task: TaskAnnouncement;
  decision: Decision;
  offload: Offload;
  edgeState: EdgeState;
  edgeResult: Static<typeof EdgeResult>;
  result: Result;
  band: BandReport;
  status: Status;
  desiredModel: DesiredModel;
  reportedModel: ReportedModel;
}

/** Largest payload any process accepts (an edge state of 1,000 IEDs fits comfortably). */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
