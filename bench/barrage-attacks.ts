/**
 * The barrage's machinery (bench/barrage.ts): the broker identities (the plant's, plus attackers'
 * own identities carrying the rights of the role they abuse), MQTT operations that always end, the
 * runtime processes, the observer of results and decisions, and the legitimate announcer.
 *
 * | piece       | what                                                                                  |
 * |-------------|---------------------------------------------------------------------------------------|
 * | barrageAuth | deploy/acl.ts's identities + `rogue-plant` (the plant's rules) + `rogue-edge-2` (edge 2's) |
 * | connect / publish / subscribe | bounded by a timeout: the bench never waits on a dead session   |
 * | Processes   | `gmel ied` / `gmel edge` children: start (healthy), kill -9, refusal counters kept across restarts |
 * | Observer    | every result and decision by task id: distinct payloads, arrival times               |
 * | Announcer   | 40 legitimate tasks/s; a task counts once its PUBACK came back                          |
 *
 * Why own identities: the broker runs with `use_username_as_clientid`, so a second connection with a
 * username already connected takes the session over and kicks the first one off. An attacker that
 * reused `plant` or `edge-2` would kick the legitimate announcer or edge server 2 off (a DoS the ACL
 * cannot prevent: the impersonation phase shows it with a dedicated session).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { edgeRules, newPassword, passwdLine, plantIdentities, renderAcl, serviceIdentities, type Identity } from '../deploy/acl.ts';
import type { Scenario } from '../core/scenario/schema.ts';
import { Rng } from '../core/rng.ts';
import { drawTaskParameters } from '../sim/task-model.ts';
import { topics } from '../protocol/topics.ts';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** MQTT operations and HTTP scrapes never wait longer than this */
export const OP_TIMEOUT_MS = 5000;

