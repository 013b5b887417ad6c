/**
 * Staged rollout of a model version over the air, with automatic rollback.
 *
 * | phase     | what happens                                                                          |
 * |-----------|---------------------------------------------------------------------------------------|
 * | canary    | desire the new version for a canary fraction of the IEDs; wait until they all report   |
 * |           | it running (a refusal aborts: nothing else changes)                                   |
 * | observe   | for `windowMs`, note the tasks decided: the canaries' under the new version (and the  |
 * |           | decision errors among them: `fallback` set, the model failed or chose no valid action,|
 * |           | the task ran locally), the others' under any version; then wait up to `drainMs` for   |
 * |           | those tasks' outcomes                                                                 |
 * | promote   | healthy: desire the new version for every other IED and wait for their reports        |
 * | rollback  | unhealthy: desire the old version for the canaries again and wait for their reports   |
 * | abort     | an error on the way (broker, the twin's prediction): every IED already sent the new   |
 * |           | version is desired back on the old one; the report says why                           |
 *
 * Healthy means all of:
 * - at least minTasks canary outcomes seen;
 * - decision errors ≤ maxDecisionErrorRate of the canaries' decisions;
 * - canary completion ≥ reference − maxDropPp (percentage points). The reference is the twin's
 *   prediction for the canary IEDs under the new version when the caller has one (`predictCompletion`:
 *   the new files run on the twin's recalibrated simulator, see twin/retrainer.ts), else the
 *   other IEDs' live completion in the same window (they still run the old version).
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { decode, encode } from '../protocol/codec.ts';
import { subscriptions, topics } from '../protocol/topics.ts';
import { publishOptions } from '../protocol/publish-options.ts';

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
  /** after the window, how long to wait for the outcomes of tasks decided in it, ms (≥ the longest deadline; default 3000) */
  readonly drainMs?: number;
  /** fewest canary outcomes needed to judge */
  readonly minTasks: number;
  /** largest tolerated share of canary decisions that fell back to local (default 0.02) */
  readonly maxDecisionErrorRate?: number;
  /**
   * The twin's predicted completion rate (0–1) of the canary IEDs under the new version; when given it
   * replaces the live fleet as the reference. Called once the canaries are chosen.
   */
  readonly predictCompletion?: (canaries: readonly number[]) => Promise<number>;
  /** how long to wait for gateways to report a version, ms */
  readonly reportTimeoutMs?: number;
  readonly logger: Logger;
}

