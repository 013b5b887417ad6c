/**
 * The barrage (`npm run bench -- barrage`, issue #10): real MQTT clients attack a plant on Mosquitto
 * with the ACL of `gmel deploy acl` on, while the plant's announcer keeps offering legitimate tasks.
 * The gateway (`gmel ied --ieds 0-7 --journal`, identity gateway-0-7) and the five edge servers
 * (`gmel edge`, identities edge-1..5) each run in their own process; IED 8's identity `ied-8` plays a
 * compromised device. Per attack class, in sequence:
 *
 * | column            | counts                                                                      |
 * |-------------------|-----------------------------------------------------------------------------|
 * | sent              | attack messages (or connection attempts) the attacker tried                 |
 * | refusedByBroker   | refused by Mosquitto: CONNACK refused, PUBACK reason ≥ 0x80 (MQTT 5)         |
 * | refusedByRuntime  | refusals counted by the runtimes (`*_messages_rejected_total` deltas)        |
 * | legitTasks        | legitimate tasks announced during the phase                                 |
 * | tasksLost         | legitimate tasks with no result at the end (after every deadline + grace)   |
 * | tasksRunTwice     | legitimate tasks with more than one result message                          |
 * | completion        | completed ÷ legitimate tasks of the phase                                   |
 *
 * The kill-9 classes are run twice: with the journal (as deployed) and without (the gateway as it was
 * before issue #10's journal), so the table shows both. The flood class reports the gateway's resident
 * memory under BENCH_FLOOD_SECONDS (default 60) of unique invalid messages.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerAuthFiles, parseCredentials } from '../deploy/acl.ts';
import { startMosquitto, hasMosquitto, freePort } from '../plant/brokers.ts';
import { loadScenario } from '../core/scenario/load.ts';
import { Rng } from '../core/rng.ts';
import { drawTaskParameters } from '../sim/task-model.ts';
import { subscriptions, topics } from '../protocol/topics.ts';
import { OFFLOAD_GRACE_MS } from '../runtime-ied/gateway.ts';

const IEDS = 9;
const SERVED = [0, 1, 2, 3, 4, 5, 6, 7];
const EDGES = [1, 2, 3, 4, 5];
const ANNOUNCE_EVERY_MS = 25; // 40 legitimate tasks/s, round robin over the served IEDs
const PHASE_MS = 4000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bin = 'bin/gmel.js';

interface Row { attack: string; what: string; sent: number; refusedByBroker: number; refusedByRuntime: number; legitTasks: number; tasksLost: number; tasksRunTwice: number; completion: number }

export async function benchBarrage(o: { floodSeconds: number }): Promise<Record<string, unknown>> {
  if (!hasMosquitto) return { name: 'barrage', skipped: 'needs mosquitto (apt-get install mosquitto)' };
  const scenario = loadScenario('gmel2024', { ieds: IEDS });
  const auth = brokerAuthFiles({ ieds: IEDS, edgeServers: EDGES.length, confDir: '/unused', gateways: [{ first: 0, last: 7 }] });
  const pw = (user: string) => parseCredentials(auth.files['credentials.json']).identities[user]?.password ?? 'none';
  const broker = await startMosquitto({
    files: { passwd: auth.files.passwd, 'mosquitto.acl': auth.files['mosquitto.acl'] },
    config: (dir) => `allow_anonymous false\npassword_file ${dir}/passwd\nacl_file ${dir}/mosquitto.acl\nuse_username_as_clientid true\nuser root\n`,
  });
  const sets = ['--set', `ieds=${IEDS}`, '--log-level', 'error', '--broker', broker.url];
  const children = new Map<string, ChildProcess>();
  const ports = new Map<string, number>();
  const start = async (name: string, args: string[], user: string) => {
    const port = ports.get(name) ?? (await freePort());
    ports.set(name, port);
    const c = spawn(process.execPath, [bin, ...args, ...sets, '--username', user, '--password', pw(user), '--http-port', String(port)], { stdio: 'ignore' });
    children.set(name, c);
    for (let k = 0; k < 300; k++) {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) return;
      await sleep(100);
    }
    throw new Error(`${name} did not come up`);
  };
  const kill9 = async (name: string) => {
    const c = children.get(name) as ChildProcess;
    await new Promise((r) => (c.once('exit', r), c.kill('SIGKILL')));
  };
  let journalDir = mkdtempSync(join(tmpdir(), 'gmel-barrage-'));
  let journalOn = true;
  const startGateway = () => start('gateway', ['ied', '--ieds', '0-7', ...(journalOn ? ['--journal', journalDir] : [])], 'gateway-0-7');
  await Promise.all([startGateway(), ...EDGES.map((m) => start(`edge-${m}`, ['edge', '--id', String(m)], `edge-${m}`))]);

  const connect = (user: string | undefined, clientId = `barrage-${user}-${Math.random().toString(36).slice(2, 8)}`) =>
    mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId, reconnectPeriod: 0, connectTimeout: 3000, ...(user ? { username: user, password: pw(user) } : {}) });
  /** 0: accepted by the broker; the PUBACK's reason code otherwise */
  const publish = (c: MqttClient, topic: string, payload: string, retain = false) => c.publishAsync(topic, payload, { qos: 1, retain }).then(() => 0, (err: { code?: number }) => err.code ?? -1);

  // the observer: every result and decision, by task id
  const observer = await connect('operator');
  const results = new Map<string, number>();
  const completed = new Set<string>();
  const decidedEdge = new Map<string, number>();
  observer.on('message', (topic, payload) => {
    const m = JSON.parse(payload.toString()) as { taskId: string; outcome?: string; action?: number };
    if (topic.endsWith('/decision')) decidedEdge.set(m.taskId, m.action ?? 0);
    else {
      results.set(m.taskId, (results.get(m.taskId) ?? 0) + 1);
      if (m.outcome === 'completed') completed.add(m.taskId);
    }
  });
  await observer.subscribeAsync([subscriptions.allResults, subscriptions.allDecisions], { qos: 1 });

  // the legitimate announcer
  const plant = await connect('plant');
  const rng = new Rng(11);
  const legit: { taskId: string; iedId: number; phase: string; createdAt: number }[] = [];
  let phase = 'baseline';
  let n = 0;
  const announcer = setInterval(() => {
    const iedId = SERVED[n % SERVED.length] as number;
    const taskId = `legit-${n++}`;
    const createdAt = Date.now();
    legit.push({ taskId, iedId, phase, createdAt });
    void plant.publishAsync(topics.task(iedId), JSON.stringify({ v: 1, taskId, iedId, ...drawTaskParameters(rng, scenario.task), createdAt }), { qos: 1 });
  }, ANNOUNCE_EVERY_MS);

  const refusals = async () => {
    let sum = 0;
    for (const [name, port] of ports) {
      const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
      for (const line of text.split('\n')) if (/^gmel_(ied|edge)_messages_rejected_total\{/.test(line)) sum += Number(line.split(' ').pop());
      void name;
    }
    return sum;
  };
  const rows: Omit<Row, 'legitTasks' | 'tasksLost' | 'tasksRunTwice' | 'completion'>[] = [];
  const run = async (attack: string, what: string, body: () => Promise<{ sent: number; refusedByBroker: number }>) => {
    phase = attack;
    const before = await refusals();
    const t0 = Date.now();
    const r = await body();
    await sleep(Math.max(0, PHASE_MS - (Date.now() - t0)));
    const after = await refusals();
    rows.push({ attack, what, ...r, refusedByRuntime: Math.max(0, after - before) });
  };
  const task = (iedId: number, over: Record<string, unknown> = {}) => JSON.stringify({ v: 1, taskId: `atk-${Math.random().toString(36).slice(2)}`, iedId, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: Date.now(), ...over });
  const many = async (c: MqttClient, k: number, make: (j: number) => [string, string, boolean?]) => {
    let refused = 0;
    for (let j = 0; j < k; j++) {
      const [topic, payload, retain] = make(j);
      if ((await publish(c, topic, payload, retain)) >= 0x80) refused++;
    }
    return refused;
  };

  await run('baseline', 'no attack', async () => ({ sent: 0, refusedByBroker: 0 }));
  await run('strangers', 'anonymous and wrong-password clients try to connect and publish a task each', async () => {
    let refused = 0;
    for (let j = 0; j < 20; j++) {
      const ok = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: `x${j}`, reconnectPeriod: 0, connectTimeout: 2000, ...(j % 2 ? { username: 'gateway-0-7', password: 'guess' } : {}) }).then((c) => (c.end(true), true), () => false);
      if (!ok) refused++;
    }
    return { sent: 20, refusedByBroker: refused };
  });
  const atk = await connect('plant');
  await run('malformed', 'the announcer identity sends bad JSON, schema-invalid, oversized, id-mismatched and __proto__ tasks', async () => ({
    sent: 200,
    refusedByBroker: await many(atk, 200, (j) => {
      const iedId = SERVED[j % 8] as number;
      const bad = [`{"v":1,"taskId":`, JSON.stringify({ v: 1, taskId: 'x', iedId }), 'x'.repeat(70_000), task((iedId + 1) % 8), `{"__proto__":{"polluted":1},"v":1}`];
      return [topics.task(iedId), bad[j % bad.length] as string];
    }),
  }));
  await run('absurd', 'schema-valid tasks with createdAt far ahead (the 2343 poison), deadlines long past, sizes/densities/deadlines above the plant', async () => ({
    sent: 200,
    refusedByBroker: await many(atk, 200, (j) => {
      const iedId = SERVED[j % 8] as number;
      const bad = [{ createdAt: 11795966313051 }, { createdAt: Date.now() - 600_000 }, { sizeMbit: 1e4 }, { density: 1e3 }, { deadlineSeconds: 3600 }];
      return [topics.task(iedId), task(iedId, bad[j % bad.length])];
    }),
  }));
  await run('replay', 'accepted tasks announced again (same id, same IED), one retained', async () => {
    const done = legit.filter((l) => l.phase !== 'replay').slice(-100);
    return { sent: done.length, refusedByBroker: await many(atk, done.length, (j) => {
      const l = done[j] as (typeof done)[number];
      return [topics.task(l.iedId), JSON.stringify({ v: 1, taskId: l.taskId, iedId: l.iedId, sizeMbit: 10, density: 0.03, deadlineSeconds: 1.5, createdAt: l.createdAt }), j === 0];
    }) };
  });
  const ied8 = await connect('ied-8');
  const edge2 = await connect('edge-2');
  await run('forged-results', 'ied-8 publishes results and edge results for IEDs 0–7; edge-2 publishes edge results for tasks offloaded to edge 1 (seen in decisions)', async () => {
    let refused = await many(ied8, 100, (j) => [j % 2 ? topics.result(j % 8) : topics.edgeResult(j % 8, 1), JSON.stringify({ v: 1, taskId: `legit-${n - 1 - j}`, iedId: j % 8, outcome: 'completed', stage: 'edge', latencySeconds: 0, at: Date.now() })]);
    let sent = 100;
    for (let k = 0; k < 30; k++) {
      await sleep(100);
      const victims = legit.slice(-40).filter((l) => decidedEdge.get(l.taskId) === 1 && !results.has(l.taskId));
      for (const l of victims.slice(0, 5)) {
        sent++;
        if ((await publish(edge2, topics.edgeResult(l.iedId, 1), JSON.stringify({ v: 1, taskId: l.taskId, iedId: l.iedId, edgeServerId: 1, outcome: 'completed', stage: 'edge', latencySeconds: 0, at: Date.now() }))) >= 0x80) refused++;
      }
    }
    return { sent, refusedByBroker: refused };
  });
  await run('impersonation', "ied-8's credentials with the gateway's client id subscribe to IED 0's tasks and edge results", async () => {
    const imp = await connect('ied-8', 'gmel-ied-0-7');
    let got = 0;
    imp.on('message', () => got++);
    const granted = await imp.subscribeAsync([topics.task(0), topics.edgeResultsOf(0)], { qos: 1 }).then((g) => g.filter((s) => s.qos < 0x80).length, () => 0);
    await sleep(2000);
    imp.end(true);
    // Mosquitto 2.0 grants a subscription its ACL forbids and then delivers nothing on it: what counts is `got`
    return { sent: 2 + got, refusedByBroker: 2 - (got > 0 ? Math.min(2, granted) : 0) };
  });
  await run('ota', 'ied-8, the announcer and edge-2 publish a retained desired model for IED 0', async () => ({
    sent: 30,
    refusedByBroker: (await many(ied8, 10, () => [topics.desiredModel(0), '{"v":1}', true])) + (await many(atk, 10, () => [topics.desiredModel(0), '{"v":1}', true])) + (await many(edge2, 10, () => [topics.desiredModel(0), '{"v":1}', true])),
  }));
  await run('edge-hog', 'ied-8 (allowed to offload) sends edge 1 huge, far-deadline, stale and many valid offloads for one IED', async () => ({
    sent: 300,
    refusedByBroker: await many(ied8, 300, (j) => {
      const now = Date.now();
      const shapes = [{ sizeMbit: 1e4, density: 1e3, deadlineAt: now + 3_600_000 }, { sizeMbit: 10, density: 0.03, deadlineAt: now - 60_000 }, { sizeMbit: 30, density: 0.05, deadlineAt: now + 2000 }];
      return [topics.offload(1), JSON.stringify({ v: 1, taskId: `hog-${j}`, iedId: 8, edgeServerId: 1, createdAt: now - 10, uploadedAt: now, uplinkSeconds: 0.1, ...shapes[j % 3] })];
    }),
  }));
  const crash = async (label: string) => {
    await run(`kill-9 gateway${label}`, 'SIGKILL of the gateway mid-run, restarted at once (same journal)', async () => {
      await sleep(1000);
      await kill9('gateway');
      await startGateway();
      return { sent: 0, refusedByBroker: 0 };
    });
    await run(`kill-9 edge server 1${label}`, 'SIGKILL of edge server 1 mid-run, restarted at once', async () => {
      await sleep(1000);
      await kill9('edge-1');
      await start('edge-1', ['edge', '--id', '1'], 'edge-1');
      return { sent: 0, refusedByBroker: 0 };
    });
  };
  await crash('');

  // the flood: unique invalid messages as fast as the attacker's PUBACKs come back; gateway RSS sampled
  const gatewayPid = () => (children.get('gateway') as ChildProcess).pid as number;
  const rssMB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${gatewayPid()}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
  const flood = { seconds: o.floodSeconds, sent: 0, rssStartMB: rssMB(), rssMaxMB: 0, rssEndMB: 0, samples: [] as number[] };
  await run('flood', `${o.floodSeconds} s of unique schema-valid but refused tasks (clock-skew/out-of-range) and malformed payloads, pipelined`, async () => {
    const until = Date.now() + o.floodSeconds * 1000;
    const sampler = setInterval(() => flood.samples.push(Math.round(rssMB())), 1000);
    let refused = 0;
    while (Date.now() < until) {
      const batch = Array.from({ length: 50 }, (_, j) => publish(atk, topics.task(SERVED[j % 8] as number), j % 2 ? task(SERVED[j % 8] as number, { sizeMbit: 1e4 + flood.sent }) : `{"v":1,"taskId":"f${flood.sent}-${j}"`));
      flood.sent += batch.length;
      refused += (await Promise.all(batch)).filter((c) => c >= 0x80).length;
    }
    clearInterval(sampler);
    flood.rssEndMB = rssMB();
    flood.rssMaxMB = Math.max(...flood.samples);
    return { sent: flood.sent, refusedByBroker: refused };
  });

  // before: the same crashes with a gateway that keeps no journal
  await kill9('gateway');
  journalOn = false;
  journalDir = mkdtempSync(join(tmpdir(), 'gmel-barrage-'));
  await startGateway();
  await run('baseline (no journal)', 'the gateway restarted without --journal', async () => ({ sent: 0, refusedByBroker: 0 }));
  await crash(' (no journal)');
  clearInterval(announcer);
  phase = 'done';
  await sleep(scenario.task.deadlineSeconds.max * 1000 + OFFLOAD_GRACE_MS + 3000);

  const table: Row[] = rows.map((r) => {
    const mine = legit.filter((l) => l.phase === r.attack);
    return {
      ...r,
      legitTasks: mine.length,
      tasksLost: mine.filter((l) => !results.has(l.taskId)).length,
      tasksRunTwice: mine.filter((l) => (results.get(l.taskId) ?? 0) > 1).length,
      completion: mine.length ? Math.round((mine.filter((l) => completed.has(l.taskId)).length / mine.length) * 1000) / 1000 : NaN,
    };
  });
  for (const c of children.values()) c.kill('SIGKILL');
  await Promise.all([observer, plant, atk, ied8, edge2].map((c) => c.endAsync(true)));
  await broker.close();
  const withJournal = table.filter((r) => !r.attack.includes('no journal'));
  return {
    name: 'barrage',
    plant: `gmel2024, ${IEDS} IEDs (0–7 served by one gateway process, 8 = the compromised device ied-8), ${EDGES.length} edge servers in their own processes, Mosquitto with the generated ACL; ${1000 / ANNOUNCE_EVERY_MS} legitimate tasks/s`,
    columns: 'sent: attack messages or connection attempts; refusedByBroker: CONNACK refused or PUBACK ≥ 0x80; refusedByRuntime: runtimes\' rejected-message counters; tasksLost/tasksRunTwice: legitimate tasks of the phase with 0 / more than 1 result',
    table,
    flood: { ...flood, note: 'gateway VmRSS, MiB, sampled each second while flooded' },
    goal: { lostAndTwiceZeroWithJournal: withJournal.every((r) => r.tasksLost === 0 && r.tasksRunTwice === 0) },
  };
}
