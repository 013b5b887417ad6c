// Hand-computed cases for each queue of the "gmel" semantics (sim/stages-gmel.ts).
import t from 'tap';
import { World } from '../../sim/world.ts';
import { tinyScenario } from '../helpers/scenarios.ts';
import { validateScenario } from '../../core/scenario/load.ts';
import { ofdmaRateMbps, pathGain } from '../../core/radio.ts';

/** Run the world with fixed actions until done; return credits as {ied, slot, reward, completed}. */
function runToEnd(w: World, actionsPerSlot: (slot: number) => number[] = () => []) {
  const credits: { ied: number; slot: number; reward: number; completed: boolean }[] = [];
  for (;;) {
    const actions = Int32Array.from({ length: w.I }, (_, i) => actionsPerSlot(w.slot)[i] ?? 0);
    const done = w.step(actions);
    for (let k = 0; k < w.credits.count; k++)
      credits.push({ ied: w.credits.ied[k] as number, slot: w.credits.slot[k] as number, reward: w.credits.reward[k] as number, completed: w.credits.completed[k] === 1 });
    if (done) return credits;
  }
}

t.test('eq. (1): local FIFO in whole slots, with the ceiling', async (t) => {
  // f = 1 GHz, Δt = 0.1 s → 0.1 Gcycles per slot. Task A: 2.5 Mbit × 0.1 = 0.25 Gcycles → ⌈2.5⌉ = 3 slots.
  const w = new World(tinyScenario());
  w.reset(1);
  w.announce(0, { sizeMbit: 2.5, density: 0.1, deadlineSeconds: 5 });
  w.step([0]);
  t.equal(w.localWaitSeconds(0), 0.2, 'after slot 0, two more slots of A remain');
  // Task B arrives in slot 1: 1 Mbit × 0.1 = 0.1 Gcycles → 1 slot, queued behind A: τ = max(1, 3) + 1 = 4
  w.announce(0, { sizeMbit: 1, density: 0.1, deadlineSeconds: 5 });
  const credits = runToEnd(w);
  t.same(credits.map((c) => [c.slot, c.completed]), [[0, true], [1, true]]);
  const s = w.metrics.summary();
  // latencies (τ − t)·Δt: A 3 slots, B 4 − 1 = 3 slots
  t.ok(Math.abs(s.meanLatency - 0.3) < 1e-12, `mean latency ${s.meanLatency}`);
  t.ok(Math.abs((credits[0]?.reward ?? 0) - (5 - 0.3)) < 1e-12, 'eq. (4): C − latency');
});

t.test('eq. (2): two valid queues share an edge GPU equally', async (t) => {
  // F = 1 GHz, Δt = 0.1 → 0.1 Gcycles/slot, 0.05 each while both queues are valid. Upload ≈ instant,
  // joins at the end of slot 0, service from slot 1.
  const w = new World(tinyScenario({ ieds: 2 }));
  w.reset(1);
  w.announce(0, { sizeMbit: 1, density: 0.1, deadlineSeconds: 5 }); // 0.1 Gcycles
  w.announce(1, { sizeMbit: 1, density: 0.2, deadlineSeconds: 5 }); // 0.2 Gcycles
  runToEnd(w, (slot) => (slot === 0 ? [1, 1] : []));
  const lat0 = w.metrics.latencySum[0] as number;
  const lat1 = w.metrics.latencySum[1] as number;
  // A: 0.1 / 0.05 = 2 slots → done at 3.0 → 0.3 s. B: 0.1 in slots 1–2, then alone 0.1/slot → 4.0 → 0.4 s
  t.ok(Math.abs(lat0 - 0.3) < 1e-9, `IED 0 latency ${lat0}`);
  t.ok(Math.abs(lat1 - 0.4) < 1e-9, `IED 1 latency ${lat1}`);
});

t.test('eq. (2): several tasks of one queue finish in the same slot', async (t) => {
  const w = new World(tinyScenario());
  w.reset(1);
  const done: number[] = [];
  // A 0.15 Gcycles (slot 0), B 0.02 (slot 1), C 0.02 (slot 2), alone at 0.1 Gcycles/slot
  const tasks = [1.5, 0.2, 0.2];
  for (let slot = 0; ; slot++) {
    const size = tasks[slot];
    if (size !== undefined) w.announce(0, { sizeMbit: size, density: 0.1, deadlineSeconds: 5 });
    const finished = w.step([1]);
    for (let k = 0; k < w.credits.count; k++) done.push(w.slot - 1); // slot in which it completed
    if (finished) break;
  }
  // A: 0.1 in slot 1, 0.05 in slot 2 → 2.5; B joined at end of slot 1 → 2.5 + 0.2 = 2.7; C joins end of slot 2 → slot 3
  t.same(done, [2, 2, 3]);
  t.ok(Math.abs((w.metrics.latencySum[0] as number) - (0.25 + 0.17 + 0.12)) < 1e-9, 'latencies 2.5, 1.7, 1.2 slots');
});

