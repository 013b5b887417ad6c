// The dashboard in headless Chromium (Debian's chromium, driven by playwright-core): live KPIs, the
// twin's verdict, desired vs reported model versions, and the plots, on a running plant.
import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import mqtt from 'mqtt';
import pino from 'pino';
import { chromium } from 'playwright-core';
import { loadScenario } from '../../core/scenario/load.ts';
import { encode } from '../../protocol/codec.ts';
import { topics } from '../../protocol/topics.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { registerDashboard } from '../../plant/dashboard.ts';
import { startAedes } from '../helpers/brokers.ts';

const CHROMIUM = '/usr/bin/chromium';

t.test('the dashboard shows the live plant', { skip: existsSync(CHROMIUM) ? false : 'chromium is not installed (.ci/run installs it)', timeout: 90_000 }, async (t) => {
  const broker = await startAedes();
  const plant = await startPlant({ scenario: loadScenario('gmel2024', { ieds: 6 }), modelPath: 'models/gmel2024-amarl', brokerUrl: broker.url, logger: pino({ level: 'silent' }) });
  const operator = await mqtt.connectAsync(broker.url, { clientId: 'dash-operator' });
  await operator.publishAsync(topics.desiredModel(2), encode('desiredModel', { v: 1, iedId: 2, modelSet: 'plant', version: 'v9', registry: 'http://registry', at: Date.now() }), { qos: 1, retain: true });
  await operator.publishAsync(topics.reportedModel(2), encode('reportedModel', { v: 1, iedId: 2, version: 'v8', state: 'running', at: Date.now() }), { qos: 1, retain: true });
  const app = Fastify();
  const cycle = {
    candidateRun: 'runs/twin/candidate-1', incumbent: 0.52, candidate: 0.843, promoted: true, exported: { dir: 'x', version: 'amarl-e40-abc' }, seconds: 3,
    reason: 'drift: edge server 1 GPU 0.50 GHz vs 15', at: '2026-11-29T06:00:00.000Z',
    rollout: { outcome: 'promoted' as const, canaries: [0], canaryCompletion: 1, reference: 'twin prediction' as const, referenceCompletion: 0.838, canaryTasks: 14, canaryDecisions: 14, decisionErrors: 0, reason: 'canary 100.0% vs twin prediction 83.8%', timeline: [] },
  };
  const dashboard = registerDashboard(app, { kpi: plant.kpi, mirror: plant.mirror, lastCycle: () => cycle });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(url);
    await new Promise((r) => setTimeout(r, 3500)); // a few refreshes, so the plots have points
    await page.waitForFunction("document.getElementById('completion')?.textContent?.includes('%')");
    const completion = await page.textContent('#completion');
    t.match(completion ?? '', /^\d+\.\d %$/, `completion shown: ${completion}`);
    t.match((await page.textContent('#twin')) ?? '', /(no drift|DRIFT).*uplinks at (\d+% of the scenario's rate|–)/, 'the twin verdict is shown, with the uplink statistic');
    const row = page.locator('#models tr', { hasText: 'ied-2' });
    t.match((await row.textContent()) ?? '', /ied-2yesallv9v8[\d.]+ s ago\d+/, `IED 2 online through its gateway, desired v9 vs reported v8, last seen: ${await row.textContent()}`);
    t.equal(await page.locator('#models tr').count(), 6, 'one row per IED, no internal entries');
    t.equal(await page.locator('#models tr', { hasText: /^ied-\d+no/ }).count(), 0, 'no IED shown offline while its gateway serves it');
    t.equal(await row.getAttribute('class'), 'mismatch', 'a gateway not yet on its desired version is highlighted');
    t.match((await page.textContent('#rollout')) ?? '', /drift: edge server 1.*candidate 84\.3 % vs incumbent 52\.0 %.*promoted amarl-e40-abc.*rollout promoted: canary 100\.0% vs twin prediction 83\.8%/, 'the last retraining cycle and its rollout');
    t.ok((await page.locator('#plot-completion polyline').count()) === 1, 'completion plotted');
    t.ok((await page.locator('#plot-latency polyline').count()) === 2, 'latency p50 and p99 plotted');
    t.same(await page.locator('#plot-completion .ytick').allTextContents(), ['0 %', '50 %', '100 %'], 'a value axis with units');
    t.match((await page.locator('#plot-latency .ytick').allTextContents()).join(' '), /^0\.00 s [\d.]+ s [\d.]+ s$/, 'latency axis in seconds');
    const times = await page.locator('#plot-latency .xtick').allTextContents();
    t.equal(times.at(-1), 'now', 'a time axis ending now');
    t.match(times[0] ?? '', /^−\d+ s$/, `a time axis starting in the past: ${times[0]}`);
    t.same(await page.locator('#plot-latency .legend').allTextContents(), ['p50', 'p99'], 'a legend');
    const shot = join(mkdtempSync(join(tmpdir(), 'gmel-dash-')), 'dashboard.png');
    writeFileSync(shot, await page.screenshot({ fullPage: true }));
    t.ok(existsSync(shot), `screenshot ${shot}`);
    t.comment(`screenshot: ${shot}`);
  } finally {
    await browser.close();
    dashboard.stop();
    await app.close();
    await operator.endAsync();
    await plant.stop(false);
    await broker.close();
  }
});
