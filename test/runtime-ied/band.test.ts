// Gateways that each serve part of the plant split a band among all its senders (runtime-ied/band.ts):
// each adds the others' band reports to its own senders; alone, a gateway counts only its own.
import t from 'tap';
import pino from 'pino';
import { loadScenario } from '../../core/scenario/load.ts';
import type { Scenario } from '../../core/scenario/schema.ts';
import { systemClock } from '../../protocol/clock.ts';
import { topics } from '../../protocol/topics.ts';
import type { Offload } from '../../protocol/messages.ts';
import { BandPeers, BAND_HEARTBEAT_SLOTS, BAND_STALE_SLOTS } from '../../runtime-ied/band.ts';
import { IedGatewayRuntime, type ModelHandle } from '../../runtime-ied/gateway.ts';
import { loadModelHandle, releaseModel } from '../../runtime-ied/model-loader.ts';
import type { ActorSession } from '../../runtime-ied/policy.ts';
import { startAedes, clientPool } from '../helpers/brokers.ts';

const logger = pino({ level: 'silent' });

t.test('BandPeers: the latest fresh count of every other gateway, refusals with codes', async (t) => {
  const SKEW = 50; // 5 s of 0.1 s slots
  const peers = new BandPeers(3, 10, new Set([4, 5]), SKEW);
  const now = 100;
  t.equal(peers.self, 4, 'a gateway is named by its first IED');
  t.equal(peers.accept({ v: 1, gateway: 4, slot: 99, senders: [5, 5, 5] }, now), undefined, 'our own report, echoed: ignored');
  t.equal(peers.accept({ v: 1, gateway: 5, slot: 99, senders: [1, 0, 0] }, now)?.code, 'forged', 'a report as one of our IEDs');
  t.equal(peers.accept({ v: 1, gateway: 0, slot: 99, senders: [1, 0] }, now)?.code, 'invalid', 'the wrong width');
  t.equal(peers.accept({ v: 1, gateway: 0, slot: 99, senders: [3, 3, 3] }, now)?.code, 'invalid', 'more senders (9) than the 8 IEDs the others serve');
  t.equal(peers.accept({ v: 1, gateway: 0, slot: now + SKEW + 1, senders: [1, 0, 0] }, now)?.code, 'clock-skew', 'a slot further ahead than the clock-skew bound');
  t.equal(peers.accept({ v: 1, gateway: 0, slot: now - SKEW - 1, senders: [1, 0, 0] }, now)?.code, 'stale', 'or further behind');
  t.equal(peers.accept({ v: 1, gateway: 0, slot: 99, senders: [2, 1, 0] }, now), undefined);
  t.equal(peers.accept({ v: 1, gateway: 0, slot: 98, senders: [4, 4, 0] }, now), undefined, 'an older count…');
  t.equal(peers.accept({ v: 1, gateway: 7, slot: now + 30, senders: [1, 1, 3] }, now), undefined, 'a gateway 3 s ahead of us');
  const into = new Int32Array(3).fill(99);
  peers.fill(into, now);
  t.same(Array.from(into), [3, 2, 3], '…does not replace a newer one; two gateways add up, whatever their clocks');
  peers.fill(into, now + BAND_STALE_SLOTS);
  t.same(Array.from(into), [3, 2, 3], 'a count lives BAND_STALE_SLOTS of our slots…');
  peers.fill(into, now + BAND_STALE_SLOTS + 1);
  t.same(Array.from(into), [0, 0, 0], '…and no longer, even from a gateway whose clock is ahead');
  // gateway 7 once named slot now + 30; once that count is stale by our slots, its next one counts
  const later = now + BAND_STALE_SLOTS + 1;
  t.equal(peers.accept({ v: 1, gateway: 7, slot: later, senders: [0, 2, 0] }, later), undefined);
  peers.fill(into, later);
  t.same(Array.from(into), [0, 2, 0], 'a slot number once seen does not lock the gateway out');
  // three more gateways of 6 senders each: 20 in all, but the others serve only 8 IEDs
  for (const g of [1, 2, 3]) t.equal(peers.accept({ v: 1, gateway: g, slot: later, senders: [6, 0, 0] }, later), undefined);
  peers.fill(into, later);
  t.same(Array.from(into), [7, 0, 0], 'together the others never count more senders than their IEDs (18 + 2 scaled to 8)');
});

