// The twin's mirror: devices as telemetry shows them, and the drift statistic (no false alarm on the
// trained arrival rate, an alarm when it doubles or the task sizes shift).
import t from 'tap';
import { loadScenario } from '../../core/scenario/load.ts';
import { Rng } from '../../core/rng.ts';
import { encode } from '../../protocol/codec.ts';
import { topics } from '../../protocol/topics.ts';
import { TwinMirror } from '../../twin/mirror.ts';

const scenario = loadScenario('gmel2024', { ieds: 20 });
const slotMs = 100;

function feed(mirror: TwinMirror, clock: { t: number }, slots: number, p: number, size: { min: number; max: number }, rng: Rng): void {
  for (let k = 0; k < slots; k++) {
    for (let i = 0; i < scenario.ieds; i++) {
      if (rng.uniform() >= p) continue;
      const taskId = `t${clock.t}-${i}`;
      mirror.ingest(topics.task(i), encode('task', { v: 1, taskId, iedId: i, sizeMbit: rng.between(size.min, size.max), density: rng.between(0.0125, 0.0625), deadlineSeconds: rng.between(0.5, 2.5), createdAt: clock.t }));
    }
    clock.t += slotMs;
  }
}

t.test('an announcer running behind the clock is reported as lag, not as drift', async (t) => {
  const clock = { t: 1_000_000 };
  const mirror = new TwinMirror({ scenario, epochMs: 0, now: () => clock.t, windowSlots: 200 });
  feed(mirror, clock, 200, 0.3, scenario.task.sizeMbit, new Rng(5));
  clock.t += 30 * slotMs; // the emulator is 30 slots late: nothing announced for the last 30 slots yet
  const late = mirror.drift();
  t.equal(late.drift, false, `no drift at the trained rate (p̂ ${late.arrivalProbability.estimate.toFixed(3)}, z = ${late.arrivalProbability.z.toFixed(2)}; ${late.reasons.join('; ')})`);
  t.equal(late.announcementLagSlots, 30, 'the lag is reported as such');
  t.equal(late.windowSlots, 200, 'the window ends at the newest announced slot');
  t.same(late.advisories, [], 'a short lag is not worth an advisory');
  clock.t += 70 * slotMs; // now 100 slots without an announcement: the plant may have stopped
  t.match(mirror.drift().advisories.join(' '), /no task announced for 10\.0 s/, 'a long silence is said, as an advisory');
});

t.test('drift detection', async (t) => {
  const clock = { t: 1_000_000 };
  const mirror = new TwinMirror({ scenario, epochMs: 0, now: () => clock.t, windowSlots: 200 });
  const rng = new Rng(3);
  feed(mirror, clock, 200, 0.3, scenario.task.sizeMbit, rng);
  const calm = mirror.drift();
  t.equal(calm.drift, false, `trained rate: no drift (z = ${calm.arrivalProbability.z.toFixed(2)})`);
  t.ok(Math.abs(calm.arrivalProbability.estimate - 0.3) < 0.03, `p̂ = ${calm.arrivalProbability.estimate.toFixed(3)}`);
  feed(mirror, clock, 200, 0.6, scenario.task.sizeMbit, rng);
  const busy = mirror.drift();
  t.equal(busy.drift, true, busy.reasons.join('; '));
  t.match(busy.reasons[0] ?? '', /arrival probability 0\.[56]\d* vs 0\.3/);
  t.ok(Math.abs(mirror.recalibrated().arrivals.probability - 0.6) < 0.05, 'the recalibrated scenario carries the live rate');
  feed(mirror, clock, 200, 0.3, { min: 30, max: 40 }, rng);
  const bigger = mirror.drift();
  t.ok(bigger.reasons.some((r) => /mean task size/.test(r)), bigger.reasons.join('; '));
});

