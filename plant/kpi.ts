/**
 * Live KPIs from the task, decision and result streams. Counts each task id once (QoS 1 may
 * redeliver). Memory stays bounded on long runs: quantiles come from the last LATENCY_WINDOW
 * completions, the mean from running sums.
 *
 * | KPI                  | counts                                                                 |
 * |----------------------|------------------------------------------------------------------------|
 * | completionRate       | completed / announced: a task that never reached an outcome counts     |
 * |                      | against it (unresolved shows how many are still open)                  |
 * | completionOfResolved | completed / (completed + dropped)                                      |
 * | decisionsPerSecond   | decisions over the time from the first to the latest decision          |
 * | decisionsLastSecond  | decisions in the last second (the live gauge)                          |
 */
import type { MqttClient } from 'mqtt';
import { subscriptions } from '../protocol/topics.ts';
import { listen, type Accepted } from '../protocol/inbox.ts';
import { RecentIds } from '../protocol/recent-ids.ts';
import { emptyDropCounts, type DropCounts } from '../core/stages.ts';

export interface KpiSnapshot {
  /** tasks announced on gmel/v1/ied/+/task */
  readonly announced: number;
  readonly completed: number;
  readonly dropped: DropCounts;
  /** announced tasks with no outcome yet (in flight, or lost) */
  readonly unresolved: number;
  /** completed / announced */
  readonly completionRate: number;
  /** completed / (completed + dropped) */
  readonly completionOfResolved: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
  readonly meanLatency: number;
  readonly decisions: number;
  /** decisions over the run: from the first to the latest decision */
  readonly decisionsPerSecond: number;
  /** decisions in the last second */
  readonly decisionsLastSecond: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const LATENCY_WINDOW = 50_000;

export class KpiMonitor {
  private readonly window = new Float64Array(LATENCY_WINDOW);
  private windowed = 0;
  private completed = 0;
  private latencySum = 0;
  private readonly dropped = emptyDropCounts();
  private readonly outcomes = new RecentIds(500_000);
  /** decisions by task id: a QoS 1 redelivery is not a second decision */
  private readonly decided = new RecentIds(500_000);
  private decisions = 0;
  private readonly announcedIds = new RecentIds(500_000);
  private announced = 0;
  private firstDecisionAt: number | undefined;
  private lastDecisionAt = 0;
  private readonly decisionTimes: number[] = [];

  private constructor(private readonly now: () => number) {}

  static async create(mqtt: MqttClient, now: () => number = Date.now): Promise<KpiMonitor> {
    const k = new KpiMonitor(now);
    await listen({ mqtt, subscriptions: [subscriptions.allTasks, subscriptions.allResults, subscriptions.allDecisions], dispatch: (d) => k.accept(d) });
    return k;
  }

  private accept(d: Accepted): void {
    if (d.kind === 'task') {
      if (this.announcedIds.add(d.message.taskId)) this.announced++;
    } else if (d.kind === 'decision') {
      if (!this.decided.add(d.message.taskId)) return; // a QoS 1 redelivery
      this.decisions++;
      const now = this.now();
      this.firstDecisionAt ??= now;
      this.lastDecisionAt = now;
      this.decisionTimes.push(now);
      // only the last second matters for decisions/s
      if (this.decisionTimes.length > 20_000) this.decisionTimes.splice(0, 10_000);
    } else if (d.kind === 'result') {
      const r = d.message;
      if (!this.outcomes.add(r.taskId)) return;
      if (r.outcome === 'completed') {
        this.window[this.windowed++ % LATENCY_WINDOW] = r.latencySeconds;
        this.completed++;
        this.latencySum += r.latencySeconds;
      } else {
        this.dropped[r.stage]++;
        this.dropped.total++;
      }
    }
  }

  snapshot(): KpiSnapshot {
    const sorted = Array.from(this.window.subarray(0, Math.min(this.windowed, LATENCY_WINDOW))).sort((a, b) => a - b);
    const completed = this.completed;
    const resolved = completed + this.dropped.total;
    const since = this.now() - 1000;
    const span = this.firstDecisionAt === undefined ? 0 : (this.lastDecisionAt - this.firstDecisionAt) / 1000;
    return {
      announced: this.announced,
      completed,
      dropped: { ...this.dropped },
      unresolved: Math.max(0, this.announced - resolved),
      completionRate: this.announced > 0 ? completed / this.announced : 0,
      completionOfResolved: resolved > 0 ? completed / resolved : 0,
      latencyP50: quantile(sorted, 0.5),
      latencyP99: quantile(sorted, 0.99),
      meanLatency: completed > 0 ? this.latencySum / completed : 0,
      decisions: this.decisions,
      // N decisions span N − 1 intervals between the first and the latest
      decisionsPerSecond: span > 0 ? (this.decisions - 1) / span : 0,
      decisionsLastSecond: this.decisionTimes.filter((t) => t > since).length,
    };
  }
}
