// The twin on a live plant: quiet while the plant behaves as trained, drift reported (over HTTP too)
// when the emulated plant's arrival rate differs from the trained scenario's, or when its uplinks are
// slower than the twin's simulation of the running model predicts (a quarter of the bandwidth).
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../plant/live-plant.ts';
import { buildTwinApp } from '../../twin/routes.ts';
import { startAedes } from '../helpers/brokers.ts';

t.test('live drift', { timeout: 60_000 }, async (t) => {
  const trained = loadScenario('gmel2024', { ieds: 20, 'arrivals.probability': 0.3 });
  const cases = [
    { label: 'as trained', actual: 0.3, bandwidth: { min: 10, max: 20 }, expectDrift: false },
    { label: 'busier plant', actual: 0.8, bandwidth: { min: 10, max: 20 }, expectDrift: true },
    { label: 'weaker radio', actual: 0.3, bandwidth: { min: 2.5, max: 5 }, expectDrift: true },
  ] as const;
  for (const { label, actual, bandwidth, expectDrift } of cases) {
    const broker = await startAedes();
    const plant = await startPlant({
      scenario: trained, emulatorScenario: loadScenario('gmel2024', { ieds: 20, 'arrivals.probability': actual, 'edge.bandwidthMHz': bandwidth }),
      modelPath: 'models/gmel2024-amarl', brokerUrl: broker.url, logger: pino({ level: 'silent' }), twinWindowSlots: 30,
    });
    await new Promise((r) => setTimeout(r, 3600));
    const report = plant.mirror.drift();
    t.equal(report.drift, expectDrift, `${label}: ${report.drift ? report.reasons.join('; ') : `p̂ ${report.arrivalProbability.estimate.toFixed(3)}, z ${report.arrivalProbability.z.toFixed(1)}`}`);
    const app = buildTwinApp(plant.mirror);
    const http = (await app.inject({ method: 'GET', url: '/twin/drift' })).json() as { drift: boolean };
    t.equal(http.drift, expectDrift, `${label}: /twin/drift agrees`);
    const state = (await app.inject({ method: 'GET', url: '/twin/state' })).json() as { devices: Record<string, { tasks: number }>; edges: Record<string, unknown> };
    t.ok((state.devices['ied-0']?.tasks ?? 0) > 0 && Object.keys(state.edges).length === 5, `${label}: devices and edge servers mirrored`);
    const uplinks = `fleet ρ ${report.uplink.fleet.ratio.toFixed(2)} (${report.uplink.fleet.samples}); ${Object.entries(report.uplink.servers).map(([m, u]) => `ES${m} ${u.mbps.toFixed(0)}/${u.scenarioMbps.toFixed(0)} Mbit/s (${u.samples})`).join(', ')}`;
    t.comment(`${label}: live/scenario uplink ${uplinks}`);
    if (label !== 'weaker radio') t.ok(report.uplink.fleet.samples >= 30 && !report.reasons.some((r) => /uplink/.test(r)), `uplinks as the scenario says: ${uplinks}`);
    if (label === 'busier plant') t.ok(Math.abs((await app.inject({ method: 'GET', url: '/twin/scenario' })).json().arrivals.probability - actual) < 0.1, 'recalibrated scenario near the live rate');
    if (label === 'weaker radio') {
      t.ok(report.reasons.some((r) => /^uplinks? /.test(r)), `uplink drift named: ${report.reasons.join('; ')}`);
      t.notOk(report.reasons.some((r) => /arrival probability/.test(r)), 'arrivals are as trained');
      const bands = (await app.inject({ method: 'GET', url: '/twin/scenario' })).json().edge.bandwidthMHz as number[];
      const real = [2.5, 3.125, 3.75, 4.375, 5];
      t.ok(Array.isArray(bands) && bands.every((b, m) => Math.abs(b / (real[m] as number) - 1) < 0.3), `recalibrated bands ${JSON.stringify(bands)} (trained 10–20 MHz, real ${real.join(', ')})`);
    }
    await app.close();
    await plant.stop(false);
    await broker.close();
  }
});