t.test('devices, models and uplinks as telemetry shows them', async (t) => {
  const clock = { t: 5_000 };
  const mirror = new TwinMirror({ scenario, epochMs: 0, now: () => clock.t });
  mirror.ingest(topics.status('ied', '4-6'), encode('status', { v: 1, kind: 'ied', id: '4-6', state: 'online', at: 1, modelVersion: 'v1' }));
  t.same([4, 5, 6, 7].map((i) => mirror.devices.get(`ied-${i}`)?.online ?? false), [true, true, true, false], 'a gateway speaks for the IEDs it serves');
  t.equal(mirror.devices.get('ied-5')?.gateway, '4-6');
  t.equal(mirror.devices.get('ied-5')?.reportedModel, 'v1', 'the version it came online with, until a report says otherwise');
  t.equal(mirror.services.get('gateway-4-6')?.online, true, 'the gateway itself is a service, not a device');
  t.notOk(mirror.devices.has('ied-4-6'), 'no device named after the gateway');
  mirror.ingest(topics.status('ied', '4-6'), encode('status', { v: 1, kind: 'ied', id: '4-6', state: 'offline', at: 2 }));
  t.equal(mirror.devices.get('ied-5')?.online, false, 'Last Will seen');
  mirror.ingest(topics.status('ied', 'all'), encode('status', { v: 1, kind: 'ied', id: 'all', state: 'online', at: 2 }));
  t.equal([...mirror.devices.keys()].filter((k) => k.startsWith('ied-') && mirror.devices.get(k)?.online).length, scenario.ieds, '"all": every IED of the plant');
  mirror.ingest(topics.status('twin', 'mirror'), encode('status', { v: 1, kind: 'twin', id: 'mirror', state: 'online', at: 2 }));
  t.ok(mirror.services.has('twin-mirror') && !mirror.devices.has('twin-mirror'), 'the twin is a service');
  mirror.ingest(topics.desiredModel(3), encode('desiredModel', { v: 1, iedId: 3, modelSet: 's', version: 'v2', registry: 'http://r', at: 3 }));
  mirror.ingest(topics.reportedModel(3), encode('reportedModel', { v: 1, iedId: 3, version: 'v1', state: 'running', at: 4 }));
  t.same([mirror.devices.get('ied-3')?.desiredModel, mirror.devices.get('ied-3')?.reportedModel], ['v2', 'v1'], 'desired vs reported');
  mirror.ingest(topics.decision(3), encode('decision', { v: 1, taskId: 'x', iedId: 3, action: 2, policyVersion: 'v1', decidedAt: 1000, inferenceMicros: 9 }));
  mirror.ingest(topics.offload(2), encode('offload', { v: 1, taskId: 'x', iedId: 3, edgeServerId: 2, sizeMbit: 8, density: 0.02, createdAt: 990, deadlineAt: 3000, uploadedAt: 1400 }));
  t.same(mirror.uplink.get('3:2'), { seconds: 0.4, samples: 1 }, 'upload time per IED–ES pair');
  mirror.ingest(topics.edgeState(2), encode('edgeState', { v: 1, edgeServerId: 2, slot: 7, at: 5, activeQueues: 2, backlogMbit: { '3': 4, '5': 6 } }));
  t.same(mirror.edges.get(2), { slot: 7, activeQueues: 2, backlogMbit: 10, at: 5 });
  mirror.ingest(topics.result(3), encode('result', { v: 1, taskId: 'x', iedId: 3, outcome: 'completed', stage: 'edge', latencySeconds: 0.5, at: 6 }));
  t.equal(mirror.devices.get('ied-3')?.completed, 1);
  mirror.ingest(topics.task(3), '{bad json');
  t.equal(mirror.devices.get('ied-3')?.tasks, 0, 'malformed telemetry is ignored');
});

