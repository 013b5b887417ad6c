/**
 * The barrage (`npm run bench -- barrage`, issue #10): real MQTT clients attack a plant on Mosquitto
 * with the ACL of `gmel deploy acl` on, while the plant's announcer keeps offering legitimate tasks.
 * The gateway (`gmel ied --ieds 0-7 --journal`, identity gateway-0-7) and the five edge servers
 * (`gmel edge`, identities edge-1..5) each run in their own process. The attackers have identities of
 * their own with the rights of the role they abuse (bench/barrage-rig.ts says why): `rogue-plant`
 * (the announcer's), `rogue-edge-2` (edge server 2's), and `ied-8`, a compromised IED. Per attack
 * class, in sequence (each phase at least PHASE_MS, then until the runtimes' refusal counters settle):
 *
 * | column                   | counts                                                                  |
 * |--------------------------|-------------------------------------------------------------------------|
 * | sent                     | attack messages (or connection / subscription attempts) tried            |
 * | refusedByBroker          | refused by Mosquitto: CONNACK refused, PUBACK reason ≥ 0x80 (MQTT 5), a subscription that delivers nothing |
 * | refusedByRuntime         | refusals counted by the runtimes (`*_messages_rejected_total` deltas, summed over restarts); by reason in runtimeRefusals |
 * | legitTasks               | legitimate tasks the row owns (see attribution), counted once the broker acknowledged them |
 * | announceFailed           | legitimate announcements of the phase the broker did not acknowledge within 5 s |
 * | tasksLost                | legitimate tasks with no result at the end (after every deadline + grace) |
 * | tasksRunTwice            | legitimate tasks with more than one DISTINCT result payload             |
 * | repeatedIdenticalResults | legitimate tasks whose one result was delivered more than once, identical (at-least-once after a restart: harmless) |
 * | redecided                | legitimate tasks with more than one distinct decision (a restarted gateway deciding a task again) |
 * | completion               | completed ÷ legitTasks                                                  |
 * | decisionDelayP99Ms       | 99th percentile of announced → decided (the first decision's decidedAt): how far behind the gateway ran |
 * | outageSeconds            | kill rows: SIGKILL → the restarted process healthy                       |
 *
 * Attribution: a task belongs to the phase it was announced in, except that a kill phase owns every
 * task a kill could touch: announced from (kill − longest deadline − watchdog grace − 1 s) until the
 * restarted process answered /healthz, and not resolved before the kill (no result, or a result seen
 * after it). The two `all` rows sum the rows with and without the journal: every task counts once.
 *
 * The kill-9 classes are run twice: with the journal (as deployed) and without (the gateway as it was
 * before issue #10's journal). The flood reports the gateway's resident memory (and V8 heap in use)
 * under BENCH_FLOOD_SECONDS (default 60) of unique invalid messages, and once it has worked them off.
 * BENCH_BARRAGE_LOGS=DIR keeps the processes' logs.
 */
import type { MqttClient } from 'mqtt';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMosquitto, hasMosquitto, freePort } from '../plant/brokers.ts';
import { loadScenario } from '../core/scenario/load.ts';
import { subscriptions } from '../protocol/topics.ts';
import { OFFLOAD_GRACE_MS } from '../runtime-ied/gateway.ts';
import { Announcer, Observer, Processes, barrageAuth, endClient, sleep, subscribe, unanswered, within, type Legit, type Net } from './barrage-rig.ts';
import { ATTACKS, flood, mustConnect, type AttackContext, type Outcome } from './barrage-attacks.ts';

const IEDS = 9;
const SERVED = [0, 1, 2, 3, 4, 5, 6, 7];
const EDGES = [1, 2, 3, 4, 5];
const ANNOUNCE_EVERY_MS = 25; // 40 legitimate tasks/s, round robin over the served IEDs
const PHASE_MS = 4000;
/** every forged result carries this latency: one that comes out as a result was accepted */
const FORGED_LATENCY = 0.000321;

interface Phase extends Outcome {
  readonly attack: string;
  readonly what: string;
  readonly journal: boolean;
  readonly refusedByRuntime: number;
  readonly runtimeRefusals: Record<string, number>;
  /** kill phases: from the SIGKILL until the restarted process was healthy */
  readonly outage?: { readonly from: number; readonly to: number };
}
type Body = () => Promise<Outcome & { outage?: Phase['outage'] }>;

interface Plant {
  readonly procs: Processes;
  readonly x: AttackContext;
  readonly journal: { on: boolean; dir: string };
  startGateway(): Promise<void>;
}

