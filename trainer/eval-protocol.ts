/**
 * The comparisons `gmel eval` reports at the paper's headline points (issue #11, item 4): each policy's
 * mean and interquartile mean over training seeds × test seeds, and AMARL against each other policy
 * paired on the test seeds, with the probability of improvement (protocol-stats.ts has the rules).
 *
 * | point    | scenario                         | the paper's claim                              |
 * |----------|----------------------------------|------------------------------------------------|
 * | default  | the evaluated scenario as given  | (AMARL above the full-information central greedy: ours) |
 * | p = 0.7  | arrivals.probability = 0.7       | AMARL − MADDPG = +6.93 pp (Fig. 4)             |
 * | d = 1.0  | maximum deadline 1.0 s           | AMARL − every baseline ≥ +4.64 pp (Fig. 5)     |
 */
import { deriveSeed, Rng } from '../core/rng.ts';
import type { EvaluationResult } from './evaluate.ts';
import { pairStats, policyStats, type PairStats, type PolicyStats, type ScoreMatrix } from './protocol-stats.ts';

/** the bootstrap's seed stream: point k draws from deriveSeed(PROTOCOL_STREAM, k) */
export const PROTOCOL_STREAM = 0x9a1eed5;

export interface ProtocolPolicy extends PolicyStats {
  readonly policy: string;
}

export interface ProtocolPair extends PairStats {
  readonly a: string;
  readonly b: string;
}

export interface ProtocolPoint {
  readonly point: string;
  readonly policies: readonly ProtocolPolicy[];
  readonly pairs: readonly ProtocolPair[];
  /** completion rate, one row per training run, one column per test seed */
  readonly scores: Readonly<Record<string, ScoreMatrix>>;
}

/**
 * At one point: every learned policy and the two reference heuristics (central-greedy, which sees the
 * whole plant, and the best heuristic there), and the first learned policy (AMARL when it is
 * evaluated) against each of the others.
 */
export function protocolAt(point: string, index: number, results: readonly EvaluationResult[], learned: readonly string[]): ProtocolPoint {
  const heuristics = results.filter((r) => !learned.includes(r.policy));
  const best = heuristics.reduce<EvaluationResult | undefined>((a, r) => (a === undefined || r.completion.mean > a.completion.mean ? r : a), undefined);
  const names = [...learned, ...new Set(['central-greedy', ...(best ? [best.policy] : [])])].filter((n) => results.some((r) => r.policy === n));
  const byName = new Map(results.map((r) => [r.policy, r]));
  const scores: Record<string, ScoreMatrix> = {};
  for (const n of names) scores[n] = (byName.get(n) as EvaluationResult).scores.completion;
  const rng = new Rng(deriveSeed(PROTOCOL_STREAM, index));
  const policies = names.map((policy) => ({ policy, ...policyStats(scores[policy] as ScoreMatrix, rng) }));
  const lead = learned.includes('amarl') ? 'amarl' : learned[0];
  const pairs = lead === undefined ? [] : names.filter((n) => n !== lead).map((b) => ({ a: lead, b, ...pairStats(scores[lead] as ScoreMatrix, scores[b] as ScoreMatrix, rng) }));
  return { point, policies, pairs, scores };
}

const pp = (x: number) => (100 * x).toFixed(2);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${pp(x)}`;

/** summary.md's protocol section */
export function protocolMarkdown(points: readonly ProtocolPoint[]): string {
  if (points.length === 0) return '';
  const policyRows = points.flatMap((p) => p.policies.map((s) => `| ${p.point} | ${s.policy} | ${s.runs} × ${s.seeds} | ${pp(s.mean.point)} [${pp(s.mean.lo)}, ${pp(s.mean.hi)}] | ${pp(s.iqm.point)} [${pp(s.iqm.lo)}, ${pp(s.iqm.hi)}] |`));
  const pairRows = points.flatMap((p) => p.pairs.map((s) => {
    const excludes = s.difference.lo > 0 ? 'above 0' : s.difference.hi < 0 ? 'below 0' : 'includes 0';
    return `| ${p.point} | ${s.a} − ${s.b} | ${signed(s.difference.point)} [${signed(s.difference.lo)}, ${signed(s.difference.hi)}] (${excludes}) | ${s.probabilityOfImprovement.point.toFixed(2)} [${s.probabilityOfImprovement.lo.toFixed(2)}, ${s.probabilityOfImprovement.hi.toFixed(2)}] |`;
  }));
  return `## Training seeds × test seeds (the protocol)

Completion rate in %, point estimate [95% interval]. Intervals: the paired cluster bootstrap of
trainer/protocol-stats.ts (test seeds redrawn, the same draw for every policy; each policy's training
runs redrawn whole); 2,000 replicates. With 3 runs per policy such intervals cover less than 95%.
IQM: interquartile mean (25% trimmed) of runs × test seeds.

| point | policy | runs × test seeds | mean | IQM |
|---|---|---|---|---|
${policyRows.join('\n')}

| point | difference | mean difference, pp | P(first > second) |
|---|---|---|---|
${pairRows.join('\n')}

`;
}
