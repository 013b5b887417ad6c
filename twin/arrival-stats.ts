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
 * Fleet and task statistics alarm at |z| > 4 (a false alarm about once in 16,000 windows each, under
 * the normal approximation) and trigger retraining; the recalibrated scenario carries the fleet's p̂
 * and, for a drifted task statistic, the range announced in the window. Per-IED rates are advisories
 * (shown, never a retraining trigger: the scenario has one p, so retraining could not follow them) at
 * |z| > 5, while at most half of the IEDs are off. At small p·slots the binomial tail is heavier than
 * the normal one (p = 0.1 over 300 slots: about 4e-6 per IED), so expect an advisory now and then.
 */
import type { Scenario } from '../core/scenario/schema.ts';

export interface Arrival {
  readonly slot: number;
  readonly ied: number;
  readonly sizeMbit: number;
  readonly density: number;
  readonly deadlineSeconds: number;
}

/** a measured statistic against the scenario's value, and its z-score (the drift test) */
export interface DriftTest {
  readonly estimate: number;
  readonly scenario: number;
  readonly z: number;
}

export const PER_IED_Z = 5;

export function bernoulliZ(count: number, trials: number, p: number): DriftTest {
  const estimate = trials > 0 ? count / trials : p;
  const z = trials > 0 && p > 0 && p < 1 ? (estimate - p) / Math.sqrt((p * (1 - p)) / trials) : 0;
  return { estimate, scenario: p, z };
}

export function uniformMeanZ(values: readonly number[], range: { readonly min: number; readonly max: number }): DriftTest {
  const mu = (range.min + range.max) / 2;
  const sigma = (range.max - range.min) / Math.sqrt(12);
  const estimate = values.length ? values.reduce((a, v) => a + v, 0) / values.length : mu;
  const z = values.length && sigma > 0 ? (estimate - mu) / (sigma / Math.sqrt(values.length)) : 0;
  return { estimate, scenario: mu, z };
}

/** The smallest and largest value announced in the window (what a recalibrated uniform range takes). */
export interface ObservedRange {
  readonly min: number;
  readonly max: number;
}

export interface ArrivalStats {
  readonly arrivalProbability: DriftTest;
  readonly perIedArrivalProbability: Readonly<Record<string, DriftTest>>;
  readonly meanSizeMbit: DriftTest;
  readonly meanDensity: DriftTest;
  readonly meanDeadlineSeconds: DriftTest;
  readonly observed: { readonly sizeMbit?: ObservedRange; readonly densityGcyclesPerMbit?: ObservedRange; readonly deadlineSeconds?: ObservedRange };
}

function range(values: readonly number[]): ObservedRange | undefined {
  if (values.length === 0) return undefined;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

export function arrivalStats(recent: readonly Arrival[], slots: number, s: Scenario): ArrivalStats {
  const p = s.arrivals.probability;
  const perIed = new Array<number>(s.ieds).fill(0);
  for (const a of recent) if (a.ied < s.ieds) perIed[a.ied] = (perIed[a.ied] as number) + 1;
  const size = recent.map((a) => a.sizeMbit);
  const density = recent.map((a) => a.density);
  const deadline = recent.map((a) => a.deadlineSeconds);
  const observed = { sizeMbit: range(size), densityGcyclesPerMbit: range(density), deadlineSeconds: range(deadline) };
  return {
    arrivalProbability: bernoulliZ(recent.length, s.ieds * slots, p),
    perIedArrivalProbability: Object.fromEntries(perIed.map((c, i) => [String(i), bernoulliZ(c, slots, p)])),
    meanSizeMbit: uniformMeanZ(size, s.task.sizeMbit),
    meanDensity: uniformMeanZ(density, s.task.densityGcyclesPerMbit),
    meanDeadlineSeconds: uniformMeanZ(deadline, s.task.deadlineSeconds),
    observed: Object.fromEntries(Object.entries(observed).filter(([, r]) => r)) as ArrivalStats['observed'],
  };
}
