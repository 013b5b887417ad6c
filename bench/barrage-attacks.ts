/**
 * The barrage's attack phases (bench/barrage.ts runs them in order; the kill phases are its own), on the
 * rig of bench/barrage-rig.ts. Each attack is one small function returning what it sent and what the
 * broker refused; the runtimes' refusals and the legitimate tasks' fates are counted by the bench.
 */
import type { MqttClient } from 'mqtt';
import { topics } from '../protocol/topics.ts';
import { sleep, within, connect, publish, many, subscribe, endClient, Observer, Announcer, type Net, type Legit } from './barrage-rig.ts';

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

/** What the flood watches: the gateway's resident memory (each second) and its V8 heap in use (MiB). */
export interface FloodProbe {
  rssMB(): number;
  heapMB(): Promise<number>;
}

/** The flood: unique refused tasks (out-of-range / clock-skew) and malformed payloads from rogue-plant, 50 in flight at a time. */
export async function flood(x: AttackContext, seconds: number, probe: FloodProbe): Promise<Outcome & { rssStartMB: number; rssMaxMB: number | null; rssEndMB: number; heapStartMB: number; heapEndMB: number; samples: number[] }> {
  const samples: number[] = [];
  const rssStartMB = probe.rssMB();
  const heapStartMB = await probe.heapMB();
  const until = Date.now() + seconds * 1000;
  const sampler = setInterval(() => samples.push(Math.round(probe.rssMB())), 1000);
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
  return { sent, refusedByBroker: refused, rssStartMB, rssMaxMB: finite.length ? Math.max(...finite) : null, rssEndMB: probe.rssMB(), heapStartMB, heapEndMB: await probe.heapMB(), samples };
}
