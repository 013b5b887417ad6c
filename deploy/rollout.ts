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
 *
 * Going back to the old version is a downgrade: gateways take it only as a rollback signed with the
 * deploy key (`rollbackKeyPem`; runtime-ied/ota.ts). A little over 300 lines: the phases above share
 * one state and one fleet listener, and read best in order.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { decode, encode } from '../protocol/codec.ts';
import { subscriptions, topics } from '../protocol/topics.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import { signRollback } from '../core/model-signature.ts';

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
  /**
   * The deploy private key (PEM): going back to `fromVersion` is a downgrade that gateways refuse
   * unless the desire carries a rollback signed by this key (anti-rollback, runtime-ied/ota.ts).
   */
  readonly rollbackKeyPem?: string;
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

/** Completed and total outcomes of the tasks one group of IEDs decided in the window. */
interface Tally {
  done: number;
  ok: number;
}

/** A gateway's latest report of the model it runs, with the last version it refused and why. */
interface GatewayReport {
  readonly version: string;
  readonly state: string;
  readonly refused?: string;
}

/** Everything one rollout learns while it runs; its stages, its message listener and its report share it. */
interface RolloutState {
  readonly o: RolloutOptions;
  readonly canaries: readonly number[];
  /** the IEDs left on the old version until the canaries are judged */
  readonly rest: readonly number[];
  readonly canarySet: ReadonlySet<number>;
  readonly reference: RolloutReport['reference'];
  readonly timeline: { at: number; event: string }[];
  readonly reported: Map<number, GatewayReport>;
  readonly counts: { readonly canary: Tally; readonly reference: Tally };
  readonly decisions: { total: number; errors: number };
  // tasks decided inside the window, by whom: only their outcomes count (a backlog left by an earlier
  // version must not be blamed on this one); outcomes may arrive up to drainMs after the window
  observing: boolean;
  readonly watched: Map<string, Tally>;
  predicted: number | undefined;
  // IEDs that were sent the new version: an error mid-rollout puts them back on the old one
  touched: readonly number[];
}

type Finish = (outcome: RolloutReport['outcome'], reason: string) => RolloutReport;

export async function runRollout(o: RolloutOptions): Promise<RolloutReport> {
  const s = chooseCanaries(o);
  const onMessage = fleetListener(s);
  o.mqtt.on('message', onMessage);
  const finish: Finish = (outcome, reason) => {
    o.mqtt.removeListener('message', onMessage);
    mark(s, `${outcome}: ${reason}`);
    return report(s, outcome, reason);
  };
  try {
    return await runStages(s, finish);
  } catch (err) {
    return finish('aborted', await abortReason(s, err));
  } finally {
    o.mqtt.removeListener('message', onMessage);
  }
}

/** The first canaryFraction of the IEDs (at least one) go first; the rollout's state starts out empty. */
function chooseCanaries(o: RolloutOptions): RolloutState {
  const canaryCount = Math.max(1, Math.round(o.iedIds.length * o.canaryFraction));
  const canaries = o.iedIds.slice(0, canaryCount);
  return {
    o, canaries, rest: o.iedIds.slice(canaryCount), canarySet: new Set(canaries),
    reference: o.predictCompletion === undefined ? 'live fleet' : 'twin prediction',
    timeline: [], reported: new Map(), counts: { canary: { done: 0, ok: 0 }, reference: { done: 0, ok: 0 } }, decisions: { total: 0, errors: 0 },
    observing: false, watched: new Map(), predicted: undefined, touched: [],
  };
}

/** The timeline in the report and the log tell the same story. */
function mark(s: RolloutState, event: string): void {
  s.timeline.push({ at: Date.now(), event });
  s.o.logger.info({ event }, 'rollout');
}

