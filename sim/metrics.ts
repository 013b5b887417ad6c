/**
 * Outcome accounting, per IED, filled as tasks resolve (each task exactly once).
 *
 * | metric                         | definition                                                      |
 * |--------------------------------|-----------------------------------------------------------------|
 * | completionRate                 | completed / arrived                                             |
 * | meanLatency (s)                | mean latency of completed tasks                                 |
 * | meanLatencyDropsAtDeadline (s) | mean over all tasks, a dropped task counted at its deadline d   |
 * | dropped.{pending,local,...}    | drops by the stage the task was in when its deadline passed     |
 * | offeredGcycles / servedGcycles | Σ s·e of arrived tasks / of completed tasks                     |
 */
import { STAGE_NAMES, type StageName, type DropCounts } from '../core/stages.ts';

export type { DropCounts };

export interface MetricsSummary {
  arrived: number;
  completed: number;
  dropped: DropCounts;
  completionRate: number;
  meanLatency: number;
  meanLatencyDropsAtDeadline: number;
  offeredGcycles: number;
  servedGcycles: number;
  /** completed tasks that ran locally / were offloaded */
  completedLocal: number;
  completedEdge: number;
}

export class Metrics {
  readonly arrived: Float64Array;
  readonly completed: Float64Array;
  readonly completedLocal: Float64Array;
  /** drops[stage * I + i] */
  readonly drops: Float64Array;
  readonly latencySum: Float64Array;
  readonly latencyDropsAtDeadlineSum: Float64Array;
  readonly offeredGcycles: Float64Array;
  readonly servedGcycles: Float64Array;

  constructor(readonly ieds: number) {
    this.arrived = new Float64Array(ieds);
    this.completed = new Float64Array(ieds);
    this.completedLocal = new Float64Array(ieds);
    this.drops = new Float64Array(ieds * STAGE_NAMES.length);
    this.latencySum = new Float64Array(ieds);
    this.latencyDropsAtDeadlineSum = new Float64Array(ieds);
    this.offeredGcycles = new Float64Array(ieds);
    this.servedGcycles = new Float64Array(ieds);
  }

  clear(): void {
    for (const a of [
      this.arrived, this.completed, this.completedLocal, this.drops, this.latencySum,
      this.latencyDropsAtDeadlineSum, this.offeredGcycles, this.servedGcycles,
    ]) a.fill(0);
  }

  /** Add another run's counts (e.g. to aggregate episodes). */
  add(other: Metrics): void {
    const pairs: [Float64Array, Float64Array][] = [
      [this.arrived, other.arrived], [this.completed, other.completed],
      [this.completedLocal, other.completedLocal], [this.drops, other.drops],
      [this.latencySum, other.latencySum], [this.latencyDropsAtDeadlineSum, other.latencyDropsAtDeadlineSum],
      [this.offeredGcycles, other.offeredGcycles], [this.servedGcycles, other.servedGcycles],
    ];
    for (const [mine, theirs] of pairs) for (let k = 0; k < mine.length; k++) mine[k] = (mine[k] as number) + (theirs[k] as number);
  }

  /** Totals over the given IEDs (default: all). */
  summary(iedIds?: readonly number[]): MetricsSummary {
    const ids = iedIds ?? Array.from({ length: this.ieds }, (_, i) => i);
    const sum = (a: Float64Array, base = 0) => ids.reduce((acc, i) => acc + (a[base + i] as number), 0);
    const dropped = Object.fromEntries(
      STAGE_NAMES.map((name, stage) => [name, sum(this.drops, stage * this.ieds)]),
    ) as Record<StageName, number>;
    const total = dropped.pending + dropped.local + dropped.uplink + dropped.edge;
    const arrived = sum(this.arrived);
    const completed = sum(this.completed);
    const completedLocal = sum(this.completedLocal);
    return {
      arrived,
      completed,
      dropped: { ...dropped, total },
      completionRate: arrived > 0 ? completed / arrived : 0,
      meanLatency: completed > 0 ? sum(this.latencySum) / completed : 0,
      meanLatencyDropsAtDeadline: arrived > 0 ? sum(this.latencyDropsAtDeadlineSum) / arrived : 0,
      offeredGcycles: sum(this.offeredGcycles),
      servedGcycles: sum(this.servedGcycles),
      completedLocal,
      completedEdge: completed - completedLocal,
    };
  }
}
