// Figures fit for a paper (issue #13): CI bars clipped to the valid range, one colour per policy
// whatever the order, a PNG at twice the SVG's size, a legend whose line styles read.
import t from 'tap';
import { chartValues, colorOf, renderChart, POLICY_COLORS, type ChartSpec } from '../../trainer/figures.ts';

const chart: ChartSpec = {
  title: 'test', xTitle: 'p', yTitle: 'task completion rate', yRange: [0, 1], dashed: ['greedy'],
  points: [
    { series: 'amarl', x: 0.1, y: 0.98, lo: 0.9, hi: 1.06 },
    { series: 'greedy', x: 0.1, y: 0.05, lo: -0.2, hi: 0.3 },
  ],
};

t.test('CI bounds are clipped to the valid range', async (t) => {
  const v = chartValues(chart);
  t.same(v.map((p) => [p.lo, p.hi]), [[0.9, 1], [0, 0.3]]);
  t.same(v.map((p) => p.kind), ['learned', 'heuristic']);
  const latency = chartValues({ ...chart, yRange: [0, Number.POSITIVE_INFINITY] });
  t.same(latency.map((p) => [p.lo, p.hi]), [[0.9, 1.06], [0, 0.3]], 'a latency is only kept ≥ 0');
});

t.test('a policy keeps its colour whatever the figure holds', async (t) => {
  t.equal(colorOf('amarl'), POLICY_COLORS.amarl);
  t.equal(colorOf('amarl-gru'), POLICY_COLORS.amarl, 'a variant keeps its algorithm\'s colour');
  t.equal(colorOf('my-policy'), colorOf('my-policy'), 'an unknown one gets a colour from its name');
  const a = await renderChart(chart);
  const b = await renderChart({ ...chart, points: [...chart.points].reverse() });
  const fills = (svg: string) => [...new Set(svg.match(/#d62728/g) ?? [])];
  t.same(fills(a.svg), ['#d62728'], 'AMARL drawn in its colour');
  t.same(fills(b.svg), ['#d62728'], 'in either order');
});

t.test('PNG at twice the SVG size; the y axis spans the rate\'s range', async (t) => {
  const { svg, png } = await renderChart(chart);
  const width = Number(/<svg[^>]*width="(\d+)"/.exec(svg)?.[1]);
  t.equal(png.readUInt32BE(16), 2 * width, `PNG ${png.readUInt32BE(16)} px wide for an SVG of ${width}`);
  t.notMatch(svg, />1\.2</, 'no axis tick beyond 1');
  t.notMatch(svg, />−0\.2</, 'no axis tick below 0');
});
