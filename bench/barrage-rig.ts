/**
 * The barrage's rig (bench/barrage.ts; the attacks are in bench/barrage-attacks.ts): the broker identities (the plant's, plus attackers'
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
import { closeSync, openSync } from 'node:fs';
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
  return within(p, OP_TIMEOUT_MS, -2).then(counted);
}

/** publishes the broker never acknowledged in time (or that failed without a reason code): 0 in a sound run */
export const unanswered = { publishes: 0 };
const counted = (code: number) => (code < 0 && unanswered.publishes++, code);

/** `k` publishes one after another (for at most 30 s); how many the broker refused. */
export async function many(c: MqttClient, k: number, make: (j: number) => [string, string, boolean?]): Promise<number> {
  let refused = 0;
  const until = Date.now() + 30_000;
  for (let j = 0; j < k && Date.now() < until; j++) {
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
    if (typeof out === 'number') closeSync(out); // the child has its own copy
    this.last.set(name, new Map());
    const until = Date.now() + 60_000;
    while (Date.now() < until) {
      if (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false)) return;
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

  /** one unlabelled gauge of the process's /metrics (NaN if it does not answer) */
  async gauge(name: string, metric: string): Promise<number> {
    const text = await fetchText(`http://127.0.0.1:${this.ports.get(name)}/metrics`);
    const line = text.split('\n').find((l) => l.startsWith(`${metric} `));
    return line ? Number(line.split(' ').pop()) : NaN;
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
  /** results: the outcome was completed; decisions: the action and when the gateway decided (its decidedAt) */
  completed: boolean;
  action: number;
  decidedAt: number;
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
    let m: { taskId?: string; outcome?: string; action?: number; latencySeconds?: number; decidedAt?: number };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return;
    }
    if (typeof m.taskId !== 'string') return;
    const now = Date.now();
    const isDecision = topic.endsWith('/decision');
    const map = isDecision ? this.decisions : this.results;
    const s = map.get(m.taskId) ?? { payloads: new Set<string>(), messages: 0, firstAt: now, lastAt: now, completed: false, action: m.action ?? 0, decidedAt: m.decidedAt ?? NaN };
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