t.test('BandPeers.report: sent on a change, again every BAND_HEARTBEAT_SLOTS while not zero, never while zero', async (t) => {
  const peers = new BandPeers(2, 10, new Set([0]), 50);
  const sent = (slot: number, own: number[]) => peers.report(slot, Int32Array.from(own)) !== undefined;
  t.ok(sent(1, [0, 0]), 'the first count goes out');
  t.notOk(sent(2, [0, 0]), 'zero again: nothing (a silent gateway has no senders)');
  t.notOk(sent(2 + BAND_HEARTBEAT_SLOTS, [0, 0]), 'zero: not even a heartbeat');
  t.ok(sent(20, [1, 0]), 'a change');
  t.notOk(sent(21, [1, 0]), 'the same count');
  t.ok(sent(20 + BAND_HEARTBEAT_SLOTS, [1, 0]), 'the heartbeat, before the others would age it out');
  t.ok(BAND_HEARTBEAT_SLOTS < BAND_STALE_SLOTS);
  t.ok(sent(31, [0, 0]), 'back to zero: said once');
});

/** Every task offloaded to the server `target(ied)` names, whatever the observation. */
function offloading(model: ModelHandle, target: (ied: number) => number): ModelHandle {
  const session = (ied: number): ActorSession => ({ engine: 'node', hiddenSize: 0, decide: () => Promise.resolve({ action: target(ied), micros: 1, hidden: new Float32Array(0) }), release: () => Promise.resolve() });
  return { ...model, sessions: new Map([...model.sessions.keys()].map((i) => [i, session(i)])) };
}

/** Gateways serving IEDs {0,1} and (when `both`) {2,3} offload one task per IED at once; the mean sharers of their uploads. */
async function meanSharers(scenario: Scenario, target: (ied: number) => number, both: boolean): Promise<{ mean: number; uploads: number }> {
  const broker = await startAedes();
  const { connect, endAll } = clientPool(broker.url);
  const watcher = await connect('band-watcher');
  const offloads: Offload[] = [];
  watcher.on('message', (_topic, payload) => offloads.push(JSON.parse(payload.toString()) as Offload));
  await watcher.subscribeAsync('gmel/v1/edge/+/offload', { qos: 1 });
  const halves = both ? [[0, 1], [2, 3]] : [[0, 1]];
  const models: ModelHandle[] = [];
  const gateways: IedGatewayRuntime[] = [];
  for (const ieds of halves) {
    const model = await loadModelHandle('models/gmel2024-amarl', scenario, ieds, 'node');
    models.push(model);
    gateways.push(await IedGatewayRuntime.create({ scenario, iedIds: ieds, model: offloading(model, target), mqtt: await connect(`band-gw-${ieds[0]}`), clock: systemClock, epochMs: 0, logger }));
  }
  await new Promise((r) => setTimeout(r, 300)); // a few slots of band reports
  const createdAt = Date.now();
  await Promise.all(gateways.flatMap((g, k) => (halves[k] as number[]).map((i) => g.onTask({ v: 1, taskId: `band-${i}`, iedId: i, sizeMbit: 24, density: 0.02, deadlineSeconds: 2.5, createdAt }))));
  await new Promise((r) => setTimeout(r, 2700)); // past the deadline: every upload finished or dropped
  for (const g of gateways) await g.close();
  for (const m of models) await releaseModel(m);
  await endAll();
  await broker.close();
  const mine = offloads.filter((o) => o.iedId <= 1);
  return { mean: mine.reduce((a, o) => a + (o.uplinkSharers ?? 1), 0) / Math.max(1, mine.length), uploads: mine.length };
}

t.test('two gateways share a band: per-server spectrum, the same server', { timeout: 30_000 }, async (t) => {
  const scenario = loadScenario('gmel2024', { ieds: 4 });
  const alone = await meanSharers(scenario, () => 1, false);
  t.equal(alone.uploads, 2, 'both uploads of IEDs 0 and 1 finished');
  t.equal(alone.mean, 2, 'alone: its two senders share the band');
  const shared = await meanSharers(scenario, () => 1, true);
  t.equal(shared.uploads, 2);
  // the other gateway's senders count from its next report on (about one slot later): between 2 and 4
  t.ok(shared.mean > 2.5 && shared.mean <= 4, `beside the other gateway: ${shared.mean.toFixed(2)} sharers on average (4 senders)`);
});

t.test('two gateways share one system band: shared spectrum, different servers', { timeout: 30_000 }, async (t) => {
  const scenario = loadScenario('gmel2024-paper', { ieds: 4, 'radio.bandwidthMHz': 10 });
  const byHalf = (i: number) => (i <= 1 ? 1 : 2);
  const shared = await meanSharers(scenario, byHalf, true);
  t.equal(shared.uploads, 2);
  t.ok(shared.mean > 2.5 && shared.mean <= 4, `IEDs 0 and 1 to server 1, 2 and 3 to server 2, one band: ${shared.mean.toFixed(2)} sharers`);
  const perServer = await meanSharers(loadScenario('gmel2024', { ieds: 4 }), byHalf, true);
  t.equal(perServer.mean, 2, 'per-server bands: the other gateway sends on another band');
});
