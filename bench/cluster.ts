/**
 * `npm run bench -- cluster` (issue #15): the plant with its IEDs split over several gateway processes
 * (the bundled gmel-ied, each serving a range, band reports between them), on one Mosquitto and on a
 * 3-node NATS cluster (MQTT over JetStream, R3), side by side at the same offered loads.
 *
 * | env                     | default  | meaning                                                   |
 * |-------------------------|----------|-----------------------------------------------------------|
 * | BENCH_CLUSTER_P         | 0.1,0.5  | arrival probabilities; 1,000 IEDs: 1,000 and 5,000 tasks/s |
 * | BENCH_CLUSTER_GATEWAYS  | 4        | gateway processes (each starts on the next node of the list) |
 * | BENCH_CLUSTER_SECONDS   | 8        | measured window, after a 3 s warm-up                      |
 * | BENCH_CLUSTER_BROKERS   | mosquitto,nats | which brokers to run, in that order                 |
 * | BENCH_GATEWAY_NODE_ARGS | (none)   | Node flags for the gateway processes, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" |
 * | BENCH_CLUSTER_WIRE      | 0        | 1: a QoS 0 subscriber on gmel/# counts messages and payload bytes per task by kind (one more delivery per message: the broker's CPU figure includes it) |
 *
 * Per run: tasks announced and decided in the window, decided ÷ window (sustained), announcement →
 * decision at an independent subscriber (p50/p99/max, ms), CPU ms per task of the gateways together
 * and of the broker processes together. The emulator, the 5 edge servers and the observer share this
 * process, and everything shares this machine's 2 cores.
 */
import mqtt from 'mqtt';
import pino from 'pino';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadScenario } from '../core/scenario/load.ts';
import { buildGateway } from '../deploy/build-gateway.ts';
import { hasMosquitto, startMosquitto } from '../plant/brokers.ts';
import { hasNatsServer, startNatsCluster } from '../plant/nats-cluster.ts';
import { PlantEmulator } from '../plant/emulator.ts';
import { EdgeServerRuntime } from '../runtime-edge/edge-server.ts';
import { connectMqtt } from '../protocol/mqtt.ts';
import { parseTopic, subscriptions } from '../protocol/topics.ts';
import { systemClock, PLANT_EPOCH_MS } from '../protocol/clock.ts';
import { cpuSecondsOf, quantiles } from './live.ts';

const IEDS = 1000;
const HTTP_PORT_BASE = 19_400;
/** how long the gateways may take to subscribe (on NATS each QoS 1 filter is a replicated JetStream consumer) */
const SUBSCRIBE_WAIT_MS = 300_000;
const WARMUP_MS = 3000;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

interface FleetRun {
  readonly broker: string;
  readonly gateways: number;
  readonly arrivalProbability: number;
  readonly offeredTasksPerSecond: number;
  readonly announced: number;
  readonly decided: number;
  /** decisions received inside the window (of any task) ÷ the window */
  readonly sustainedTasksPerSecond: number;
  readonly milliseconds: ReturnType<typeof quantiles>;
  readonly gatewayCpuMsPerTask: number;
  readonly brokerCpuMsPerTask: number;
  /** this process: the emulator, the 5 edge servers, the observer (and the wire counter) */
  readonly benchProcessCpuMsPerTask: number;
  /** BENCH_CLUSTER_WIRE=1: messages and payload bytes on the broker per announced task, by kind */
  readonly wire?: Record<string, { messagesPerTask: number; bytesPerTask: number }>;
  /** from spawning the gateways until every one serves /healthz (it has subscribed) */
  readonly subscribedAfterMs: number;
}

/** IEDs 0..IEDS−1 in `n` contiguous ranges, as `--ieds` texts. */
function ranges(n: number): string[] {
  const size = Math.ceil(IEDS / n);
  return Array.from({ length: n }, (_, k) => `${k * size}-${Math.min(IEDS, (k + 1) * size) - 1}`);
}

/** a run whose gateways could not start: why */
interface FailedRun {
  readonly broker: string;
  readonly gateways: number;
  readonly arrivalProbability: number;
  readonly failed: string;
}

