/**
 * The bundled gateway's footprint (`npm run bench -- gateway`, or standalone as below):
 * - bundle: size of the esbuild bundle of runtime-ied/main.ts (deploy/build-gateway.ts), how much of
 *   tfjs it drags in, and the 10 largest input modules and packages in it;
 * - cold start: spawn `node <bundle> --ieds 0` against an embedded aedes while announcing a valid task
 *   for IED 0 every 20 ms from the moment of spawn; cold start = spawn → first decision received
 *   (3 runs, each on a fresh broker so no persistent session carries tasks over; median);
 * - resident memory of the gateway process after `--seconds` (default 60) of the gmel2024 scenario's
 *   normal load (Bernoulli(p) arrivals per IED per slot, PlantEmulator) for 1 IED and for 50 IEDs, with
 *   the 5 edge servers and the emulator in this process: VmRSS and VmHWM from /proc/<pid>/status;
 * - cold start and memory twice: with Node's default flags and with the signed unit's
 *   (deploy/bundle.ts GATEWAY_NODE_FLAGS), unless --node-args names one configuration.
 *
 *   npx tsx bench/gateway.ts [--seconds 60] [--cold-runs 3] [--node-args "--max-semi-space-size=2"] [--out file.json]
 *   npm run bench -- gateway        (BENCH_GATEWAY_SECONDS, default 60; writes bench/out/gateway-footprint.json, --out to choose)
 *
 * Prints the JSON result; with --out also writes it there. Linux only (/proc).
 *
 * Goals (issue #9): bundle ≤ 2 MB without onnxruntime, RSS ≤ 100 MB for one IED and ≤ 120 MB for 50
 * IEDs after 60 s of normal load, cold start to first decision ≤ 0.5 s.
 *
 * A little over 300 lines: the three measurements share one child-process rig, read together here.
 */
import { analyzeGateway, buildGateway } from '../deploy/build-gateway.ts';
import { startEmbeddedBroker as startAedes, type LocalBroker as TestBroker } from '../plant/brokers.ts';
import { topics } from '../protocol/topics.ts';
import { encode } from '../protocol/codec.ts';
import { publishOptions } from '../protocol/publish-options.ts';
import { loadScenario } from '../core/scenario/load.ts';
import { systemClock, PLANT_EPOCH_MS } from '../protocol/clock.ts';
import { EdgeServerRuntime } from '../runtime-edge/edge-server.ts';
import { PlantEmulator } from '../plant/emulator.ts';
import { GATEWAY_NODE_FLAGS } from '../deploy/bundle.ts';

