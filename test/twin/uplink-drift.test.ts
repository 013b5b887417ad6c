// The twin's uplink statistic on the simulator itself: ρ (expected ÷ actual transmit time) is ≈ 1 when
// the radio is as the scenario says, whatever the load; it reads a quarter of the band as ρ ≈ ¼, per
// server or (the paper's plant) of the one shared band, which the recalibrated scenario then carries.
import t from 'tap';
import { loadScenario, validateScenario } from '../../core/scenario/load.ts';
import type { Scenario } from '../../core/scenario/schema.ts';
import { encode } from '../../protocol/codec.ts';
import { topics } from '../../protocol/topics.ts';
import { TwinMirror } from '../../twin/mirror.ts';
import { meanLog2FadedShannon, meanOfdmaRateMbps } from '../../core/radio.ts';
import { Rng } from '../../core/rng.ts';
import { World } from '../../sim/world.ts';
import { createHeuristic } from '../../sim/policies/heuristics.ts';
import { UplinkRates, UPLINK_DRIFT_BAND } from '../../twin/uplink-drift.ts';

t.test('E[log2(1 + a·h)] under Rayleigh fading', async (t) => {
  // a = 1: e·E1(1)/ln 2 with E1(1) = 0.219383934…
  t.ok(Math.abs(meanLog2FadedShannon(1) - (Math.E * 0.21938393439552) / Math.LN2) < 1e-9);
  // high SNR: log2(a) − γ/ln 2
  t.ok(Math.abs(meanLog2FadedShannon(1e8) - (Math.log2(1e8) - 0.5772156649 / Math.LN2)) < 1e-6);
  // the continued-fraction branch (a < 1/4) against a seeded Monte Carlo
  const rng = new Rng(1);
  let s = 0;
  for (let k = 0; k < 200_000; k++) s += Math.log2(1 + 0.1 * rng.exponential());
  t.ok(Math.abs(meanLog2FadedShannon(0.1) - s / 200_000) < 2e-3, `${meanLog2FadedShannon(0.1)} ≈ ${s / 200_000}`);
  t.equal(meanOfdmaRateMbps(10, 2, 100, false), 5 * Math.log2(201), 'no fading: the plain Shannon rate');
  // very low SNR (a = 1e-4: e^{1/a} alone would overflow): E[log2(1 + a h)] ≈ a·E[h]/ln 2 = a/ln 2
  const tiny = meanLog2FadedShannon(1e-4);
  t.ok(Number.isFinite(tiny) && Math.abs(tiny - 1e-4 / Math.LN2) < 1e-7, `a = 1e-4: ${tiny}`);
});

/** Uploads of one simulated run on `real`, judged by the twin that assumes `trained`. */
function judge(trained: ReturnType<typeof loadScenario>, real: ReturnType<typeof loadScenario>, seed: number) {
  const rates = new UplinkRates(10_000, trained);
  const w: World = new World(real, {
    uploaded: (id) => {
      const slots = w.pool.txSlots[id] as number;
      rates.add(w.slot, w.pool.ied[id] as number, (w.pool.server[id] as number) + 1, w.pool.sizeMbit[id] as number, slots * w.dt, (w.pool.txSharerSlots[id] as number) / slots);
    },
  });
  runRandom(w, seed);
  return { fleet: rates.fleet(0), servers: rates.servers(0), rates };
}

/** One episode of `w` under the random policy (seeded); `afterSlot` after each step. */
function runRandom(w: World, seed: number, afterSlot: () => void = () => {}): void {
  w.reset(seed);
  const policy = createHeuristic('random', new Rng(seed));
  const actions = new Int32Array(w.I);
  for (let done = false; !done; ) {
    policy.act(w, actions);
    done = w.step(actions);
    afterSlot();
  }
}