/** `p`, or `fallback` once `ms` passed (or if `p` fails). */
export function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((r) => (timer = setTimeout(() => r(fallback), ms)));
  return Promise.race([p.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}

export interface Net {
  readonly url: string;
  password(user: string): string;
}

/** The plant's identities (deploy/acl.ts) plus the attackers' own, rendered as Mosquitto's two files. */
export function barrageAuth(p: { ieds: number; edgeServers: number; gateway: { first: number; last: number } }): { acl: string; passwd: string; password(user: string): string } {
  const plant = serviceIdentities().find((s) => s.username === 'plant') as Identity;
  const rogues: Identity[] = [
    { username: 'rogue-plant', role: 'plant', rules: plant.rules },
    { username: 'rogue-edge-2', role: 'edge', rules: edgeRules(2), edgeServer: 2 },
  ];
  const ids = [...plantIdentities({ ieds: p.ieds, edgeServers: p.edgeServers, gateways: [p.gateway] }), ...rogues];
  const passwords = new Map(ids.map((id) => [id.username, newPassword()]));
  const password = (user: string) => passwords.get(user) ?? 'none';
  return {
    acl: renderAcl(ids, 'the barrage bench: the plant of `gmel deploy acl` plus rogue identities with the rights of the roles they abuse'),
    passwd: ids.map((id) => passwdLine(id.username, password(id.username))).join('\n') + '\n',
    password,
  };
}

/** A client (MQTT 5, clean session), or undefined if the broker refused it or did not answer. */
export function connect(net: Net, user: string | undefined, o: { clientId?: string; password?: string; reconnect?: boolean } = {}): Promise<MqttClient | undefined> {
  const client = mqtt.connect(net.url, {
    protocolVersion: 5, clientId: o.clientId ?? `barrage-${user ?? 'anon'}-${Math.random().toString(36).slice(2, 8)}`,
    reconnectPeriod: o.reconnect ? 1000 : 0, connectTimeout: 3000,
    ...(user ? { username: user, password: o.password ?? net.password(user) } : {}),
  });
  client.on('error', () => {}); // refusals are read from CONNACK / PUBACK, never thrown
  const up = new Promise<MqttClient | undefined>((resolve) => {
    client.once('connect', () => resolve(client));
    client.once('close', () => resolve(undefined));
  });
  return within(up, OP_TIMEOUT_MS, undefined).then((c) => c ?? (client.end(true), undefined));
}

/** 0: accepted by the broker; the PUBACK's reason code (≥ 0x80) if refused; -1: failed otherwise; -2: no PUBACK in time. */
export function publish(c: MqttClient, topic: string, payload: string, retain = false): Promise<number> {
  const p = c.publishAsync(topic, payload, { qos: 1, retain }).then(() => 0, (err: { code?: number }) => (typeof err.code === 'number' ? err.code : -1));
  return within(p, OP_TIMEOUT_MS, -2);
}

/** `k` publishes one after another; how many the broker refused. */
export async function many(c: MqttClient, k: number, make: (j: number) => [string, string, boolean?]): Promise<number> {
  let refused = 0;
  for (let j = 0; j < k; j++) {
    const [topic, payload, retain] = make(j);
    if ((await publish(c, topic, payload, retain)) >= 0x80) refused++;
  }
  return refused;
}

/** true if the broker granted the subscription (SUBACK < 0x80). */
export function subscribe(c: MqttClient, topic: string): Promise<boolean> {
  return within(c.subscribeAsync(topic, { qos: 1 }).then((g) => g.every((s) => s.qos < 0x80)), OP_TIMEOUT_MS, false);
}

export const endClient = (c: MqttClient | undefined) => (c ? within(c.endAsync(true), 2000, undefined) : Promise.resolve());

const fetchText = (url: string) => fetch(url, { signal: AbortSignal.timeout(2000) }).then((r) => (r.ok ? r.text() : ''), () => '');

/**
 * The runtime processes. Their refusal counters (`gmel_*_messages_rejected_total`) restart at 0 with
 * the process: kill9 reads them first and keeps the sum, so refusals() never goes backwards.
 * BENCH_BARRAGE_LOGS=DIR writes each process's output (log level warn) to DIR/<name>.log.
 */
export class Processes {
  private readonly children = new Map<string, ChildProcess>();
  private readonly ports = new Map<string, number>();
  private readonly base = new Map<string, Map<string, number>>();
  private readonly last = new Map<string, Map<string, number>>();

  constructor(private readonly net: Net, private readonly sets: readonly string[], private readonly freePort: () => Promise<number>, private readonly logDir = process.env.BENCH_BARRAGE_LOGS) {}

  /** Starts `gmel <args>` as `user`; resolves once /healthz answers ok (throws after 60 s). */
  async start(name: string, args: readonly string[], user: string): Promise<void> {
    const port = this.ports.get(name) ?? (await this.freePort());
    this.ports.set(name, port);
    const level = this.logDir ? 'warn' : 'error';
    const out = this.logDir ? openSync(join(this.logDir, `${name}.log`), 'a') : 'ignore';
    const argv = ['bin/gmel.js', ...args, ...this.sets, '--log-level', level, '--username', user, '--password', this.net.password(user), '--http-port', String(port)];
    this.children.set(name, spawn(process.execPath, argv, { stdio: ['ignore', out, out] }));
    this.last.set(name, new Map());
    for (let k = 0; k < 300; k++) {
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`${name} did not come up`);
  }

  /** the process's refusals now, by reason (its last known counts if it does not answer) */
  private async scrape(name: string): Promise<void> {
    const text = await fetchText(`http://127.0.0.1:${this.ports.get(name)}/metrics`);
    if (!text) return;
    const counts = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^gmel_(ied|edge)_messages_rejected_total\{.*reason="([^"]+)".*\} (\S+)$/.exec(line);
      const key = m && `${m[1] === 'ied' ? 'gateway' : 'edge'}:${m[2]}`;
      if (m && key) counts.set(key, (counts.get(key) ?? 0) + Number(m[3]));
    }
    this.last.set(name, counts);
  }

  /** every refusal counted by every process since the bench began, restarts included, by `gateway|edge:reason` */
  async refusals(): Promise<Map<string, number>> {
    await Promise.all([...this.children.keys()].map((n) => this.scrape(n)));
    const sum = new Map<string, number>();
    for (const n of this.children.keys()) for (const counts of [this.base.get(n), this.last.get(n)]) for (const [k, v] of counts ?? []) sum.set(k, (sum.get(k) ?? 0) + v);
    return sum;
  }

  async kill9(name: string): Promise<void> {
    await this.scrape(name);
    const base = this.base.get(name) ?? new Map<string, number>();
    for (const [k, v] of this.last.get(name) ?? []) base.set(k, (base.get(k) ?? 0) + v);
    this.base.set(name, base);
    this.last.set(name, new Map());
    const c = this.children.get(name) as ChildProcess;
    if (c.exitCode !== null || c.signalCode !== null) return;
    await within(new Promise((r) => (c.once('exit', r), c.kill('SIGKILL'))), OP_TIMEOUT_MS, undefined);
  }

  pid(name: string): number | undefined {
    return this.children.get(name)?.pid;
  }

  /** names of the processes that exited without being killed here */
  get crashed(): string[] {
    return [...this.children].filter(([, c]) => c.exitCode !== null && c.signalCode === null).map(([n, c]) => `${n} (exit ${c.exitCode})`);
  }

  killAll(): void {
    for (const c of this.children.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

interface Seen {
  readonly payloads: Set<string>;
  messages: number;
  lastAt: number;
  /** results: the outcome was completed; decisions: the action */
  completed: boolean;
  action: number;
  readonly firstAt: number;
}

/** Every result and decision the plant published, by task id (what a KPI consumer or the twin sees). */
export class Observer {
  readonly results = new Map<string, Seen>();
  readonly decisions = new Map<string, Seen>();
  /** results carrying the forged edge results' marker latency: an accepted forgery */
  forgedAccepted = 0;

  constructor(private readonly forgedLatency: number) {}

  handle(topic: string, payload: Buffer): void {
    const text = payload.toString();
    let m: { taskId?: string; outcome?: string; action?: number; latencySeconds?: number };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return;
    }
    if (typeof m.taskId !== 'string') return;
    const now = Date.now();
    const isDecision = topic.endsWith('/decision');
    const map = isDecision ? this.decisions : this.results;
    const s = map.get(m.taskId) ?? { payloads: new Set<string>(), messages: 0, firstAt: now, lastAt: now, completed: false, action: m.action ?? 0 };
    map.set(m.taskId, s);
    s.payloads.add(text);
    s.messages++;
    s.lastAt = now;
    if (!isDecision && m.outcome === 'completed') s.completed = true;
    if (!isDecision && m.latencySeconds === this.forgedLatency) this.forgedAccepted++;
  }
}

export interface Legit {
  readonly taskId: string;
  readonly iedId: number;
  readonly phase: string;
  readonly createdAt: number;
}

/** The plant's legitimate announcer: one task every `everyMs`, round robin over `served`. */
export class Announcer {
  readonly legit: Legit[] = [];
  /** per phase: announcements the broker did not acknowledge in time (not counted as tasks) */
  readonly failed = new Map<string, number>();
  phase = 'baseline';
  private n = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly client: MqttClient, private readonly scenario: Scenario, private readonly served: readonly number[]) {}

  start(everyMs: number): void {
    const rng = new Rng(11);
    this.timer = setInterval(() => {
      const iedId = this.served[this.n % this.served.length] as number;
      const taskId = `legit-${this.n++}`;
      const createdAt = Date.now();
      const phase = this.phase;
      const body = JSON.stringify({ v: 1, taskId, iedId, ...drawTaskParameters(rng, this.scenario.task), createdAt });
      const p = publish(this.client, topics.task(iedId), body).then((code) => {
        if (code === 0) this.legit.push({ taskId, iedId, phase, createdAt });
        else this.failed.set(phase, (this.failed.get(phase) ?? 0) + 1);
      });
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }, everyMs);
  }

  /** the last `k` tasks announced */
  recent(k: number): Legit[] {
    return this.legit.slice(-k);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all([...this.inFlight]);
  }
}