/** per-reason growth of the refusal counters from `before` until they stop moving (at most 10 s) */
async function settledRefusals(procs: Processes, before: Map<string, number>): Promise<Record<string, number>> {
  let last = await procs.refusals();
  for (let k = 0; k < 20; k++) {
    await sleep(500);
    const now = await procs.refusals();
    const same = [...now].every(([r, v]) => last.get(r) === v);
    last = now;
    if (same) break;
  }
  const delta: Record<string, number> = {};
  for (const [r, v] of last) if (v - (before.get(r) ?? 0) > 0) delta[r] = v - (before.get(r) ?? 0);
  return delta;
}

async function runPhase(p: Plant, attack: string, what: string, body: Body): Promise<Phase> {
  p.x.announcer.phase = attack;
  const before = await p.procs.refusals();
  const t0 = Date.now();
  const r = await body();
  await sleep(Math.max(0, PHASE_MS - (Date.now() - t0)));
  const runtimeRefusals = await settledRefusals(p.procs, before);
  const refusedByRuntime = Object.values(runtimeRefusals).reduce((a, b) => a + b, 0);
  return { attack, what: r.note ? `${what} (${r.note})` : what, journal: p.journal.on, sent: r.sent, refusedByBroker: r.refusedByBroker, refusedByRuntime, runtimeRefusals, ...(r.outage ? { outage: r.outage } : {}) };
}

/** SIGKILL of `name` one second into the phase, restarted at once */
function killBody(p: Plant, name: string, restart: () => Promise<void>): Body {
  return async () => {
    await sleep(1000);
    const from = Date.now();
    await p.procs.kill9(name);
    await restart();
    return { sent: 0, refusedByBroker: 0, outage: { from, to: Date.now() } };
  };
}

function gatewayRssMB(p: Plant): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.procs.pid('gateway')}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  } catch {
    return NaN;
  }
}

async function runAll(p: Plant, floodSeconds: number): Promise<{ phases: Phase[]; flood: Record<string, unknown> }> {
  const phases: Phase[] = [];
  for (const a of ATTACKS) phases.push(await runPhase(p, a.attack, a.what, () => a.body(p.x)));
  const startEdge1 = () => p.procs.start('edge-1', ['edge', '--id', '1'], 'edge-1');
  const crash = async (label: string) => {
    phases.push(await runPhase(p, `kill-9 gateway${label}`, `SIGKILL of the gateway mid-run, restarted at once (${p.journal.on ? 'same journal' : 'no journal'})`, killBody(p, 'gateway', p.startGateway)));
    phases.push(await runPhase(p, `kill-9 edge server 1${label}`, 'SIGKILL of edge server 1 mid-run, restarted at once', killBody(p, 'edge-1', startEdge1)));
  };
  await crash('');
  let floodOut: Record<string, unknown> = {};
  const heap = async () => (await p.procs.gauge('gateway', 'nodejs_heap_size_used_bytes')) / 2 ** 20;
  phases.push(await runPhase(p, 'flood', `${floodSeconds} s of unique refused tasks (out-of-range, clock-skew) and malformed payloads from rogue-plant, 50 in flight`, async () => {
    const f = await flood(p.x, floodSeconds, { rssMB: () => gatewayRssMB(p), heapMB: heap });
    floodOut = { seconds: floodSeconds, sent: f.sent, messagesPerSecond: Math.round(f.sent / floodSeconds), rssStartMB: round1(f.rssStartMB), rssMaxMB: f.rssMaxMB, rssEndMB: round1(f.rssEndMB), heapUsedStartMB: round1(f.heapStartMB), heapUsedEndMB: round1(f.heapEndMB), samples: f.samples };
    return f;
  }));
  // once the gateway has worked off the flood (the refusal counters settled)
  Object.assign(floodOut, { rssAfterMB: round1(gatewayRssMB(p)), heapUsedAfterMB: round1(await heap()) });
  // before issue #10's journal: the same crashes with a gateway that keeps none
  phases.push(await runPhase(p, 'baseline (no journal)', 'SIGKILL of the journaling gateway, restarted without --journal', killBody(p, 'gateway', async () => {
    p.journal.on = false;
    p.journal.dir = mkdtempSync(join(tmpdir(), 'gmel-barrage-'));
    await p.startGateway();
  })));
  await crash(' (no journal)');
  return { phases, flood: floodOut };
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/** the row a task counts in (the attribution of the header) */
function ownerOf(l: Legit, phases: readonly Phase[], obs: Observer, horizonMs: number): string {
  for (const ph of phases) {
    const w = ph.outage;
    if (!w || l.createdAt > w.to || l.createdAt < w.from - horizonMs) continue;
    const r = obs.results.get(l.taskId);
    if (!r || r.lastAt >= w.from) return ph.attack;
  }
  return l.phase;
}

/** the 99th percentile of the finite values, ms (null if none) */
function p99(values: number[]): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  return v.length ? Math.round(v[Math.min(v.length - 1, Math.floor(v.length * 0.99))] as number) : null;
}

