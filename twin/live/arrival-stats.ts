/**
 * The drift tests on what the IEDs announce, against the trained scenario (shared by TwinMirror).
 *
 * | quantity                  | estimate over the window             | z statistic                        |
 * |---------------------------|--------------------------------------|------------------------------------|
 * | fleet arrival probability | p̂ = arrivals / (I · slots)           | (p̂ − p) / √(p(1 − p)/(I · slots))  |
 * | per-IED arrival prob.     | p̂_i = arrivals_i / slots             | (p̂_i − p) / √(p(1 − p)/slots)      |
 * | mean size / density /     | mean of the k announced values       | (mean − μ) / (σ/√k), μ and σ of the |
 * | deadline                  |                                      | scenario's uniform range            |
 *
 * Fleet and task statistics alarm at |z| > 4 (a false alarm about once in 16,000 windows each); the
 * per-IED ones at |z| > 5 because there are I of them (50 × 5.7e-7: about once in 35,000 windows), and
 * only while at most half of the IEDs are off (when most are, the fleet's alarm already says it).
 */
import type { Scenario } from '../../core/scenario/schema.ts';

export interface Arrival {
  readonly slot: number;
  readonly ied: number;
  readonly sizeMbit: number;
  readonly density: number;
  readonly deadlineSeconds: number;
}

export interface Estimate {
  readonly estimate: number;
  readonly scenario: number;
  readonly z: number;
}

export const PER_IED_Z = 5;

export function bernoulliZ(count: number, trials: number, p: number): Estimate {
  const estimate = trials > 0 ? count / trials : p;
  const z = trials > 0 && p > 0 && p < 1 ? (estimate - p) / Math.sqrt((p * (1 - p)) / trials) : 0;
  return { estimate, scenario: p, z };
}

export function uniformMeanZ(values: readonly number[], range: { readonly min: number; readonly max: number }): Estimate {
  const mu = (range.min + range.max) / 2;
  const sigma = (range.max - range.min) / Math.sqrt(12);
  const estimate = values.length ? values.reduce((a, v) => a + v, 0) / values.length : mu;
  const z = values.length && sigma > 0 ? (estimate - mu) / (sigma / Math.sqrt(values.length)) : 0;
  return { estimate, scenario: mu, z };
}

export interface ArrivalStats {
  readonly arrivalProbability: Estimate;
  readonly perIedArrivalProbability: Readonly<Record<string, Estimate>>;
  readonly meanSizeMbit: Estimate;
  readonly meanDensity: Estimate;
  readonly meanDeadlineSeconds: Estimate;
}

export function arrivalStats(recent: readonly Arrival[], slots: number, s: Scenario): ArrivalStats {
  const p = s.arrivals.probability;
  const perIed = new Array<number>(s.ieds).fill(0);
  for (const a of recent) if (a.ied < s.ieds) perIed[a.ied] = (perIed[a.ied] as number) + 1;
  return {
    arrivalProbability: bernoulliZ(recent.length, s.ieds * slots, p),
    perIedArrivalProbability: Object.fromEntries(perIed.map((c, i) => [String(i), bernoulliZ(c, slots, p)])),
    meanSizeMbit: uniformMeanZ(recent.map((a) => a.sizeMbit), s.task.sizeMbit),
    meanDensity: uniformMeanZ(recent.map((a) => a.density), s.task.densityGcyclesPerMbit),
    meanDeadlineSeconds: uniformMeanZ(recent.map((a) => a.deadlineSeconds), s.task.deadlineSeconds),
  };
}