/** The attackers' sessions: `rogue-plant` (the plant's rights), `ied-8` (the compromised IED), `rogue-edge-2` (edge 2's rights). */
export interface Attackers {
  atk: MqttClient;
  ied8: MqttClient;
  rogueEdge: MqttClient;
}

export interface AttackContext {
  readonly net: Net;
  readonly served: readonly number[];
  readonly a: Attackers;
  readonly announcer: Announcer;
  readonly observer: Observer;
  /** the latencySeconds every forged result carries, so an accepted one is seen */
  readonly forgedLatency: number;
}

export interface Outcome {
  readonly sent: number;
  readonly refusedByBroker: number;
  /** more about what happened, appended to the row's `what` */
  readonly note?: string;
}

export interface Attack {
  readonly attack: string;
  readonly what: string;
  body(x: AttackContext): Promise<Outcome>;
}

/** A client that must connect (the bench's own sessions). */
export async function mustConnect(net: Net, user: string, o: { reconnect?: boolean } = {}): Promise<MqttClient> {
  const c = await connect(net, user, o);
  if (!c) throw new Error(`barrage: ${user} could not connect to the broker`);
  return c;
}

const task = (iedId: number, over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, taskId: `atk-${Math.random().toString(36).slice(2)}`, iedId, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: Date.now(), ...over });
const result = (x: AttackContext, taskId: string, iedId: number, edgeServerId?: number) =>
  JSON.stringify({ v: 1, taskId, iedId, outcome: 'completed', stage: 'edge', latencySeconds: x.forgedLatency, at: Date.now(), ...(edgeServerId ? { edgeServerId } : {}) });