export interface RolloutReport {
  readonly outcome: 'promoted' | 'rolled-back' | 'aborted';
  readonly canaries: readonly number[];
  readonly canaryCompletion: number;
  /** what the canary was judged against, and its completion rate */
  readonly reference: 'twin prediction' | 'live fleet';
  readonly referenceCompletion: number;
  readonly canaryTasks: number;
  /** canary decisions under the new version, and how many of them were decision errors */
  readonly canaryDecisions: number;
  readonly decisionErrors: number;
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
  const decisions = { total: 0, errors: 0 };
  // tasks decided inside the window, by whom: only their outcomes count (a backlog left by an earlier
  // version must not be blamed on this one); outcomes may arrive up to drainMs after the window
  let observing = false;
  const watched = new Map<string, typeof counts.canary>();
  const onMessage = (topic: string, payload: Buffer) => {
    const d = decode(topic, payload);
    if (!d.ok) return;
    if (d.kind === 'reportedModel') reported.set(d.message.iedId, { version: d.message.version, state: d.message.state, ...(d.message.refused ? { refused: `${d.message.refused.version}: ${d.message.refused.reason}` } : {}) });
    else if (d.kind === 'decision' && observing) {
      const m = d.message;
      if (!canarySet.has(m.iedId)) watched.set(m.taskId, counts.reference);
      else if (m.policyVersion === o.toVersion) {
        watched.set(m.taskId, counts.canary);
        decisions.total++;
        if (m.fallback) decisions.errors++;
      }
    } else if (d.kind === 'result') {
      const c = watched.get(d.message.taskId);
      if (!c) return;
      watched.delete(d.message.taskId);
      c.done++;
      if (d.message.outcome === 'completed') c.ok++;
    }
  };
  o.mqtt.on('message', onMessage);
  const desire = async (ieds: readonly number[], version: string) => {
    for (const i of ieds)
      await o.mqtt.publishAsync(topics.desiredModel(i), encode('desiredModel', { v: 1, iedId: i, modelSet: o.modelSet, version, registry: o.registry, at: Date.now() }), publishOptions('desiredModel'));
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
  const reference: RolloutReport['reference'] = o.predictCompletion === undefined ? 'live fleet' : 'twin prediction';
  let predicted: number | undefined;
  const referenceRate = () => predicted ?? rate(counts.reference);
  const finish = (outcome: RolloutReport['outcome'], reason: string): RolloutReport => {
    o.mqtt.removeListener('message', onMessage);
    mark(`${outcome}: ${reason}`);
    return {
      outcome, canaries, canaryCompletion: rate(counts.canary), reference, referenceCompletion: referenceRate(), canaryTasks: counts.canary.done,
      canaryDecisions: decisions.total, decisionErrors: decisions.errors, reason, timeline,
    };
  };

  // IEDs that were sent the new version: an error mid-rollout puts them back on the old one
  let touched: readonly number[] = [];
  const stages = async (): Promise<RolloutReport> => {
    await o.mqtt.subscribeAsync([subscriptions.allResults, subscriptions.allDecisions, ...o.iedIds.map((i) => topics.reportedModel(i))], { qos: 1 });
    mark(`canary: ${o.toVersion} for IEDs ${canaries.join(',')}`);
    touched = canaries;
    await desire(canaries, o.toVersion);
    const canaryProblem = await awaitReports(canaries, o.toVersion);
    if (canaryProblem) {
      await desire(canaries, o.fromVersion);
      await awaitReports(canaries, o.fromVersion);
      return finish('aborted', canaryProblem);
    }
    if (o.predictCompletion) {
      predicted = await o.predictCompletion(canaries);
      mark(`twin predicts ${(100 * predicted).toFixed(1)}% completion for the canaries`);
    }
    mark(`observe ${o.windowMs} ms`);
    observing = true;
    await new Promise((r) => setTimeout(r, o.windowMs));
    observing = false;
    for (const until = Date.now() + (o.drainMs ?? 3000); watched.size > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    const canaryRate = rate(counts.canary);
    const errorRate = decisions.total > 0 ? decisions.errors / decisions.total : 0;
    const problems: string[] = [];
    if (counts.canary.done < o.minTasks) problems.push(`only ${counts.canary.done} canary outcomes (need ${o.minTasks})`);
    if (errorRate > (o.maxDecisionErrorRate ?? 0.02)) problems.push(`${decisions.errors} of ${decisions.total} canary decisions were errors`);
    if (canaryRate < referenceRate() - o.maxDropPp / 100) problems.push(`completion more than ${o.maxDropPp} points below the ${reference}`);
    const healthy = problems.length === 0;
    const verdict = `canary ${(100 * canaryRate).toFixed(1)}% (${counts.canary.done} tasks, ${decisions.errors}/${decisions.total} decision errors) vs ${reference} ${(100 * referenceRate()).toFixed(1)}%${reference === 'live fleet' ? ` (${counts.reference.done})` : ''}${healthy ? '' : `: ${problems.join('; ')}`}`;
    if (!healthy) {
      mark(`rollback: ${verdict}`);
      await desire(canaries, o.fromVersion);
      const back = await awaitReports(canaries, o.fromVersion);
      return finish('rolled-back', back ? `${verdict}; ${back}` : verdict);
    }
    mark(`promote: ${verdict}`);
    touched = o.iedIds;
    await desire(rest, o.toVersion);
    const promoted = await awaitReports(rest, o.toVersion);
    return finish(promoted ? 'aborted' : 'promoted', promoted ?? verdict);
  };
  try {
    return await stages();
  } catch (err) {
    const reason = `error during the rollout: ${(err as Error).message}`;
    let back = '';
    try {
      if (touched.length > 0) {
        await desire(touched, o.fromVersion);
        back = `; IEDs ${touched.join(',')} desired back on ${o.fromVersion}`;
      }
    } catch (again) {
      back = `; could not desire ${o.fromVersion} again: ${(again as Error).message}`;
    }
    return finish('aborted', reason + back);
  } finally {
    o.mqtt.removeListener('message', onMessage);
  }
}
