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
import { startPlant } from '../../twin/live/plant.ts';
import { registerDashboard } from '../../twin/live/dashboard.ts';
import { startAedes } from '../helpers/brokers.ts';

const CHROMIUM = '/usr/bin/chromium';

t.test('the dashboard shows the live plant', { skip: existsSync(CHROMIUM) ? false : 'chromium is not installed (.ci/run installs it)', timeout: 90_000 }, async (t) => {
  const broker = await startAedes();
  const plant = await startPlant({ scenario: loadScenario('gmel2024', { ieds: 6 }), modelPath: 'models/gmel2024-amarl', brokerUrl: broker.url, logger: pino({ level: 'silent' }) });
  const operator = await mqtt.connectAsync(broker.url, { clientId: 'dash-operator' });
  await operator.publishAsync(topics.desiredModel(2), encode('desiredModel', { v: 1, iedId: 2, modelSet: 'plant', version: 'v9', registry: 'http://registry', at: Date.now() }), { qos: 1, retain: true });
  await operator.publishAsync(topics.reportedModel(2), encode('reportedModel', { v: 1, iedId: 2, version: 'v8', state: 'running', at: Date.now() }), { qos: 1, retain: true });
  const app = Fastify();
  const dashboard = registerDashboard(app, { kpi: plant.kpi, mirror: plant.mirror, rollout: () => ({ outcome: 'promoted', canaries: [0] }) });
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
    t.match((await row.textContent()) ?? '', /v9.*v8/, 'desired v9 vs reported v8 for IED 2');
    t.equal(await row.getAttribute('class'), 'mismatch', 'a gateway not yet on its desired version is highlighted');
    t.match((await page.textContent('#rollout')) ?? '', /promoted/);
    t.ok((await page.locator('#plot-completion polyline').count()) === 1, 'completion plotted');
    t.ok((await page.locator('#plot-latency polyline').count()) === 2, 'latency p50 and p99 plotted');
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
