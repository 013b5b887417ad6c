/**
 * Statistics of the evaluation protocol (issue #11): several training runs per policy, every run on
 * the same test seeds, intervals that cover training variance as well as the episodes.
 *
 * | item                  | rule                                                                        |
 * |-----------------------|-----------------------------------------------------------------------------|
 * | score matrix          | scores[r][k]: run r (one training seed) on test seed k; a heuristic has one |
 * |                       | row (nothing to train)                                                      |
 * | mean                  | mean of every entry (runs × test seeds)                                     |
 * | IQM                   | interquartile mean of every entry: the 25 % trimmed mean (rliable, Agarwal  |
 * |                       | et al. 2021; scipy's trim_mean(x, 0.25): ⌊n/4⌋ cut from each end)           |
 * | probability of        | P(X > Y): per test seed, the share of run pairs (x run, y run) where x      |
 * | improvement           | scores higher, ties count ½ (Mann–Whitney U / mn); averaged over test seeds |
 * |                       | (rliable's per-task average, the test seeds as its tasks)                   |
 * | bootstrap             | two-level cluster bootstrap, paired: each replicate redraws the test seeds  |
 * |                       | (columns) with replacement, the same draw for every policy compared (they   |
 * |                       | saw the same seeds), and each policy's runs (whole rows: one trained run    |
 * |                       | is one draw on every seed) with replacement. 95 % percentile interval of    |
 * |                       | 2,000 replicates by default; draws from a seeded Rng passed in. With few    |
 * |                       | runs (3) a percentile bootstrap of runs covers less than 95 %               |
 *
 * rliable (Agarwal et al. 2021) reports IQM and probability of improvement with a stratified
 * bootstrap over runs within tasks, its runs on different tasks being separate trainings; here one run
 * is scored on every test seed, hence rows drawn whole.
 *
 * Written here rather than taken from a package: rliable is Python; the npm package looked at
 * (compute-bootstrap, unmaintained since 2015) resamples one flat sample and reports a standard error
 * and bias, with no pairing between policies and no strata.
 */
import { Rng } from '../core/rng.ts';
import { InputError } from '../core/errors.ts';

export type ScoreMatrix = readonly (readonly number[])[];

export interface Interval {
  /** the statistic on the data as measured */
  readonly point: number;
  /** 2.5 % and 97.5 % percentiles of the bootstrap replicates */
  readonly lo: number;
  readonly hi: number;
}

export const BOOTSTRAP_REPLICATES = 2000;

function entries(m: ScoreMatrix): number[] {
  return m.flatMap((row) => [...row]);
}

export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length ? s / values.length : Number.NaN;
}

/** 25 % trimmed mean: sort, cut ⌊n/4⌋ values from each end, average the rest */
export function interquartileMean(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const cut = Math.floor(sorted.length / 4);
  return mean(sorted.slice(cut, sorted.length - cut));
}

/** P(X > Y) over the test seeds: per seed, the share of (x run, y run) pairs won by x, ties ½ */
export function probabilityOfImprovement(x: ScoreMatrix, y: ScoreMatrix): number {
  const seeds = x[0]?.length ?? 0;
  let sum = 0;
  for (let k = 0; k < seeds; k++) {
    let wins = 0;
    for (const xr of x) for (const yr of y) {
      const a = xr[k] as number;
      const b = yr[k] as number;
      wins += a > b ? 1 : a === b ? 0.5 : 0;
    }
    sum += wins / (x.length * y.length);
  }
  return sum / seeds;
}

function check(groups: readonly ScoreMatrix[]): number {
  const seeds = groups[0]?.[0]?.length ?? 0;
  if (seeds === 0) throw new InputError('a score matrix needs at least one run and one test seed');
  for (const g of groups) {
    if (g.length === 0) throw new InputError('a score matrix needs at least one run');
    if (g.some((row) => row.length !== seeds)) throw new InputError(`every run of every policy compared must be scored on the same ${seeds} test seeds`);
  }
  return seeds;
}

/**
 * One bootstrap replicate of every group: one test-seed draw shared by all groups (pairing), and per
 * group one draw of whole runs (a run's effect is shared by every seed it was scored on; redrawing
 * runs per seed would shrink the training variance by the number of seeds).
 */
function resample(groups: readonly ScoreMatrix[], seeds: number, rng: Rng): number[][][] {
  const drawnSeeds = Array.from({ length: seeds }, () => rng.int(seeds));
  return groups.map((g) => g.map(() => {
    const run = g[rng.int(g.length)] as readonly number[];
    return drawnSeeds.map((k) => run[k] as number);
  }));
}

function percentile(sorted: readonly number[], q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

/**
 * Percentile intervals of several statistics of the same groups, from one set of replicates
 * (statistics(groups) returns one number per statistic).
 */
export function bootstrap(groups: readonly ScoreMatrix[], statistics: (groups: ScoreMatrix[]) => number[], rng: Rng, replicates = BOOTSTRAP_REPLICATES): Interval[] {
  const seeds = check(groups);
  const points = statistics([...groups]);
  const samples = points.map(() => new Array<number>(replicates));
  for (let b = 0; b < replicates; b++) statistics(resample(groups, seeds, rng)).forEach((v, s) => ((samples[s] as number[])[b] = v));
  return points.map((point, s) => {
    const sorted = (samples[s] as number[]).sort((a, b) => a - b);
    return { point, lo: percentile(sorted, 0.025), hi: percentile(sorted, 0.975) };
  });
}

export interface PolicyStats {
  readonly runs: number;
  readonly seeds: number;
  readonly mean: Interval;
  readonly iqm: Interval;
}

export function policyStats(scores: ScoreMatrix, rng: Rng, replicates = BOOTSTRAP_REPLICATES): PolicyStats {
  const [m, iqm] = bootstrap([scores], ([g]) => [mean(entries(g as ScoreMatrix)), interquartileMean(entries(g as ScoreMatrix))], rng, replicates) as [Interval, Interval];
  return { runs: scores.length, seeds: scores[0]?.length ?? 0, mean: m, iqm };
}

export interface PairStats {
  /** mean(a) − mean(b), paired on the test seeds */
  readonly difference: Interval;
  /** P(a > b) */
  readonly probabilityOfImprovement: Interval;
}

export function pairStats(a: ScoreMatrix, b: ScoreMatrix, rng: Rng, replicates = BOOTSTRAP_REPLICATES): PairStats {
  const [difference, probability] = bootstrap([a, b], ([x, y]) => [mean(entries(x as ScoreMatrix)) - mean(entries(y as ScoreMatrix)), probabilityOfImprovement(x as ScoreMatrix, y as ScoreMatrix)], rng, replicates) as [Interval, Interval];
  return { difference, probabilityOfImprovement: probability };
}
