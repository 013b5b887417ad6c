/**
 * The topic tree under gmel/v1/ (MQTT topic names; `+` for subscriptions).
 *
 * | kind      | topic                         | published by      | subscribed by            |
 * |-----------|-------------------------------|-------------------|--------------------------|
 * | task      | gmel/v1/ied/{ied}/task        | plant / emulator  | runtime-ied              |
 * | decision  | gmel/v1/ied/{ied}/decision    | runtime-ied       | twin, dashboards         |
 * | edgeResult| gmel/v1/ied/{ied}/edge-result/{edge} | runtime-edge {edge} | runtime-ied       |
 * | result    | gmel/v1/ied/{ied}/result      | runtime-ied (the one owner of a task's outcome) | twin, KPIs |
 * | offload   | gmel/v1/edge/{edge}/offload   | runtime-ied       | runtime-edge             |
 * | edgeState | gmel/v1/edge/{edge}/state     | runtime-edge      | runtime-ied, twin        |
 * | band      | gmel/v1/band/{gateway}        | runtime-ied (a gateway serving part of the plant; {gateway}: its first IED) | the other gateways |
 * | status    | gmel/v1/status/{kind}/{id}    | every process     | twin, `gmel up`          |
 * | desiredModel | gmel/v1/ied/{ied}/model (retained) | rollout      | runtime-ied (OTA)        |
 * | reportedModel| gmel/v1/ied/{ied}/model/reported   | runtime-ied  | rollout, twin            |
 */
import type { MessageKind } from './messages.ts';

export const ROOT = 'gmel/v1';

export const topics = {
  task: (ied: number) => `${ROOT}/ied/${ied}/task`,
  decision: (ied: number) => `${ROOT}/ied/${ied}/decision`,
  result: (ied: number) => `${ROOT}/ied/${ied}/result`,
  /** the server's id is in the topic, so the broker's ACL (deploy/acl.ts) vouches for who sent it */
  edgeResult: (ied: number, edge: number) => `${ROOT}/ied/${ied}/edge-result/${edge}`,
  /** a gateway's subscription: IED i's edge results from every server */
  edgeResultsOf: (ied: number) => `${ROOT}/ied/${ied}/edge-result/+`,
  desiredModel: (ied: number) => `${ROOT}/ied/${ied}/model`,
  reportedModel: (ied: number) => `${ROOT}/ied/${ied}/model/reported`,
  offload: (edge: number) => `${ROOT}/edge/${edge}/offload`,
  edgeState: (edge: number) => `${ROOT}/edge/${edge}/state`,
  status: (kind: string, id: string | number) => `${ROOT}/status/${kind}/${id}`,
  band: (gateway: number) => `${ROOT}/band/${gateway}`,
} as const;

export const subscriptions = {
  allTasks: `${ROOT}/ied/+/task`,
  allDecisions: `${ROOT}/ied/+/decision`,
  allResults: `${ROOT}/ied/+/result`,
  allOffloads: `${ROOT}/edge/+/offload`,
  allEdgeStates: `${ROOT}/edge/+/state`,
  allStatus: `${ROOT}/status/#`,
  allDesiredModels: `${ROOT}/ied/+/model`,
  allReportedModels: `${ROOT}/ied/+/model/reported`,
  allBands: `${ROOT}/band/+`,
} as const;

export interface ParsedTopic {
  readonly kind: MessageKind;
  /** the IED or edge server id in the topic (status: the device id as a string) */
  readonly id: string;
  /** status topics only */
  readonly deviceKind?: string;
  /** edge results only: the edge server named by the topic (1-based) */
  readonly server?: string;
}

const PATTERN = /^gmel\/v1\/(?:(ied)\/(\d{1,7})\/(task|decision|result|edge-result\/(\d{1,7})|model|model\/reported)|(edge)\/(\d{1,7})\/(offload|state)|(status)\/([a-z]+)\/([\w.-]{1,64})|(band)\/(\d{1,7}))$/;

/** What a topic carries, or undefined if it is not one of ours. */
export function parseTopic(topic: string): ParsedTopic | undefined {
  const m = PATTERN.exec(topic);
  if (!m) return undefined;
  if (m[1]) {
    if (m[4] !== undefined) return { kind: 'edgeResult', id: m[2] as string, server: m[4] };
    const kinds: Record<string, MessageKind> = { model: 'desiredModel', 'model/reported': 'reportedModel' };
    return { kind: kinds[m[3] as string] ?? (m[3] as MessageKind), id: m[2] as string };
  }
  if (m[5]) return { kind: m[7] === 'state' ? 'edgeState' : 'offload', id: m[6] as string };
  if (m[11]) return { kind: 'band', id: m[12] as string };
  return { kind: 'status', id: m[10] as string, deviceKind: m[9] as string };
}
