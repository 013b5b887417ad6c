// The twin on a live plant: quiet while the plant behaves as trained, drift reported (over HTTP too)
// when the emulated plant's arrival rate differs from the trained scenario's.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import { startPlant } from '../../twin/live/plant.ts';
import { buildTwinApp } from '../../twin/live/twin-app.ts';
import { startAedes } from '../helpers/brokers.ts';

t.test('live drift', { timeout: 60_000 }, async (t) => {
  const trained = loadScenario('gmel2024', { ieds: 20, 'arrivals.probability': 0.3 });
  for (const [label, actual, expectDrift] of [['as trained', 0.3, false], ['busier plant', 0.8, true]] as const) {
    const broker = await startAedes();
    const plant = await startPlant({
      scenario: trained, emulatorScenario: loadScenario('gmel2024', { ieds: 20, 'arrivals.probability': actual }),
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
    if (expectDrift) t.ok(Math.abs((await app.inject({ method: 'GET', url: '/twin/scenario' })).json().arrivals.probability - actual) < 0.1, 'recalibrated scenario near the live rate');
    await app.close();
    await plant.stop(false);
    await broker.close();
  }
});