import mqtt from 'mqtt';
import pino from 'pino';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MODEL = 'models/gmel2024-amarl';
const MiB = 1024 * 1024;
const ANNOUNCE_EVERY_MS = 20;
const COLD_START_GIVE_UP_MS = 30_000;
const ONLINE_GIVE_UP_MS = 30_000;
/** SIGTERM drains accepted tasks (≤ longest deadline + OFFLOAD_GRACE_MS = 5.5 s); SIGKILL after this */
const EXIT_GIVE_UP_MS = 10_000;
const GOALS = { bundleMBmax: 2, rssOneMBmax: 100, rssFiftyMBmax: 120, coldStartSecondsMax: 0.5 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

// ---------------------------------------------------------------- child processes

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Gateway {
  readonly child: ChildProcess;
  readonly pid: number;
  /** last few KB of its stdout + stderr (pino logs), for error reports */
  output(): string;
  stop(): Promise<void>;
}

/** Node flags for the gateway process (--node-args), e.g. a smaller young generation: "--max-semi-space-size=2" */
let gatewayNodeArgs: string[] = [];

function spawnGateway(bundle: string, ieds: string, brokerUrl: string): Gateway {
  const child = spawn(process.execPath, [...gatewayNodeArgs, bundle, '--ieds', ieds, '--broker', brokerUrl, '--model', MODEL, '--log-level', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let tail = '';
  const keep = (b: Buffer) => {
    tail = (tail + b.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    pid: child.pid as number,
    output: () => tail,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_GIVE_UP_MS);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

function memoryOf(pid: number): { rssMB: number; peakRssMB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  return { rssMB: round(kb('VmRSS') / 1024, 1), peakRssMB: round(kb('VmHWM') / 1024, 1) };
}

// ---------------------------------------------------------------- 1. bundle

async function measureBundle(dir: string) {
  const outfile = join(dir, 'gmel-ied.mjs');
  await buildGateway(outfile);
  // externals (onnxruntime-*) resolve from the bundle's folder: give it the project's node_modules
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const bytes = statSync(outfile).size;
  const text = readFileSync(outfile, 'utf8');
  const report = await analyzeGateway(); // the same build in memory, with what is inside it
  const tfjs = report.inputs.filter((p) => p.includes('node_modules/@tensorflow/'));
  return {
    outfile,
    sizeBytes: bytes,
    sizeMB: round(bytes / MiB, 3),
    unitsNote: 'MB = MiB (bytes / 1,048,576), as rssMB (kB / 1024)',
    inputModules: report.inputs.length,
    tfjsModules: tfjs.length,
    tfjsCoreStringOccurrences: text.split('@tensorflow/tfjs-core').length - 1,
    analyzedBuildSameSize: report.bytes === bytes,
    topPackagesByBytes: Object.entries(report.bytesByPackage).map(([pkg, b]) => ({ package: pkg, bytesInBundle: b })).sort((x, y) => y.bytesInBundle - x.bytesInBundle).slice(0, 10),
  };
}

// ---------------------------------------------------------------- 2. cold start

async function coldStartOnce(bundle: string, run: number) {
  const scenario = loadScenario('gmel2024');
  const { sizeMbit, densityGcyclesPerMbit: density, deadlineSeconds } = scenario.task;
  const mid = (r: { min: number; max: number }) => (r.min + r.max) / 2;
  const broker = await startAedes(); // fresh: no persistent session from an earlier run
  const observer = await mqtt.connectAsync(broker.url, { clientId: `bench-gw-cold-observer-${run}` });
  const publisher = await mqtt.connectAsync(broker.url, { clientId: `bench-gw-cold-plant-${run}` });
  const prefix = `cold${run}-${Date.now().toString(36)}`;
  let firstDecisionAt: number | undefined;
  let onlineAt: number | undefined;
  let firstTaskId: string | undefined;
  observer.on('message', (topic, payload) => {
    const now = performance.now();
    const msg = JSON.parse(payload.toString()) as { taskId?: string; state?: string };
    if (topic === topics.decision(0) && msg.taskId?.startsWith(prefix) && firstDecisionAt === undefined) {
      firstDecisionAt = now;
      firstTaskId = msg.taskId;
    } else if (topic === topics.status('ied', '0') && msg.state === 'online' && onlineAt === undefined) onlineAt = now;
  });
  await observer.subscribeAsync([topics.decision(0), topics.status('ied', '0')], { qos: 1 });
  let published = 0;
  const announce = () => {
    const taskId = `${prefix}-${published++}`;
    const deadline = mid(deadlineSeconds);
    const msg = encode('task', { v: 1, taskId, iedId: 0, sizeMbit: mid(sizeMbit), density: mid(density), deadlineSeconds: deadline, createdAt: Date.now() });
    publisher.publish(topics.task(0), msg, publishOptions('task', publisher, deadline));
  };
  const t0 = performance.now();
  const gw = spawnGateway(bundle, '0', broker.url);
  announce();
  const timer = setInterval(announce, ANNOUNCE_EVERY_MS);
  try {
    while (firstDecisionAt === undefined && performance.now() - t0 < COLD_START_GIVE_UP_MS && gw.child.exitCode === null) await sleep(5);
  } finally {
    clearInterval(timer);
    await gw.stop();
    await Promise.all([observer.endAsync(true), publisher.endAsync(true)]);
    await broker.close();
  }
  if (firstDecisionAt === undefined) throw new Error(`cold start run ${run}: no decision within ${COLD_START_GIVE_UP_MS} ms; gateway output:\n${gw.output()}`);
  return {
    spawnToFirstDecisionSeconds: round((firstDecisionAt - t0) / 1000),
    spawnToOnlineStatusSeconds: onlineAt === undefined ? null : round((onlineAt - t0) / 1000),
    tasksAnnouncedUntilFirstDecision: published,
    firstDecidedTask: firstTaskId,
  };
}

async function measureColdStart(bundle: string, runs: number) {
  const each = [];
  for (let k = 0; k < runs; k++) each.push(await coldStartOnce(bundle, k));
  const seconds = each.map((r) => r.spawnToFirstDecisionSeconds);
  return {
    what: `spawn of node <bundle> --ieds 0 → first decision for IED 0 received, a task announced every ${ANNOUNCE_EVERY_MS} ms from spawn; fresh aedes per run`,
    runs: each,
    coldStartSecondsEach: seconds,
    medianColdStartSeconds: median(seconds),
  };
}

// ---------------------------------------------------------------- 3. resident memory under load

async function rssUnderLoad(bundle: string, iedsFlag: string, iedIds: number[], seconds: number) {
  const scenario = loadScenario('gmel2024');
  const logger = pino({ level: 'warn' });
  const broker: TestBroker = await startAedes();
  const clients: mqtt.MqttClient[] = [];
  const connect = async (id: string) => {
    const c = await mqtt.connectAsync(broker.url, { clientId: `bench-gw-${id}-${Date.now().toString(36)}` });
    clients.push(c);
    return c;
  };
  const edges: EdgeServerRuntime[] = [];
  let emulator: PlantEmulator | undefined;
  let gw: Gateway | undefined;
  try {
    const observer = await connect('observer');
    let online = false;
    let decisions = 0;
    observer.on('message', (topic, payload) => {
      if (topic.includes('/status/')) online ||= (JSON.parse(payload.toString()) as { state?: string }).state === 'online';
      else decisions++;
    });
    await observer.subscribeAsync([...iedIds.map((i) => topics.decision(i)), topics.status('ied', iedsFlag)], { qos: 1 });
    const spawnedAt = performance.now();
    gw = spawnGateway(bundle, iedsFlag, broker.url);
    while (!online && performance.now() - spawnedAt < ONLINE_GIVE_UP_MS && gw.child.exitCode === null) await sleep(20);
    if (!online) throw new Error(`gateway --ieds ${iedsFlag} not online after ${ONLINE_GIVE_UP_MS} ms; output:\n${gw.output()}`);
    for (let m = 1; m <= scenario.edgeServers; m++) {
      edges.push(await EdgeServerRuntime.create({ scenario, edgeServerId: m, mqtt: await connect(`edge-${m}`), clock: systemClock, epochMs: PLANT_EPOCH_MS, logger }));
    }
    const loadStartedAt = performance.now();
    emulator = PlantEmulator.create({ scenario, mqtt: await connect('emulator'), clock: systemClock, epochMs: PLANT_EPOCH_MS, seed: 7, logger, iedIds });
    await sleep(seconds * 1000);
    if (gw.child.exitCode !== null) throw new Error(`gateway --ieds ${iedsFlag} exited (${gw.child.exitCode}) under load; output:\n${gw.output()}`);
    const memory = memoryOf(gw.pid); // read first: nothing below may change it
    const loadSeconds = (performance.now() - loadStartedAt) / 1000;
    return {
      process: `node <bundle> --ieds ${iedsFlag} --model ${MODEL}`,
      ieds: iedIds.length,
      arrivalProbabilityPerSlot: scenario.arrivals.probability,
      slotSeconds: scenario.slotSeconds,
      loadSeconds: round(loadSeconds, 1),
      secondsSinceSpawn: round((performance.now() - spawnedAt) / 1000, 1),
      tasksAnnounced: emulator.announced,
      decisionsReceived: decisions,
      decisionsPerSecond: round(decisions / loadSeconds, 1),
      ...memory,
    };
  } finally {
    emulator?.stop();
    await gw?.stop();
    for (const e of edges) await e.close();
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker.close();
  }
}

// ---------------------------------------------------------------- all together

/**
 * Every measurement once per configuration of the gateway's Node flags: none (Node's defaults) and the
 * signed unit's (deploy/bundle.ts GATEWAY_NODE_FLAGS), side by side; `nodeArgs` measures just those.
 * `met` is judged on the unit's flags, the gateway as deployed.
 */
export async function benchGateway(o: { seconds: number; coldRuns: number; nodeArgs?: readonly string[] }) {
  const configurations = o.nodeArgs ? [o.nodeArgs] : [[], GATEWAY_NODE_FLAGS];
  const dir = mkdtempSync(join(tmpdir(), 'gmel-gateway-bench-'));
  try {
    const bundle = await measureBundle(dir);
    const { outfile: _tmp, ...bundleReport } = bundle;
    const runs = [];
    for (const nodeArgs of configurations) {
      gatewayNodeArgs = [...nodeArgs];
      const coldStart = await measureColdStart(bundle.outfile, o.coldRuns);
      const oneIed = await rssUnderLoad(bundle.outfile, '0', [0], o.seconds);
      const fiftyIeds = await rssUnderLoad(bundle.outfile, '0-49', Array.from({ length: 50 }, (_, i) => i), o.seconds);
      runs.push({
        gatewayNodeArgs: [...nodeArgs],
        coldStart,
        rss: { oneIed, fiftyIeds },
        met: {
          bundle: bundleReport.sizeMB <= GOALS.bundleMBmax && bundleReport.tfjsModules === 0,
          rssOne: oneIed.rssMB <= GOALS.rssOneMBmax,
          rssFifty: fiftyIeds.rssMB <= GOALS.rssFiftyMBmax,
          coldStart: coldStart.medianColdStartSeconds <= GOALS.coldStartSecondsMax,
        },
      });
    }
    const deployed = runs.at(-1) as (typeof runs)[number];
    return {
      name: 'gateway-footprint',
      bundle: bundleReport,
      configurations: runs,
      deployedUnitNodeFlags: [...GATEWAY_NODE_FLAGS],
      goals: GOALS,
      met: deployed.met,
      metWith: deployed.gatewayNodeArgs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = (name: string) => {
    const k = process.argv.indexOf(name);
    return k >= 0 ? process.argv[k + 1] : undefined;
  };
  const seconds = Number(flag('--seconds') ?? 60);
  const coldRuns = Number(flag('--cold-runs') ?? 3);
  if (!(seconds > 0) || !(Number.isInteger(coldRuns) && coldRuns >= 1)) {
    console.error('usage: tsx bench/gateway.ts [--seconds N>0] [--cold-runs N≥1] [--out file.json]');
    process.exit(2);
  }
  const nodeArgs = (flag('--node-args') ?? '').split(/\s+/).filter(Boolean);
  // no --node-args: both configurations, as `npm run bench -- gateway` measures them
  const result = await benchGateway({ seconds, coldRuns, ...(nodeArgs.length > 0 ? { nodeArgs } : {}) });
  const json = JSON.stringify(result, null, 2);
  console.log(json);
  const out = flag('--out');
  if (out) writeFileSync(out, `${json}\n`);
  process.exit(0);
}