const on = (x: AttackContext, j: number) => x.served[j % x.served.length] as number;

async function strangers(x: AttackContext): Promise<Outcome> {
  let refused = 0;
  for (let j = 0; j < 20; j++) {
    const c = await connect(x.net, j % 2 ? 'gateway-0-7' : undefined, { clientId: `stranger-${j}`, password: 'guess' });
    if (!c) refused++;
    else {
      if ((await publish(c, topics.task(0), task(0))) >= 0x80) refused++;
      await endClient(c);
    }
  }
  return { sent: 20, refusedByBroker: refused };
}

/** ied-8: results and edge results for IEDs 0–7; rogue-edge-2: on edge 1's topic, then on its own for tasks offloaded to edge 1 */
async function forgedResults(x: AttackContext): Promise<Outcome> {
  const { ied8, rogueEdge } = x.a;
  const recent = x.announcer.recent(100);
  const victim = (j: number) => recent[j % Math.max(1, recent.length)] ?? { taskId: 'x', iedId: on(x, j) };
  let refused = await many(ied8, 100, (j) => {
    const l = victim(j);
    return [j % 2 ? topics.result(l.iedId) : topics.edgeResult(l.iedId, 1 + (j % 5)), result(x, l.taskId, l.iedId)];
  });
  refused += await many(rogueEdge, 20, (j) => [topics.edgeResult(victim(j).iedId, 1), result(x, victim(j).taskId, victim(j).iedId, 1)]);
  let sent = 120;
  const hit = new Map<string, number>();
  for (let k = 0; k < 30; k++) {
    await sleep(100);
    // offloaded to another server (edge 1 first) a while ago, so most are uploaded (on the gateway's offload ledger), and not resolved yet
    const victims = x.announcer.recent(80).filter((l) => {
      const d = x.observer.decisions.get(l.taskId);
      return d !== undefined && d.action !== 0 && d.action !== 2 && Date.now() - d.firstAt > 200 && !x.observer.results.has(l.taskId) && !hit.has(l.taskId);
    }).sort((a, b) => Number(x.observer.decisions.get(a.taskId)?.action !== 1) - Number(x.observer.decisions.get(b.taskId)?.action !== 1));
    for (const l of victims.slice(0, 5)) {
      hit.set(l.taskId, x.observer.decisions.get(l.taskId)?.action ?? 0);
      sent++;
      if ((await publish(rogueEdge, topics.edgeResult(l.iedId, 2), result(x, l.taskId, l.iedId, 2))) >= 0x80) refused++;
    }
  }
  const toEdge1 = [...hit.values()].filter((m) => m === 1).length;
  return { sent, refusedByBroker: refused, note: `${hit.size} of them on edge-result/2 for tasks offloaded elsewhere: ${toEdge1} to edge 1, ${hit.size - toEdge1} to edges 3–5; forged results that came out as results: ${x.observer.forgedAccepted}` };
}

