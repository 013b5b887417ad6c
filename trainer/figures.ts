/**
 * Figures as SVG (Vega-Lite → Vega) and PNG (resvg), and their data as CSV.
 * One chart shape serves every figure: a value per (x, series) with an optional 95% CI band.
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
}

export async function renderChart(chart: ChartSpec): Promise<{ svg: string; png: Buffer }> {
  const dashed = new Set(chart.dashed ?? []);
  const values = chart.points.map((p) => ({ ...p, kind: dashed.has(p.series) ? 'heuristic' : 'learned' }));
  const hasCi = chart.points.some((p) => p.lo !== undefined);
  const x = { field: 'x', type: 'quantitative', title: chart.xTitle, scale: { zero: false } };
  const color = { field: 'series', type: 'nominal', title: 'policy' };
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: chart.title,
    width: 520,
    height: 300,
    background: 'white',
    data: { values },
    layer: [
      ...(hasCi ? [{ mark: { type: 'errorbar', ticks: true }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: chart.yTitle }, y2: { field: 'hi' }, color } }] : []),
      {
        mark: { type: 'line', point: values.length < 400 },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative', title: chart.yTitle, scale: { zero: false } },
          color,
          strokeDash: { field: 'kind', type: 'nominal', title: 'kind', scale: { domain: ['learned', 'heuristic'], range: [[1, 0], [5, 3]] } },
        },
      },
    ],
  };
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
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
