/**
 * Figures as SVG (Vega-Lite → Vega) and PNG (resvg, at twice the SVG's size), and their data as CSV.
 * One chart shape serves every figure: a value per (x, series) with an optional 95% CI band.
 *
 * | rule     | why                                                                                  |
 * |----------|--------------------------------------------------------------------------------------|
 * | colours  | fixed per policy (POLICY_COLORS), so AMARL is the same colour in every figure and run |
 * | CI bars  | clipped to the quantity's valid range (a rate in [0, 1], a latency ≥ 0); the CSV keeps |
 * |          | the unclipped bounds                                                                  |
 * | legend   | one for the policies; line style (learned solid, heuristic dashed) as drawn strokes   |
 */
import { writeFileSync } from 'node:fs';
import * as vl from 'vega-lite';
import * as vega from 'vega';
import { Resvg } from '@resvg/resvg-js';

export interface Point {
  readonly series: string;
  readonly x: number;
  readonly y: number;
  /** 95% CI bounds (omit for none) */
  readonly lo?: number;
  readonly hi?: number;
}

export interface ChartSpec {
  readonly title: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly points: readonly Point[];
  /** series drawn dashed (e.g. heuristics, as opposed to learned policies) */
  readonly dashed?: readonly string[];
  /** the valid range of y (CI bars are clipped to it), e.g. [0, 1] for a rate */
  readonly yRange?: readonly [number, number];
}

/** One colour per policy, whatever the order or the set of policies in a figure. */
export const POLICY_COLORS: Readonly<Record<string, string>> = {
  amarl: '#d62728', maddpg: '#1f77b4', ac: '#2ca02c', dqn: '#9467bd',
  local: '#7f7f7f', random: '#bcbd22', 'best-channel': '#17becf', 'round-robin': '#8c564b', greedy: '#e377c2', 'central-greedy': '#ff7f0e',
};
const SPARE_COLORS = ['#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd', '#e6550d', '#31a354'];

/** A policy's colour: its own, or a spare one chosen by its name (stable across runs). */
export function colorOf(series: string): string {
  const own = POLICY_COLORS[series] ?? POLICY_COLORS[series.split(/[-_ ]/)[0] ?? ''];
  if (own) return own;
  let h = 0;
  for (const ch of series) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return SPARE_COLORS[h % SPARE_COLORS.length] as string;
}

/** The plotted rows: CI bounds clipped to the valid range, each series tagged learned or heuristic. */
export function chartValues(chart: ChartSpec) {
  const dashed = new Set(chart.dashed ?? []);
  const [min, max] = chart.yRange ?? [-Infinity, Infinity];
  const clip = (v: number | undefined) => (v === undefined ? undefined : Math.min(max, Math.max(min, v)));
  return chart.points.map((p) => ({ ...p, lo: clip(p.lo), hi: clip(p.hi), kind: dashed.has(p.series) ? 'heuristic' : 'learned' }));
}

export async function renderChart(chart: ChartSpec): Promise<{ svg: string; png: Buffer }> {
  const values = chartValues(chart);
  const hasCi = chart.points.some((p) => p.lo !== undefined);
  const x = { field: 'x', type: 'quantitative', title: chart.xTitle, scale: { zero: false } };
  const seriesNames = [...new Set(chart.points.map((p) => p.series))];
  const color = { field: 'series', type: 'nominal', title: 'policy', scale: { domain: seriesNames, range: seriesNames.map(colorOf) } };
  // a bounded quantity (a rate) gets its whole range as the axis; an open-ended one (a latency) its data's
  const yScale = chart.yRange && Number.isFinite(chart.yRange[1]) ? { zero: false, domain: [...chart.yRange], nice: false } : { zero: false };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: 520,
    height: 300,
    background: 'white',
    data: { values },
    layer: [
      ...(hasCi ? [{ mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: chart.yTitle, scale: yScale }, y2: { field: 'hi' }, color } }] : []),
      {
        mark: { type: 'line', point: values.length < 400 },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative', title: chart.yTitle, scale: yScale },
          color,
          strokeDash: { field: 'kind', type: 'nominal', title: 'line', scale: { domain: ['learned', 'heuristic'], range: [[1, 0], [5, 3]] }, legend: { symbolType: 'stroke', symbolSize: 400, encode: { symbols: { update: { stroke: { value: '#333' }, strokeWidth: { value: 2 } } } } } },
        },
      },
    ],
  };
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  // twice the SVG's size: sharp in a paper or on a high-density screen
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  return { svg, png: Buffer.from(png) };
}

export function toCsv(points: readonly Point[], xName: string, yName: string): string {
  const rows = points.map((p) => [csvField(p.series), p.x, p.y, p.lo ?? '', p.hi ?? ''].join(','));
  return [`policy,${xName},${yName},ci95_low,ci95_high`, ...rows].join('\n') + '\n';
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function writeFigure(basePath: string, chart: ChartSpec, xName: string, yName: string): Promise<void> {
  const { svg, png } = await renderChart(chart);
  writeFileSync(`${basePath}.svg`, svg);
  writeFileSync(`${basePath}.png`, png);
  writeFileSync(`${basePath}.csv`, toCsv(chart.points, xName, yName));
}