/** a second connection with ied-8's stolen credentials (asking for the gateway's client id) subscribes to IED 0's task and edge results */
async function impersonation(x: AttackContext): Promise<Outcome> {
  const kicked = within(new Promise<boolean>((r) => x.a.ied8.once('close', () => r(true))), 3000, false);
  const imp = await connect(x.net, 'ied-8', { clientId: 'gmel-ied-0-7' });
  const wasKicked = await kicked;
  const wanted = [topics.task(0), topics.edgeResultsOf(0)];
  const got = [0, 0];
  let granted = [false, false];
  if (imp) {
    imp.on('message', (topic) => {
      const k = topic === wanted[0] ? 0 : topic.startsWith(topics.edgeResultsOf(0).slice(0, -1)) ? 1 : -1;
      if (k >= 0) got[k]!++;
    });
    granted = await Promise.all(wanted.map((t) => subscribe(imp, t)));
    await sleep(2000);
    await endClient(imp);
  }
  x.a.ied8 = await mustConnect(x.net, 'ied-8'); // the device's own session back, for the later phases
  const refused = wanted.filter((_, k) => !granted[k] || (got[k] as number) === 0).length;
  return {
    sent: 2,
    refusedByBroker: refused,
    note: `SUBACK granted ${granted.filter(Boolean).length} of 2, messages delivered ${got[0]! + got[1]!}; the first ied-8 session was ${wasKicked ? '' : 'NOT '}kicked off by the second connection (use_username_as_clientid: a stolen credential is a DoS on its owner the ACL cannot prevent)`,
  };
}