function tally(tasks: readonly Legit[], obs: Observer) {
  const res = (l: Legit) => obs.results.get(l.taskId);
  const completed = tasks.filter((l) => res(l)?.completed).length;
  return {
    legitTasks: tasks.length,
    tasksLost: tasks.filter((l) => !res(l)).length,
    tasksRunTwice: tasks.filter((l) => (res(l)?.payloads.size ?? 0) > 1).length,
    repeatedIdenticalResults: tasks.filter((l) => { const r = res(l); return r !== undefined && r.messages > r.payloads.size; }).length,
    redecided: tasks.filter((l) => (obs.decisions.get(l.taskId)?.payloads.size ?? 0) > 1).length,
    decisionDelayP99Ms: p99(tasks.map((l) => (obs.decisions.get(l.taskId)?.decidedAt ?? NaN) - l.createdAt)),
    completion: tasks.length ? Math.round((completed / tasks.length) * 1000) / 1000 : null,
  };
}

/** legitimate tasks by their (first) decision: 0 local, m edge server m */
function decisionsByAction(obs: Observer): Record<string, number> {
  const by: Record<string, number> = {};
  for (const [taskId, d] of obs.decisions) {
    const k = d.action === 0 ? 'local' : `edge-${d.action}`;
    if (taskId.startsWith('legit-')) by[k] = (by[k] ?? 0) + 1;
  }
  return by;
}

function table(phases: readonly Phase[], p: Plant, horizonMs: number) {
  const { announcer, observer } = p.x;
  const owned = new Map<string, Legit[]>();
  for (const l of announcer.legit) {
    const o = ownerOf(l, phases, observer, horizonMs);
    owned.set(o, [...(owned.get(o) ?? []), l]);
  }
  const rows = phases.map((ph) => {
    const { attack, what, sent, refusedByBroker, refusedByRuntime, runtimeRefusals } = ph;
    const outage = ph.outage ? { outageSeconds: round1((ph.outage.to - ph.outage.from) / 1000) } : {};
    return { attack, what, sent, refusedByBroker, refusedByRuntime, runtimeRefusals, announceFailed: announcer.failed.get(attack) ?? 0, ...tally(owned.get(attack) ?? [], observer), ...outage };
  });
  const all = (journal: boolean) => {
    const mine = phases.filter((ph) => ph.journal === journal);
    const sum = (k: 'sent' | 'refusedByBroker' | 'refusedByRuntime' | 'announceFailed') => rows.filter((r) => mine.some((ph) => ph.attack === r.attack)).reduce((a, r) => a + r[k], 0);
    return { attack: `all ${journal ? 'with' : 'without'} the journal`, what: `every legitimate task of the ${mine.length} phases ${journal ? 'with' : 'without'} the journal, once`, sent: sum('sent'), refusedByBroker: sum('refusedByBroker'), refusedByRuntime: sum('refusedByRuntime'), announceFailed: sum('announceFailed'), ...tally(mine.flatMap((ph) => owned.get(ph.attack) ?? []), observer) };
  };
  return { rows, totals: [all(true), all(false)] };
}