t.test('edge GPU rates from the Gcycles served, and drift when a server slows down', async (t) => {
  const clock = { t: 0 };
  const five = loadScenario('gmel2024', { ieds: 20 }); // F = 10, 12.5, 15, 17.5, 20 GHz
  const mirror = new TwinMirror({ scenario: five, epochMs: 0, now: () => clock.t, windowSlots: 50 });
  for (let slot = 0; slot < 40; slot++) {
    clock.t = (slot + 1) * slotMs;
    for (let m = 1; m <= 5; m++) {
      const ghz = m === 3 ? 9 : 7.5 + 2.5 * m; // server 3 now runs at 9 GHz instead of 15
      const served = ghz * 0.1 * (slot % 4 === 0 ? 1 : 0.7); // some slots a queue runs dry
      mirror.ingest(topics.edgeState(m), encode('edgeState', { v: 1, edgeServerId: m, slot, at: clock.t, activeQueues: 3, backlogMbit: { '1': 5 }, servedGcycles: served }));
    }
  }
  const d = mirror.drift();
  t.ok(Math.abs((d.edgeGpuGHz['1']?.estimate ?? 0) - 10) < 1e-9, 'F̂_1 = 10 GHz: the busiest slot');
  t.ok(Math.abs((d.edgeGpuGHz['3']?.estimate ?? 0) - 9) < 1e-9, 'F̂_3 = 9 GHz');
  t.same(d.reasons, ['edge server 3 GPU 9.00 GHz vs 15 (40 busy slots)']);
  t.same(mirror.recalibrated().edge.gpuGHz, [10, 12.5, 9, 17.5, 20], 'the recalibrated scenario carries the measured rate');
});

t.test('per-IED arrival rates, densities and deadlines are judged too', async (t) => {
  const clock = { t: 2_000_000 };
  const mirror = new TwinMirror({ scenario, epochMs: 0, now: () => clock.t, windowSlots: 200 });
  const rng = new Rng(9);
  // IED 7 announces a task every slot (p = 1 instead of 0.3); the fleet rate moves by only 0.035
  for (let k = 0; k < 200; k++) {
    for (let i = 0; i < scenario.ieds; i++) {
      if (i !== 7 && rng.uniform() >= 0.3) continue;
      mirror.ingest(topics.task(i), encode('task', { v: 1, taskId: `p${clock.t}-${i}`, iedId: i, sizeMbit: rng.between(4, 40), density: rng.between(0.0125, 0.0625), deadlineSeconds: rng.between(0.5, 2.5), createdAt: clock.t }));
    }
    clock.t += slotMs;
  }
  const report = mirror.drift();
  t.ok(Math.abs((report.perIedArrivalProbability['7']?.estimate ?? 0) - 1) < 1e-9, 'p̂_7 = 1');
  t.ok(report.advisories.some((r) => /^IED 7 arrival probability 1\.000 vs 0\.3/.test(r)), `an advisory, not a retraining trigger: ${report.advisories.join('; ')}`);
  t.notOk(report.advisories.some((r) => /IED (?!7 )\d+ arrival/.test(r)), 'no other IED named');
  t.notOk(report.reasons.some((r) => /^IED/.test(r)), 'single IEDs never trigger retraining');
  t.notOk(report.reasons.some((r) => /density|deadline/.test(r)), 'densities and deadlines as trained');
  // then denser tasks with tighter deadlines
  for (let k = 0; k < 200; k++) {
    for (let i = 0; i < scenario.ieds; i++) {
      if (rng.uniform() >= 0.3) continue;
      mirror.ingest(topics.task(i), encode('task', { v: 1, taskId: `q${clock.t}-${i}`, iedId: i, sizeMbit: rng.between(4, 40), density: rng.between(0.05, 0.0625), deadlineSeconds: rng.between(0.5, 1), createdAt: clock.t }));
    }
    clock.t += slotMs;
  }
  const later = mirror.drift();
  t.ok(later.reasons.some((r) => /^mean density/.test(r)) && later.reasons.some((r) => /^mean deadline/.test(r)), later.reasons.join('; '));
  // the recalibrated scenario takes the announced ranges of what drifted, so retraining can follow it
  const recal = mirror.recalibrated();
  t.ok(Math.abs(recal.task.densityGcyclesPerMbit.min - 0.05) < 0.002 && Math.abs(recal.task.deadlineSeconds.max - 1) < 0.01 && recal.task.sizeMbit.min === 4 && recal.task.sizeMbit.max === 40, `density ${JSON.stringify(recal.task.densityGcyclesPerMbit)}, deadline ${JSON.stringify(recal.task.deadlineSeconds)}`);
});