export const ATTACKS: readonly Attack[] = [
  { attack: 'baseline', what: 'no attack', body: async () => ({ sent: 0, refusedByBroker: 0 }) },
  { attack: 'strangers', what: 'anonymous and wrong-password (gateway-0-7) clients try to connect and publish a task each', body: strangers },
  {
    attack: 'malformed', what: 'rogue-plant (the plant\'s rights) sends bad JSON, schema-invalid, oversized, id-mismatched and __proto__ tasks',
    body: async (x) => ({
      sent: 200,
      refusedByBroker: await many(x.a.atk, 200, (j) => {
        const iedId = on(x, j);
        const bad = [`{"v":1,"taskId":`, JSON.stringify({ v: 1, taskId: 'x', iedId }), 'x'.repeat(70_000), task(on(x, j + 1)), `{"__proto__":{"polluted":1},"v":1}`];
        return [topics.task(iedId), bad[j % bad.length] as string];
      }),
    }),
  },
  {
    attack: 'absurd', what: 'schema-valid tasks with createdAt far ahead (the 2343 poison), deadlines long past, sizes/densities/deadlines above the plant',
    body: async (x) => ({
      sent: 200,
      refusedByBroker: await many(x.a.atk, 200, (j) => {
        const bad = [{ createdAt: 11795966313051 }, { createdAt: Date.now() - 600_000 }, { sizeMbit: 1e4 }, { density: 1e3 }, { deadlineSeconds: 3600 }];
        return [topics.task(on(x, j)), task(on(x, j), bad[j % bad.length])];
      }),
    }),
  },
  {
    attack: 'replay', what: 'accepted legitimate tasks announced again (same id, same IED) by rogue-plant, the first one retained',
    body: async (x) => {
      const done = x.announcer.legit.filter((l) => l.phase !== 'replay').slice(-100);
      return { sent: done.length, refusedByBroker: await many(x.a.atk, done.length, (j) => {
        const l = done[j] as Legit;
        return [topics.task(l.iedId), JSON.stringify({ v: 1, taskId: l.taskId, iedId: l.iedId, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: l.createdAt }), j === 0];
      }) };
    },
  },
  { attack: 'forged-results', what: 'ied-8 publishes results and edge results for IEDs 0–7; rogue-edge-2 (edge 2\'s rights) publishes on edge-result/1, and on its own edge-result/2 for tasks offloaded to edge 1 (or 3–5; seen in decisions)', body: forgedResults },
  { attack: 'impersonation', what: 'a second connection with ied-8\'s credentials (client id gmel-ied-0-7) subscribes to IED 0\'s task and edge results', body: impersonation },
  {
    attack: 'ota', what: 'ied-8, rogue-plant and rogue-edge-2 publish a retained desired model for IED 0',
    body: async (x) => {
      let refused = 0;
      for (const c of [x.a.ied8, x.a.atk, x.a.rogueEdge]) refused += await many(c, 10, () => [topics.desiredModel(0), '{"v":1}', true]);
      return { sent: 30, refusedByBroker: refused };
    },
  },
  {
    attack: 'edge-hog', what: 'ied-8 (allowed to offload) sends edge 1 huge, far-deadline, stale and many valid offloads for one IED',
    body: async (x) => ({
      sent: 300,
      refusedByBroker: await many(x.a.ied8, 300, (j) => {
        const now = Date.now();
        const shapes = [{ sizeMbit: 1e4, density: 1e3, deadlineAt: now + 3_600_000 }, { sizeMbit: 10, density: 0.03, deadlineAt: now - 60_000 }, { sizeMbit: 30, density: 0.05, deadlineAt: now + 2000 }];
        return [topics.offload(1), JSON.stringify({ v: 1, taskId: `hog-${j}`, iedId: 8, edgeServerId: 1, createdAt: now - 10, uploadedAt: now, uplinkSeconds: 0.1, ...shapes[j % 3] })];
      }),
    }),
  },
];

/** The flood: unique refused tasks (out-of-range / clock-skew) and malformed payloads from rogue-plant, 50 in flight at a time; `rss` sampled each second. */
export async function flood(x: AttackContext, seconds: number, rss: () => number): Promise<Outcome & { rssStartMB: number; rssMaxMB: number | null; rssEndMB: number; samples: number[] }> {
  const samples: number[] = [];
  const rssStartMB = rss();
  const until = Date.now() + seconds * 1000;
  const sampler = setInterval(() => samples.push(Math.round(rss())), 1000);
  let sent = 0;
  let refused = 0;
  while (Date.now() < until) {
    const batch = Array.from({ length: 50 }, (_, j) => {
      const iedId = on(x, j);
      const k = sent + j;
      const payload = [task(iedId, { sizeMbit: 50 + (k % 9000) }), task(iedId, { createdAt: Date.now() + 60_000 + k }), `{"v":1,"taskId":"f${k}"`][k % 3] as string;
      return publish(x.a.atk, topics.task(iedId), payload);
    });
    sent += batch.length;
    refused += (await Promise.all(batch)).filter((c) => c >= 0x80).length;
  }
  clearInterval(sampler);
  const finite = samples.filter(Number.isFinite);
  return { sent, refusedByBroker: refused, rssStartMB, rssMaxMB: finite.length ? Math.max(...finite) : null, rssEndMB: rss(), samples };
}