t.test('OFDMA: three IEDs sending to one edge server share its band', async (t) => {
  // Shannon rate by hand: 1 MHz split in 3, full-band SNR 100 → (1/3)·log2(1 + 300) Mbit/s
  t.ok(Math.abs(ofdmaRateMbps(1, 3, 100) - Math.log2(301) / 3) < 1e-12);
  // 3GPP path loss at 100 m: 128.1 + 37.6·log10(0.1) = 90.5 dB
  t.ok(Math.abs(pathGain(100, 128.1, 37.6) - Math.pow(10, -9.05)) < 1e-20);
  const w = new World(tinyScenario({ ieds: 4, 'radio.model': 'shannon', 'edge.bandwidthMHz': 1 }));
  w.reset(1);
  for (let i = 0; i < 3; i++) w.announce(i, { sizeMbit: 1000, density: 0.01, deadlineSeconds: 5 });
  w.announce(3, { sizeMbit: 1000, density: 0.01, deadlineSeconds: 5 });
  w.step([1, 1, 1, 0]);
  for (let i = 0; i < 3; i++) {
    const snr = w.layout.snrFullBand[i] as number;
    const expected = 1000 - ofdmaRateMbps(1, 3, snr) * 0.1;
    t.ok(Math.abs((w.uplinkBacklogMbit[i] as number) - expected) < 1e-6, `IED ${i} sent a third of the band's worth`);
  }
  t.equal(w.uplinkBacklogMbit[3], 0, 'the local task never touched the uplink');
  // one transmitter alone gets the whole band
  const solo = new World(tinyScenario({ ieds: 4, 'radio.model': 'shannon', 'edge.bandwidthMHz': 1 }));
  solo.reset(1);
  solo.announce(0, { sizeMbit: 1000, density: 0.01, deadlineSeconds: 5 });
  solo.step([1, 0, 0, 0]);
  t.ok(Math.abs((solo.uplinkBacklogMbit[0] as number) - (1000 - ofdmaRateMbps(1, 1, solo.layout.snrFullBand[0] as number) * 0.1)) < 1e-6);
});

t.test('a shared system band (radio.spectrum "shared"): every sender of the slot shares B, whatever its server', async (t) => {
  const perServer = tinyScenario({ ieds: 3, edgeServers: 2, 'radio.model': 'shannon', 'edge.bandwidthMHz': 1 });
  const plain = JSON.parse(JSON.stringify(perServer)) as { edge: Record<string, unknown>; radio: Record<string, unknown> };
  delete plain.edge.bandwidthMHz;
  plain.radio.spectrum = 'shared';
  plain.radio.bandwidthMHz = 1;
  const shared = validateScenario(plain, 'shared');
  const sent = (scenario: typeof perServer) => {
    const w = new World(scenario);
    w.reset(1);
    for (let i = 0; i < 3; i++) w.announce(i, { sizeMbit: 1000, density: 0.01, deadlineSeconds: 5 });
    w.step([1, 2, 0]); // IED 0 → ES 1, IED 1 → ES 2, IED 2 local
    return { w, mbit: [0, 1].map((i) => 1000 - (w.uplinkBacklogMbit[i] as number)) };
  };
  const a = sent(perServer);
  const b = sent(shared);
  for (const [i, m] of [[0, 0], [1, 1]] as const) {
    const snr = b.w.layout.snrFullBand[i * 2 + m] as number;
    t.equal(snr, a.w.layout.snrFullBand[i * 2 + m], 'same band width, same full-band SNR');
    t.ok(Math.abs((a.mbit[i] as number) - ofdmaRateMbps(1, 1, snr) * 0.1) < 1e-6, `per-server: IED ${i} has ES ${m + 1}'s band alone`);
    t.ok(Math.abs((b.mbit[i] as number) - ofdmaRateMbps(1, 2, snr) * 0.1) < 1e-6, `shared: IED ${i} shares B with the IED sending to the other server`);
  }
  t.equal(b.w.uplinkBacklogMbit[2], 0, 'the local task never touched the band');
});

t.test('a task is dropped at its deadline in each stage, and charged the drop penalty', async (t) => {
  const cases = [
    // local: 1 Gcycle at 0.1 Gcycles/slot needs 10 slots; deadline 0.5 s
    { stage: 'local', scenario: {}, task: { sizeMbit: 10, density: 0.1, deadlineSeconds: 0.5 }, action: 0 },
    // uplink: 10 Mbit at 1 Mbit/s needs 10 s
    { stage: 'uplink', scenario: { 'radio.fixedRateMbps': 1 }, task: { sizeMbit: 10, density: 0.1, deadlineSeconds: 0.5 }, action: 1 },
    // edge: instant upload, 1 Gcycle at 1 GHz needs 1 s
    { stage: 'edge', scenario: {}, task: { sizeMbit: 10, density: 0.1, deadlineSeconds: 0.5 }, action: 1 },
  ] as const;
  for (const c of cases) {
    const w = new World(tinyScenario(c.scenario));
    w.reset(1);
    w.announce(0, c.task);
    const credits = runToEnd(w, (slot) => (slot === 0 ? [c.action] : []));
    const s = w.metrics.summary();
    t.equal(s.dropped[c.stage], 1, `dropped in ${c.stage}`);
    t.equal(s.dropped.total, 1);
    t.same(credits, [{ ied: 0, slot: 0, reward: 5 - 10, completed: false }]);
    t.ok(Math.abs(s.meanLatencyDropsAtDeadline - 0.5) < 1e-12, 'counted at its deadline');
  }
});