async function fleetRun(urls: readonly string[], broker: string, brokerPids: () => (number | undefined)[], gateways: number, p: number, seconds: number, bundle: string): Promise<FleetRun | FailedRun> {
  const rotated = (k: number) => [...urls.slice(k % urls.length), ...urls.slice(0, k % urls.length)].join(',');
  const observer = await mqtt.connectAsync(urls[urls.length - 1] as string, { clientId: `bench-cluster-observer-${Date.now()}`, protocolVersion: 4 });
  const received = new Map<string, number>();
  observer.on('message', (_topic, payload) => {
    const now = Date.now();
    const msg = JSON.parse(payload.toString()) as { taskId?: string };
    if (msg.taskId && !received.has(msg.taskId)) received.set(msg.taskId, now); // the first receipt (QoS 1 may deliver again)
  });
  const ids = ranges(gateways);
  await observer.subscribeAsync(subscriptions.allDecisions, { qos: 1 });
  const ports = ids.map((_, k) => HTTP_PORT_BASE + k);
  const stderr: string[] = ids.map(() => '');
  const nodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const children: ChildProcess[] = ids.map((r, k) => {
    const child = spawn(process.execPath, [...nodeArgs, bundle, '--ieds', r, '--broker', rotated(k), '--log-level', 'error', '--set', `ieds=${IEDS}`, '--set', `arrivals.probability=${p}`, '--http-port', String(ports[k])], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.on('data', (d) => (stderr[k] = (stderr[k] + String(d)).slice(-400)));
    return child;
  });
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
    for (const c of children) if (alive(c)) c.kill('SIGTERM');
    // a gateway drains its open tasks on SIGTERM; one still running after 20 s is killed
    const kill = setTimeout(() => children.forEach((c) => alive(c) && c.kill('SIGKILL')), 20_000);
    await Promise.all(children.map((c) => (alive(c) ? new Promise((r) => c.once('exit', r)) : Promise.resolve())));
    clearTimeout(kill);
    await observer.endAsync(true);
  };
  // a gateway serves /healthz once it has subscribed (its online status comes before that)
  const startedAt = Date.now();
  const answers = (port: number) => fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);
  while ((await Promise.all(ports.map(answers))).some((up) => !up)) {
    const died = children.findIndex((c) => c.exitCode !== null || c.signalCode !== null);
    const late = Date.now() - startedAt > SUBSCRIBE_WAIT_MS;
    if (died >= 0 || late) {
      await stopAll();
      return { broker, gateways, arrivalProbability: p, failed: died >= 0 ? `gateway ${ids[died]} exited (${children[died]?.exitCode ?? children[died]?.signalCode}) ${Date.now() - startedAt} ms after it started, before it had subscribed: ${(stderr[died] ?? '').trim()}` : `the gateways had not subscribed after ${SUBSCRIBE_WAIT_MS / 1000} s` };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const subscribedAfterMs = Date.now() - startedAt;
  try {
    return await measure({ broker, brokerPids, gateways, p, seconds, children, received, subscribedAfterMs, rotated, stopAll });
  } finally {
    await stopAll(); // also when measuring threw: no gateway outlives its run (the next one reuses the ports)
  }
}

/** The plant around the subscribed gateways, the warm-up and the measured window. */
async function measure(o: { broker: string; brokerPids: () => (number | undefined)[]; gateways: number; p: number; seconds: number; children: ChildProcess[]; received: Map<string, number>; subscribedAfterMs: number; rotated: (k: number) => string; stopAll: () => Promise<void> }): Promise<FleetRun> {
  const { broker, brokerPids, gateways, p, seconds, children, received, subscribedAfterMs, rotated, stopAll } = o;
  const scenario = loadScenario('gmel2024', { ieds: IEDS, 'arrivals.probability': p });
  const logger = pino({ level: 'error' });
  const clients: mqtt.MqttClient[] = [];
  const edges: EdgeServerRuntime[] = [];
  for (let m = 1; m <= scenario.edgeServers; m++) {
    const c = await connectMqtt({ url: rotated(m), clientId: `bench-cluster-edge-${m}-${Date.now()}` });
    clients.push(c);
    edges.push(await EdgeServerRuntime.create({ scenario, edgeServerId: m, mqtt: c, clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
  }
  const ec = await connectMqtt({ url: rotated(0), clientId: `bench-cluster-emulator-${Date.now()}` });
  clients.push(ec);
  const emulator = PlantEmulator.create({ scenario, mqtt: ec, clock: systemClock, epochMs: PLANT_EPOCH_MS, seed: 5, logger, spreadWithinSlot: true });
  const wire = process.env.BENCH_CLUSTER_WIRE === '1' ? await wireCounter(rotated(0)) : undefined;
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const t0 = Date.now();
  const before = emulator.announced;
  const cpu = () => ({ gateways: children.reduce((a, c) => a + cpuSecondsOf(c.pid), 0), brokers: brokerPids().reduce((a: number, pid) => a + cpuSecondsOf(pid), 0), bench: cpuSecondsOf(process.pid) });
  const cpu0 = cpu();
  wire?.start();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const counted = wire?.stop();
  const cpu1 = cpu();
  emulator.stop();
  const announced = emulator.announced - before;
  await new Promise((r) => setTimeout(r, 1000));
  await stopAll();
  await wire?.close();
  for (const e of edges) await e.close();
  await Promise.all(clients.map((c) => c.endAsync(true)));
  const measured = emulator.log.filter((a) => a.createdAt >= t0 && a.createdAt < t0 + seconds * 1000);
  const latencies = measured.flatMap((a) => {
    const at = received.get(a.taskId);
    return at === undefined ? [] : [at - a.createdAt];
  });
  const perTask = (s: number) => round3((s * 1000) / Math.max(1, announced));
  // sustained: decisions the observer received inside the window, of any task, per second
  const inWindow = [...received.values()].filter((at) => at >= t0 && at < t0 + seconds * 1000).length;
  return {
    broker, gateways, arrivalProbability: p, offeredTasksPerSecond: announced / seconds, announced: measured.length, decided: latencies.length,
    sustainedTasksPerSecond: inWindow / seconds, milliseconds: quantiles(latencies),
    gatewayCpuMsPerTask: perTask(cpu1.gateways - cpu0.gateways), brokerCpuMsPerTask: perTask(cpu1.brokers - cpu0.brokers), benchProcessCpuMsPerTask: perTask(cpu1.bench - cpu0.bench),
    ...(counted ? { wire: Object.fromEntries([...counted].map(([kind, c]) => [kind, { messagesPerTask: round3(c.messages / Math.max(1, announced)), bytesPerTask: round3(c.bytes / Math.max(1, announced)) }])) } : {}),
    subscribedAfterMs,
  };
}

/** Counts what the broker carries on gmel/# between start() and stop(), by kind. */
async function wireCounter(url: string) {
  const c = await mqtt.connectAsync(url, { clientId: `bench-cluster-wire-${Date.now()}`, protocolVersion: 4 });
  const counts = new Map<string, { messages: number; bytes: number }>();
  let on = false;
  c.on('message', (topic, payload) => {
    if (!on) return;
    const k = parseTopic(topic)?.kind ?? 'other';
    const n = counts.get(k) ?? { messages: 0, bytes: 0 };
    n.messages++;
    n.bytes += payload.length;
    counts.set(k, n);
  });
  await c.subscribeAsync('gmel/#', { qos: 0 });
  return { start: () => void (on = true), stop: () => ((on = false), new Map(counts)), close: () => c.endAsync(true) };
}

export async function benchCluster(): Promise<Record<string, unknown>> {
  if (!hasMosquitto || !hasNatsServer) return { name: 'cluster', skipped: 'needs mosquitto and nats-server (apt-get install mosquitto nats-server)' };
  const seconds = Number(process.env.BENCH_CLUSTER_SECONDS ?? 8);
  const gateways = Number(process.env.BENCH_CLUSTER_GATEWAYS ?? 4);
  const probabilities = (process.env.BENCH_CLUSTER_P ?? '0.1,0.5').split(',').map(Number);
  const brokers = (process.env.BENCH_CLUSTER_BROKERS ?? 'mosquitto,nats').split(',');
  const unknown = brokers.filter((b) => b !== 'mosquitto' && b !== 'nats');
  if (unknown.length > 0) throw new Error(`BENCH_CLUSTER_BROKERS: mosquitto and/or nats, comma-separated; got "${unknown.join(',')}"`);
  const bundle = await buildGateway();
  const runs: (FleetRun | FailedRun)[] = [];
  for (const p of probabilities) {
    if (brokers.includes('mosquitto')) {
      const mosquitto = await startMosquitto();
      runs.push(await fleetRun([mosquitto.url], 'mosquitto (one process)', () => [mosquitto.pid()], gateways, p, seconds, bundle));
      await mosquitto.close();
    }
    if (brokers.includes('nats')) {
      const cluster = await startNatsCluster(3);
      runs.push(await fleetRun(cluster.urls, 'nats-server 2.9, 3 nodes (JetStream R3)', () => cluster.pids(), gateways, p, seconds, bundle));
      await cluster.close();
    }
  }
  const ratio = probabilities.map((p) => {
    const ran = (prefix: string) => runs.find((r): r is FleetRun => r.arrivalProbability === p && !('failed' in r) && r.broker.startsWith(prefix));
    const one = ran('mosquitto');
    const three = ran('nats');
    return { arrivalProbability: p, clusterOverMosquittoSustained: one && three ? round3(three.sustainedTasksPerSecond / Math.max(1e-9, one.sustainedTasksPerSecond)) : null, p99Ms: { mosquitto: one?.milliseconds.p99 ?? null, cluster: three?.milliseconds.p99 ?? null } };
  });
  return {
    name: 'cluster',
    what: `${IEDS} IEDs over ${gateways} bundled gateway processes (band reports between them), 5 edge servers, emulator and observer in this process; announced/decided: tasks created in the ${seconds} s window and decided at all; milliseconds: announcement → decision at an independent subscriber; CPU ms per task: user + system of the gateway processes together and of the broker processes together over the window ÷ tasks announced in it`,
    runs,
    ratio,
    goal: { sustainedTasksPerSecond: 5000, p99Ms: 15 },
  };
}