/** the processes, the observer, the announcer and the attackers; every session also goes into `sessions` (closed at the end) */
async function setUp(procs: Processes, net: Net, scenario: ReturnType<typeof loadScenario>, sessions: MqttClient[]): Promise<Plant> {
  const journal = { on: true, dir: mkdtempSync(join(tmpdir(), 'gmel-barrage-')) };
  const startGateway = () => procs.start('gateway', ['ied', '--ieds', '0-7', ...(journal.on ? ['--journal', journal.dir] : [])], 'gateway-0-7');
  await Promise.all([startGateway(), ...EDGES.map((m) => procs.start(`edge-${m}`, ['edge', '--id', String(m)], `edge-${m}`))]);
  const session = async (user: string, reconnect = true) => {
    const c = await mustConnect(net, user, { reconnect });
    sessions.push(c);
    return c;
  };
  const observer = new Observer(FORGED_LATENCY);
  const watcher = await session('operator');
  watcher.on('message', (topic, payload) => observer.handle(topic, payload));
  if (!(await subscribe(watcher, subscriptions.allResults)) || !(await subscribe(watcher, subscriptions.allDecisions))) throw new Error('barrage: the observer could not subscribe');
  const announcer = new Announcer(await session('plant'), scenario, SERVED);
  // ied-8 does not reconnect by itself: the impersonation phase kicks it off and connects it again
  const a = { atk: await session('rogue-plant'), ied8: await session('ied-8', false), rogueEdge: await session('rogue-edge-2') };
  announcer.start(ANNOUNCE_EVERY_MS);
  return { procs, journal, startGateway, x: { net, served: SERVED, a, announcer, observer, forgedLatency: FORGED_LATENCY } };
}

export async function benchBarrage(o: { floodSeconds: number }): Promise<Record<string, unknown>> {
  if (!hasMosquitto) return { name: 'barrage', skipped: 'needs mosquitto (apt-get install mosquitto)' };
  const began = Date.now();
  unanswered.publishes = 0;
  const scenario = loadScenario('gmel2024', { ieds: IEDS });
  const auth = barrageAuth({ ieds: IEDS, edgeServers: EDGES.length, gateway: { first: 0, last: 7 } });
  const broker = await startMosquitto({
    files: { passwd: auth.passwd, 'mosquitto.acl': auth.acl },
    config: (dir) => `allow_anonymous false\npassword_file ${dir}/passwd\nacl_file ${dir}/mosquitto.acl\nuse_username_as_clientid true\nuser root\n`,
  });
  const net = { url: broker.url, password: auth.password };
  const procs = new Processes(net, ['--set', `ieds=${IEDS}`, '--broker', broker.url], freePort);
  const sessions: MqttClient[] = [];
  let p: Plant | undefined;
  // a bench stopped from outside (timeout, ^C) takes its processes and broker with it
  const stop = () => (procs.killAll(), void broker.close(), process.exit(130));
  process.once('SIGTERM', stop).once('SIGINT', stop);
  try {
    p = await setUp(procs, net, scenario, sessions);
    const { phases, flood: floodOut } = await runAll(p, o.floodSeconds);
    await p.x.announcer.stop();
    p.x.announcer.phase = 'done';
    const horizonMs = scenario.task.deadlineSeconds.max * 1000 + OFFLOAD_GRACE_MS + 1000;
    await sleep(horizonMs + 2000); // every legitimate task's deadline, the watchdog's grace, delivery
    const crashed = p.procs.crashed;
    const { rows, totals } = table(phases, p, horizonMs);
    const withJournal = totals[0] as (typeof totals)[number];
    return {
      name: 'barrage',
      plant: `gmel2024, ${IEDS} IEDs (0–7 served by one gateway process, 8 = the compromised device ied-8), ${EDGES.length} edge servers in their own processes, Mosquitto with the generated ACL (+ rogue-plant, rogue-edge-2); ${1000 / ANNOUNCE_EVERY_MS} legitimate tasks/s`,
      columns: 'see bench/barrage.ts: refusedByRuntime sums the runtimes\' rejected-message counters across restarts; tasksRunTwice: > 1 distinct result payload; repeatedIdenticalResults: the same result delivered again (at-least-once); a kill row owns the tasks the kill could touch',
      table: rows,
      totals,
      flood: { ...floodOut, note: 'gateway VmRSS, MiB, sampled each second while flooded' },
      decisionsByAction: decisionsByAction(p.x.observer),
      checks: { forgedResultsAccepted: p.x.observer.forgedAccepted, processesCrashed: crashed, publishesUnanswered: unanswered.publishes },
      wallSeconds: Math.round((Date.now() - began) / 1000),
      goal: { lostAndTwiceZeroWithJournal: withJournal.tasksLost === 0 && withJournal.tasksRunTwice === 0 && p.x.observer.forgedAccepted === 0 && crashed.length === 0 },
    };
  } finally {
    process.off('SIGTERM', stop).off('SIGINT', stop);
    procs.killAll();
    await p?.x.announcer.stop();
    await Promise.all([...new Set([...sessions, ...(p ? [p.x.a.ied8] : [])])].map(endClient));
    await within(broker.close(), 5000, undefined);
  }
}