t.test('a local task that cannot start before its deadline does not hold the GPU', async (t) => {
  const w = new World(tinyScenario());
  w.reset(1);
  w.announce(0, { sizeMbit: 5, density: 0.1, deadlineSeconds: 5 }); // 5 slots: busy until 5
  w.step([0]);
  w.announce(0, { sizeMbit: 1, density: 0.1, deadlineSeconds: 0.2 }); // would start at 5 > deadline 3
  w.step([0]);
  t.equal(w.localWaitSeconds(0), (5 - w.slot) * w.dt, 'GPU still free at slot 5 (the dropped task did not hold it)');
  w.announce(0, { sizeMbit: 1, density: 0.1, deadlineSeconds: 5 });
  runToEnd(w);
  t.equal(w.metrics.summary().dropped.local, 1);
  t.equal(w.metrics.summary().completed, 2);
  // third task: τ = 5 + 1 = 6, arrived at 2 → 0.4 s
  t.ok(Math.abs((w.metrics.latencySum[0] as number) - (0.5 + 0.4)) < 1e-9);
});

t.test('an edge server reports the Gcycles it spent: F·Δt while no queue runs dry', async (t) => {
  const w = new World(tinyScenario({ ieds: 2 }));
  w.reset(1);
  w.announce(0, { sizeMbit: 1, density: 0.1, deadlineSeconds: 5 }); // 0.1 Gcycles
  w.announce(1, { sizeMbit: 1, density: 0.2, deadlineSeconds: 5 }); // 0.2 Gcycles
  w.step([1, 1]); // slot 0: uploads; nothing at the edge yet
  t.equal(w.edgeServedGcycles[0], 0);
  w.step([0, 0]); // slot 1: both queues busy all slot: 1 GHz × 0.1 s
  t.ok(Math.abs((w.edgeServedGcycles[0] as number) - 0.1) < 1e-12, `slot 1: ${w.edgeServedGcycles[0]}`);
  w.step([0, 0]); // slot 2: IED 0 finishes exactly at the slot's end: still 0.1
  t.ok(Math.abs((w.edgeServedGcycles[0] as number) - 0.1) < 1e-12);
  w.step([0, 0]); // slot 3: IED 1 alone needs 0.1 more: all of it
  t.ok(Math.abs((w.edgeServedGcycles[0] as number) - 0.1) < 1e-12);
  w.step([0, 0]); // slot 4: idle
  t.equal(w.edgeServedGcycles[0], 0);
});

t.test('uplink transmit time: time on air is counted, waiting in the queue is not', async (t) => {
  // fixed 20 Mbit/s, Δt = 0.1 s: 2 Mbit per slot. Task A (3 Mbit) sends 1.5 slots; task B (1 Mbit),
  // queued behind it, starts mid-slot and sends 0.5 slot.
  const uploads: { size: number; seconds: number; sharers: number }[] = [];
  const w: World = new World(tinyScenario({ 'radio.fixedRateMbps': 20 }), {
    uploaded: (id) => uploads.push({ size: w.pool.sizeMbit[id] as number, seconds: (w.pool.txSlots[id] as number) * w.dt, sharers: (w.pool.txSharerSlots[id] as number) / (w.pool.txSlots[id] as number) }),
  });
  w.reset(1);
  w.announce(0, { sizeMbit: 3, density: 0.01, deadlineSeconds: 5 });
  w.step([1]);
  w.announce(0, { sizeMbit: 1, density: 0.01, deadlineSeconds: 5 });
  w.step([1]);
  t.same(uploads.map((u) => u.size), [3, 1]);
  t.ok(Math.abs((uploads[0]?.seconds ?? 0) - 0.15) < 1e-9 && Math.abs((uploads[1]?.seconds ?? 0) - 0.05) < 1e-9, `transmit times ${uploads.map((u) => u.seconds)} s`);
  t.same(uploads.map((u) => u.sharers), [1, 1], 'alone on the band');
});

t.test('the pool\'s stage numbers index the one list of stage names (core/stages.ts)', async (t) => {
  const { Stage, STAGE_NAMES } = await import('../../sim/task-pool.ts');
  t.same(Object.entries(Stage).map(([key, index]) => [key.toLowerCase(), STAGE_NAMES[index]]), STAGE_NAMES.map((name) => [name, name]));
});