t.test('ρ ≈ 1 on the trained radio at any load; ≈ ¼ with a quarter of the band', async (t) => {
  const trained = loadScenario('gmel2024', { episodeSlots: 200 });
  for (const p of [0.3, 0.8]) {
    const { fleet, servers } = judge(trained, loadScenario('gmel2024', { episodeSlots: 200, 'arrivals.probability': p }), 5);
    t.ok(fleet.samples > 500 && Math.abs(fleet.ratio - 1) < 0.05, `p = ${p}: fleet ρ ${fleet.ratio.toFixed(3)} over ${fleet.samples} uploads`);
    t.notOk(fleet.drift, 'no fleet drift');
    const worst = Math.max(...Object.values(servers).map((u) => Math.abs(u.ratio - 1)));
    t.ok(worst < UPLINK_DRIFT_BAND / 2, `p = ${p}: every server within ${(100 * worst).toFixed(1)}% of its expected rate`);
  }
  const { fleet, servers, rates } = judge(trained, loadScenario('gmel2024', { episodeSlots: 200, 'edge.bandwidthMHz': { min: 2.5, max: 5 } }), 5);
  t.ok(fleet.drift && fleet.ratio < 0.35, `quarter band: ρ ${fleet.ratio.toFixed(3)}`);
  const c = rates.bandScale(fleet.ratio);
  t.ok(Math.abs(c - 0.25) < 0.03, `the band scale that explains ρ: ${c.toFixed(3)} (truth 0.25)`);
  const judged = Object.values(servers).filter((u) => u.samples >= 30);
  t.ok(judged.length >= 2 && judged.every((u) => u.drift), `every server with 30 uploads flagged: ${Object.entries(servers).map(([m, u]) => `ES${m} ρ ${u.ratio.toFixed(2)} (${u.samples})`).join(', ')}`);
});

/** A simulated run on `real`, its uploads fed to a mirror that assumes `trained` as the gateway's offload messages. */
function mirrorOf(trained: Scenario, real: Scenario, seed: number): TwinMirror {
  const clock = { t: 0 };
  const mirror = new TwinMirror({ scenario: trained, epochMs: 0, now: () => clock.t, windowSlots: 10_000 });
  const dtMs = real.slotSeconds * 1000;
  const w: World = new World(real, {
    uploaded: (id) => {
      const slots = w.pool.txSlots[id] as number;
      const at = (w.slot + 1) * dtMs;
      mirror.ingest(topics.offload((w.pool.server[id] as number) + 1), encode('offload', {
        v: 1, taskId: `t${id}-${w.slot}`, iedId: w.pool.ied[id] as number, edgeServerId: (w.pool.server[id] as number) + 1, sizeMbit: w.pool.sizeMbit[id] as number,
        density: 0.03, createdAt: Math.max(0, at - slots * dtMs), deadlineAt: at + 1000, uploadedAt: at, uplinkSeconds: slots * w.dt, uplinkSharers: (w.pool.txSharerSlots[id] as number) / slots,
      }));
    },
  });
  runRandom(w, seed, () => (clock.t = w.slot * dtMs));
  return mirror;
}

t.test('a shared system band: ρ ≈ 1 as trained; a quarter of B is recalibrated as B/4, and the plant keeps one band', async (t) => {
  // a random policy on the paper's scarce band: few uploads finish, so ten IEDs and a long run
  const trained = loadScenario('gmel2024-paper', { ieds: 10, episodeSlots: 1000 });
  const B = trained.radio.bandwidthMHz as number;
  const calm = mirrorOf(trained, trained, 5);
  const d = calm.drift();
  t.ok(d.uplink.fleet.samples > 300 && Math.abs(d.uplink.fleet.ratio - 1) < 0.05, `as trained: fleet ρ ${d.uplink.fleet.ratio.toFixed(3)} over ${d.uplink.fleet.samples} uploads`);
  t.notOk(d.uplink.fleet.drift, 'no uplink drift');
  t.equal(calm.recalibrated().radio.bandwidthMHz, B, 'the band stays as trained');
  const narrow = mirrorOf(trained, loadScenario('gmel2024-paper', { ieds: 10, episodeSlots: 1000, 'radio.bandwidthMHz': B / 4 }), 5);
  const n = narrow.drift();
  t.ok(n.uplink.fleet.drift && n.uplink.fleet.ratio < 0.35, `a quarter of B: fleet ρ ${n.uplink.fleet.ratio.toFixed(3)} over ${n.uplink.fleet.samples} uploads`);
  const s = narrow.recalibrated();
  t.ok(Math.abs((s.radio.bandwidthMHz as number) / B - 0.25) < 0.03, `recalibrated B ${s.radio.bandwidthMHz} MHz (truth ${B / 4})`);
  t.equal(s.radio.spectrum, 'shared');
  t.notOk('bandwidthMHz' in s.edge, 'no per-server bands appear');
  t.doesNotThrow(() => validateScenario(s), 'the recalibrated plant is a valid scenario');
});
