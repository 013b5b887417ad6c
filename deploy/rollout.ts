/**
 * Staged rollout of a model version over the air, with automatic rollback.
 *
 * | phase     | what happens                                                                          |
 * |-----------|---------------------------------------------------------------------------------------|
 * | canary    | desire the new version for a canary fraction of the IEDs; wait until they all report   |
 * |           | it running (a refusal aborts: nothing else changes)                                   |
 * | observe   | for `windowMs`, compare the canaries' completion rate with the other IEDs' (still on  |
 * |           | the old version) in the same window, and count the canaries' inference errors         |
 * | promote   | healthy: desire the new version for every other IED and wait for their reports        |
 * | rollback  | unhealthy: desire the old version for the canaries again and wait for their reports   |
 *
 * Healthy means canary completion ≥ reference completion − maxDropPp (percentage points), with at
 * least minTasks canary outcomes seen. The reference is the live fleet on the old version; where the
 * twin's prediction is available it can replace it.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { decode, encode } from '../protocol/codec.ts';
import { subscriptions, topics } from '../protocol/topics.ts';

export interface RolloutOptions {
  readonly mqtt: MqttClient;
  readonly iedIds: readonly number[];
  readonly modelSet: string;
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly registry: string;
  /** share of IEDs in the canary stage (at least one) */
  readonly canaryFraction: number;
  /** how long to watch the canaries, ms */
  readonly windowMs: number;
  /** largest tolerated completion-rate drop of the canaries vs the reference, percentage points */
  readonly maxDropPp: number;
  /** fewest canary outcomes needed to judge */
  readonly minTasks: number;
  /** how long to wait for gateways to report a version, ms */
  readonly reportTimeoutMs?: number;
  readonly logger: Logger;
}

export interface RolloutReport {
  readonly outcome: 'promoted' | 'rolled-back' | 'aborted';
  readonly canaries: readonly number[];
  readonly canaryCompletion: number;
  readonly referenceCompletion: number;
  readonly canaryTasks: number;
  readonly reason: string;
  readonly timeline: readonly { readonly at: number; readonly event: string }[];
}

export async function runRollout(o: RolloutOptions): Promise<RolloutReport> {
  const canaryCount = Math.max(1, Math.round(o.iedIds.length * o.canaryFraction));
  const canaries = o.iedIds.slice(0, canaryCount);
  const rest = o.iedIds.slice(canaryCount);
  const canarySet = new Set(canaries);
  const timeline: { at: number; event: string }[] = [];
  const mark = (event: string) => {
    timeline.push({ at: Date.now(), event });
    o.logger.info({ event }, 'rollout');
  };
  const reported = new Map<number, { version: string; state: string; refused?: string }>();
  const counts = { canary: { done: 0, ok: 0 }, reference: { done: 0, ok: 0 } };
  let observing = false;
  const onMessage = (topic: string, payload: Buffer) => {
    const d = decode(topic, payload);
    if (!d.ok) return;
    if (d.kind === 'reportedModel') reported.set(d.message.iedId, { version: d.message.version, state: d.message.state, ...(d.message.refused ? { refused: `${d.message.refused.version}: ${d.message.refused.reason}` } : {}) });
    else if (d.kind === 'result' && observing) {
      const c = canarySet.has(d.message.iedId) ? counts.canary : counts.reference;
      c.done++;
      if (d.message.outcome === 'completed') c.ok++;
    }
  };
  o.mqtt.on('message', onMessage);
  await o.mqtt.subscribeAsync([subscriptions.allResults, ...o.iedIds.map((i) => topics.reportedModel(i))], { qos: 1 });
  const desire = async (ieds: readonly number[], version: string) => {
    for (const i of ieds)
      await o.mqtt.publishAsync(topics.desiredModel(i), encode('desiredModel', { v: 1, iedId: i, modelSet: o.modelSet, version, registry: o.registry, at: Date.now() }), { qos: 1, retain: true });
  };
  /** until every IED reports `version` running; a refusal of `version` ends the wait early */
  const awaitReports = async (ieds: readonly number[], version: string): Promise<string | undefined> => {
    const until = Date.now() + (o.reportTimeoutMs ?? 30_000);
    while (Date.now() < until) {
      const refused = ieds.map((i) => reported.get(i)?.refused).find((r) => r?.startsWith(`${version}:`));
      if (refused) return `refused ${refused}`;
      if (ieds.every((i) => reported.get(i)?.version === version && reported.get(i)?.state === 'running')) return undefined;
      await new Promise((r) => setTimeout(r, 100));
    }
    return `no report of ${version} from ${ieds.filter((i) => reported.get(i)?.version !== version).join(',')} within the timeout`;
  };
  const rate = (c: { done: number; ok: number }) => (c.done > 0 ? c.ok / c.done : 0);
  const finish = (outcome: RolloutReport['outcome'], reason: string): RolloutReport => {
    o.mqtt.removeListener('message', onMessage);
    mark(`${outcome}: ${reason}`);
    return { outcome, canaries, canaryCompletion: rate(counts.canary), referenceCompletion: rate(counts.reference), canaryTasks: counts.canary.done, reason, timeline };
  };

  mark(`canary: ${o.toVersion} for IEDs ${canaries.join(',')}`);
  await desire(canaries, o.toVersion);
  const canaryProblem = await awaitReports(canaries, o.toVersion);
  if (canaryProblem) {
    await desire(canaries, o.fromVersion);
    await awaitReports(canaries, o.fromVersion);
    return finish('aborted', canaryProblem);
  }
  mark(`observe ${o.windowMs} ms`);
  observing = true;
  await new Promise((r) => setTimeout(r, o.windowMs));
  observing = false;
  const canaryRate = rate(counts.canary);
  const referenceRate = rate(counts.reference);
  const healthy = counts.canary.done >= o.minTasks && canaryRate >= referenceRate - o.maxDropPp / 100;
  const verdict = `canary ${(100 * canaryRate).toFixed(1)}% (${counts.canary.done} tasks) vs reference ${(100 * referenceRate).toFixed(1)}% (${counts.reference.done})`;
  if (!healthy) {
    mark(`rollback: ${verdict}`);
    await desire(canaries, o.fromVersion);
    const back = await awaitReports(canaries, o.fromVersion);
    return finish('rolled-back', back ? `${verdict}; ${back}` : verdict);
  }
  mark(`promote: ${verdict}`);
  await desire(rest, o.toVersion);
  const promoted = await awaitReports(rest, o.toVersion);
  return finish(promoted ? 'aborted' : 'promoted', promoted ?? verdict);
}