/** Tallies the fleet's version reports, and the decisions and outcomes of tasks decided in the window, by group. */
function fleetListener(s: RolloutState): (topic: string, payload: Buffer) => void {
  const { counts, decisions, watched } = s;
  return (topic, payload) => {
    const d = decode(topic, payload);
    if (!d.ok) return;
    if (d.kind === 'reportedModel') s.reported.set(d.message.iedId, { version: d.message.version, state: d.message.state, ...(d.message.refused ? { refused: `${d.message.refused.version}: ${d.message.refused.reason}` } : {}) });
    else if (d.kind === 'decision' && s.observing) {
      const m = d.message;
      if (!s.canarySet.has(m.iedId)) watched.set(m.taskId, counts.reference);
      else if (m.policyVersion === s.o.toVersion) {
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
}

/** Asks each IED, one after the other, to run `version`. */
async function desire(o: RolloutOptions, ieds: readonly number[], version: string): Promise<void> {
  const at = Date.now();
  // back to the running version: a signed rollback, the only downgrade a gateway accepts
  const rollback = version === o.fromVersion && o.rollbackKeyPem ? { rollbackSignature: signRollback({ modelSet: o.modelSet, version, at }, o.rollbackKeyPem) } : {};
  for (const i of ieds)
    await o.mqtt.publishAsync(topics.desiredModel(i), encode('desiredModel', { v: 1, iedId: i, modelSet: o.modelSet, version, registry: o.registry, at, ...rollback }), publishOptions('desiredModel'));
}

/** until every IED reports `version` running; a refusal of `version` ends the wait early */
async function awaitReports(s: RolloutState, ieds: readonly number[], version: string): Promise<string | undefined> {
  const { reported } = s;
  const until = Date.now() + (s.o.reportTimeoutMs ?? 30_000);
  while (Date.now() < until) {
    const refused = ieds.map((i) => reported.get(i)?.refused).find((r) => r?.startsWith(`${version}:`));
    if (refused) return `refused ${refused}`;
    if (ieds.every((i) => reported.get(i)?.version === version && reported.get(i)?.state === 'running')) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
  return `no report of ${version} from ${ieds.filter((i) => reported.get(i)?.version !== version).join(',')} within the timeout`;
}

/** Completion rate of a group's watched tasks; 0 before any outcome, so no task never reads as healthy. */
function rate(c: Tally): number {
  return c.done > 0 ? c.ok / c.done : 0;
}

/** The twin's prediction once it is known, else the live fleet's completion so far. */
function referenceRate(s: RolloutState): number {
  return s.predicted ?? rate(s.counts.reference);
}

/** The caller's record of how the rollout went, whichever way it ended. */
function report(s: RolloutState, outcome: RolloutReport['outcome'], reason: string): RolloutReport {
  return {
    outcome, canaries: s.canaries, canaryCompletion: rate(s.counts.canary), reference: s.reference, referenceCompletion: referenceRate(s), canaryTasks: s.counts.canary.done,
    canaryDecisions: s.decisions.total, decisionErrors: s.decisions.errors, reason, timeline: s.timeline,
  };
}

/** canary → observe → promote or roll back; a throw anywhere is left to the caller, which aborts. */
async function runStages(s: RolloutState, finish: Finish): Promise<RolloutReport> {
  const { o } = s;
  await o.mqtt.subscribeAsync([subscriptions.allResults, subscriptions.allDecisions, ...o.iedIds.map((i) => topics.reportedModel(i))], { qos: 1 });
  const canaryProblem = await startCanaries(s);
  if (canaryProblem) return finish('aborted', canaryProblem);
  if (o.predictCompletion) {
    s.predicted = await o.predictCompletion(s.canaries);
    mark(s, `twin predicts ${(100 * s.predicted).toFixed(1)}% completion for the canaries`);
  }
  await observeCanaries(s);
  const { healthy, verdict } = judgeCanaries(s);
  if (!healthy) return finish('rolled-back', await rollBack(s, verdict));
  const promoted = await promote(s, verdict);
  return finish(promoted ? 'aborted' : 'promoted', promoted ?? verdict);
}

/** Puts the canaries on the new version; if one refuses or stays silent they all go back, and the problem is returned. */
async function startCanaries(s: RolloutState): Promise<string | undefined> {
  const { o, canaries } = s;
  mark(s, `canary: ${o.toVersion} for IEDs ${canaries.join(',')}`);
  s.touched = canaries;
  await desire(o, canaries, o.toVersion);
  const problem = await awaitReports(s, canaries, o.toVersion);
  if (problem) {
    await desire(o, canaries, o.fromVersion);
    await awaitReports(s, canaries, o.fromVersion);
  }
  return problem;
}

/** Counts only tasks decided during the window, then gives their outcomes up to drainMs to arrive. */
async function observeCanaries(s: RolloutState): Promise<void> {
  const { o } = s;
  mark(s, `observe ${o.windowMs} ms`);
  s.observing = true;
  await new Promise((r) => setTimeout(r, o.windowMs));
  s.observing = false;
  for (const until = Date.now() + (o.drainMs ?? 3000); s.watched.size > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
}

/** Healthy as the header defines it; the verdict line says what was measured, and what failed if anything. */
function judgeCanaries(s: RolloutState): { healthy: boolean; verdict: string } {
  const { o, counts, decisions, reference } = s;
  const canaryRate = rate(counts.canary);
  const errorRate = decisions.total > 0 ? decisions.errors / decisions.total : 0;
  const problems: string[] = [];
  if (counts.canary.done < o.minTasks) problems.push(`only ${counts.canary.done} canary outcomes (need ${o.minTasks})`);
  if (errorRate > (o.maxDecisionErrorRate ?? 0.02)) problems.push(`${decisions.errors} of ${decisions.total} canary decisions were errors`);
  if (canaryRate < referenceRate(s) - o.maxDropPp / 100) problems.push(`completion more than ${o.maxDropPp} points below the ${reference}`);
  const healthy = problems.length === 0;
  const verdict = `canary ${(100 * canaryRate).toFixed(1)}% (${counts.canary.done} tasks, ${decisions.errors}/${decisions.total} decision errors) vs ${reference} ${(100 * referenceRate(s)).toFixed(1)}%${reference === 'live fleet' ? ` (${counts.reference.done})` : ''}${healthy ? '' : `: ${problems.join('; ')}`}`;
  return { healthy, verdict };
}

/** Unhealthy canaries go back to the old version; the reason adds any trouble getting them there. */
async function rollBack(s: RolloutState, verdict: string): Promise<string> {
  const { o, canaries } = s;
  mark(s, `rollback: ${verdict}`);
  await desire(o, canaries, o.fromVersion);
  const back = await awaitReports(s, canaries, o.fromVersion);
  return back ? `${verdict}; ${back}` : verdict;
}

/** Healthy canaries: the rest of the fleet follows; returns the problem if some IED did not get there. */
async function promote(s: RolloutState, verdict: string): Promise<string | undefined> {
  const { o } = s;
  mark(s, `promote: ${verdict}`);
  s.touched = o.iedIds;
  await desire(o, s.rest, o.toVersion);
  return await awaitReports(s, s.rest, o.toVersion);
}

/** After an error, every IED sent the new version is desired back on the old one, best effort; the reason says how that went. */
async function abortReason(s: RolloutState, err: unknown): Promise<string> {
  const { o, touched } = s;
  const reason = `error during the rollout: ${(err as Error).message}`;
  let back = '';
  try {
    if (touched.length > 0) {
      await desire(o, touched, o.fromVersion);
      back = `; IEDs ${touched.join(',')} desired back on ${o.fromVersion}`;
    }
  } catch (again) {
    back = `; could not desire ${o.fromVersion} again: ${(again as Error).message}`;
  }
  return reason + back;
}
