/**
 * `gmel up` (and `npm start`): the live plant on an embedded broker (or --broker), printing KPIs
 * every second. Ctrl-C stops everything cleanly; --duration S stops by itself after S seconds and
 * waits for the announced tasks' outcomes.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readManifest, resolveModelDir } from '../core/model-set.ts';
import { loadScenario } from '../core/scenario/load.ts';
import type { KpiSnapshot } from '../plant/kpi.ts';
import type { ModelHandle } from '../runtime-ied/gateway.ts';
import { gatewayRanges } from '../plant/gateway-ranges.ts';
import { UsageError } from '../core/errors.ts';
import { parseSets, repeatable, scenarioFrom, scenarioOptions, type ScenarioFlags } from '../core/scenario/options.ts';
import { brokerAuth, brokerOptions, type BrokerFlags } from '../protocol/broker-options.ts';
import { retrainOptions, type RetrainFlags } from './flags.ts';
import { logLevelOption } from '../protocol/daemon.ts';
import { createLogger, logFormatOption, type LogFormat } from '../protocol/logger.ts';

interface UpOptions extends ScenarioFlags, BrokerFlags, RetrainFlags {
  model: string;
  port: string;
  engine: string;
  duration?: string;
  seed: string;
  json?: boolean;
  logLevel: string;
  logFormat: LogFormat;
  httpPort?: string;
  plantSet: string[];
  retrainEvery: string;
  retrainInto: string;
  gateways: string;
}

function line(k: KpiSnapshot, elapsed: number): string {
  const d = k.dropped;
  return `t=${elapsed.toFixed(0).padStart(4)}s  completion ${(100 * k.completionRate).toFixed(1).padStart(5)}% of ${k.announced} announced (${k.unresolved} open)  latency p50 ${k.latencyP50.toFixed(3)}s p99 ${k.latencyP99.toFixed(3)}s  drops local/uplink/edge ${d.local}/${d.uplink}/${d.edge}  decisions/s ${k.decisionsLastSecond} (last 1 s)`;
}

export function registerUp(program: Command): void {
  retrainOptions(brokerOptions(scenarioOptions(program
    .command('up')
    .description('run the live plant: broker (embedded aedes by default), edge servers, gateways with the shipped models, task emulator; live KPIs')), null, 'use this MQTT broker instead of the embedded one (e.g. mqtt://127.0.0.1:1883)'))
    .option('--model <dir>', 'model set (newest version) or a version folder', 'models/gmel2024-amarl')
    .option('--port <n>', 'port of the embedded broker (0 = any free port)', '0')
    .option('--engine <name>', 'inference engine: node (onnxruntime-node) | web (onnxruntime-web, wasm)', 'node')
    .option('--duration <s>', 'stop after this many seconds (default: run until Ctrl-C)')
    .option('--seed <n>', 'seed of the task emulator', '1')
    .option('--json', 'print one JSON summary at the end instead of KPI lines')
    .option('--gateways <n>', 'gateway runtimes in this process, each serving one contiguous range of the IEDs (band reports between them)', '1')
    .addOption(logLevelOption('warn'))
    .addOption(logFormatOption())
    .option('--http-port <n>', 'serve the dashboard (/), /healthz, /metrics (the first gateway), /metrics/gateway-{a}-{b} (a fleet\'s others, by IED range), /metrics/edge-{m} and /twin/* on this port')
    .option('--plant-set <key=value>', 'the emulated plant differs from the scenario in this field (drift), e.g. arrivals.probability=0.6 (repeatable)', repeatable, [] as string[])
    .option('--retrain-every <minutes>', 'with --run: also retrain on a schedule (0 = never)', '0')
    .option('--retrain-into <dir>', 'model set that promoted versions are exported into', 'runs/twin/models')
    .action((opts: UpOptions) => runUp(opts));
}

/** The flags, checked before anything starts: the scenario, the emulated plant's drift, the duration and port. */
function checkUp(opts: UpOptions) {
  if (opts.engine !== 'node' && opts.engine !== 'web') throw new UsageError(`--engine must be node or web, got "${opts.engine}"`);
  const duration = opts.duration === undefined ? undefined : Number(opts.duration);
  if (duration !== undefined && !(duration > 0)) throw new UsageError(`--duration must be a positive number of seconds, got "${opts.duration}"`);
  const port = Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0..65535, got "${opts.port}"`);
  const scenario = scenarioFrom(opts);
  const plantSets = parseSets(opts.plantSet, '--plant-set');
  // what the emulated plant can differ in: the tasks it announces, and the devices' radio and edge servers
  for (const key of Object.keys(plantSets))
    if (!/^(arrivals|task|radio|edge)\./.test(key)) throw new UsageError(`--plant-set ${key}: the emulated plant can differ in arrivals.*, task.*, radio.* or edge.* only`);
  const emulated = Object.keys(plantSets).length > 0 ? loadScenario(opts.scenario, { ...parseSets(opts.set), ...plantSets }) : undefined;
  if ((opts.onDrift || opts.retrainEvery !== '0') && !opts.run) throw new UsageError('--on-drift and --retrain-every need --run <the training run of the model set>');
  if (opts.run) checkRunMatchesModel(opts.run, opts.model);
  const gateways = Number(opts.gateways);
  try {
    gatewayRanges(scenario.ieds, gateways);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
  return { scenario, emulated, duration, port, engine: opts.engine as 'node' | 'web', gateways };
}

/** `gmel up`: start the plant, serve the dashboard when asked, print KPIs, stop after --duration or on a signal. */
async function runUp(opts: UpOptions): Promise<void> {
  const { scenario, emulated, duration, port, engine, gateways } = checkUp(opts);
  const logger = await createLogger({ level: opts.logLevel, format: opts.logFormat });
  const { startPlant } = await import('../plant/live-plant.ts');
  const { buildApp } = await import('../protocol/health-app.ts');
  const { twinMetrics } = await import('../twin/metrics.ts');
  const plant = await startPlant({
    scenario, modelPath: opts.model, brokerPort: port, engine, seed: Number(opts.seed), logger, gateways,
    ...(opts.broker ? { brokerUrl: opts.broker } : {}),
    ...brokerAuth(opts),
    ...(emulated ? { emulatorScenario: emulated } : {}),
  }).catch((err: unknown) => {
    throw (err as { code?: string }).code === 'EADDRINUSE' ? new UsageError(`--port ${port} is already in use (0 picks a free port)`) : err;
  });
  const retrainer = opts.run ? await localRetrainer(opts, plant, scenario, logger) : undefined;
  const http = opts.httpPort === undefined ? undefined : buildApp({
    // /metrics: the first gateway's; a fleet's others under /metrics/gateway-{first}-{last}, named
    // by their IED ranges as the twin names them
    registry: (plant.gateways[0] as (typeof plant.gateways)[number]).registry,
    more: { ...Object.fromEntries(plant.gateways.slice(1).map((g) => [`gateway-${g.servedIeds[0]}-${g.servedIeds.at(-1)}`, g.registry])), ...Object.fromEntries(plant.edges.map((e, k) => [`edge-${k + 1}`, e.registry])), twin: twinMetrics(plant.mirror, retrainer) },
    health: () => {
      // `gateways`: every one; `gateway`: the first, as before --gateways (one gateway: the only one)
      const gateways = plant.gateways.map((g) => g.health());
      const edges = plant.edges.map((e) => e.health());
      return { ok: gateways.every((g) => g.ok) && edges.every((e) => e.ok), gateway: gateways[0], gateways, edges };
    },
  });
  if (http) {
    const { registerTwinRoutes } = await import('../twin/routes.ts');
    const { registerDashboard } = await import('../plant/dashboard.ts');
    registerTwinRoutes(http, plant.mirror);
    if (retrainer) (await import('../twin/routes.ts')).registerRetrainRoutes(http, retrainer);
    registerDashboard(http, { kpi: plant.kpi, mirror: plant.mirror, ...(retrainer ? { lastCycle: () => retrainer.history.at(-1) } : {}) });
    const address = await http.listen({ port: Number(opts.httpPort), host: '127.0.0.1' }).catch(async (err: unknown) => {
      if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
      await plant.stop(false);
      throw new UsageError(`--http-port ${opts.httpPort} is already in use`);
    });
    console.error(`dashboard, health, metrics and the twin (/twin/state, /twin/drift) on ${address}`);
  }
  if (!opts.json) console.log(`GMEL edge live: ${scenario.ieds} IEDs, ${scenario.edgeServers} edge servers, broker ${plant.brokerUrl}, ${plant.gateways.length > 1 ? `${plant.gateways.length} gateways, ` : ''}model ${modelVersions(plant)}; Ctrl-C to stop`);
  const start = plant.startedAt;
  const timer = opts.json
    ? undefined
    : setInterval(() => {
        const d = plant.mirror.drift();
        console.log(`${line(plant.kpi.snapshot(), (Date.now() - start) / 1000)}  twin: ${d.drift ? `DRIFT ${d.reasons.join('; ')}` : `no drift (p̂ ${d.arrivalProbability.estimate.toFixed(3)})`}`);
      }, 1000);
  let finishing = false;
  const finish = async (drain: boolean) => {
    if (finishing) return;
    finishing = true;
    if (timer) clearInterval(timer);
    const announced = plant.emulator.announced;
    await retrainer?.stop();
    await plant.stop(drain);
    await http?.close();
    const k = plant.kpi.snapshot();
    const lag = plant.emulator.lag;
    const emulator = { announced, lagMsMax: Math.round(lag.maxMs), lagMsMean: lag.slots > 0 ? Math.round(lag.sumMs / lag.slots) : 0 };
    if (opts.json) console.log(JSON.stringify({ scenario: scenario.name, model: modelVersions(plant), gateways: plant.gateways.length, broker: plant.brokerUrl, seconds: (Date.now() - start) / 1000, ...k, emulator, twin: plant.mirror.drift(), ...(retrainer ? { retraining: retrainer.history, retrainingFailures: retrainer.failures } : {}) }));
    else console.log(`final: ${line(k, (Date.now() - start) / 1000)}; ${k.decisionsPerSecond.toFixed(0)} decisions/s over the run; the emulator announced ${announced} tasks, at most ${emulator.lagMsMax} ms (mean ${emulator.lagMsMean} ms) behind their slots`);
    process.exit(0);
  };
  process.once('SIGINT', () => void finish(false));
  process.once('SIGTERM', () => void finish(false));
  if (duration !== undefined) setTimeout(() => void finish(true), Math.max(0, start - Date.now()) + duration * 1000);
}

/** The model version the gateways run: one, or each distinct one (a fleet mid-swap), comma-separated. */
function modelVersions(plant: import('../plant/live-plant.ts').RunningPlant): string {
  return [...new Set(plant.gateways.map((g) => g.modelVersion))].join(',');
}

/**
 * `--run` must be the run the `--model` set was exported from: the twin fine-tunes that run's
 * checkpoint and swaps the result in for the running actors (a mismatch would fail minutes later).
 */
function checkRunMatchesModel(run: string, model: string): void {
  const configPath = join(run, 'config.json');
  if (!existsSync(configPath) || !existsSync(join(run, 'checkpoint'))) throw new UsageError(`--run ${run}: not a training run with a checkpoint (train one: gmel train --out ${run})`);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { seed?: number; scenarioHash?: string };
  const manifest = readManifest(resolveModelDir(model));
  const differences = [
    ...(config.scenarioHash !== manifest.scenarioHash ? ['its scenario'] : []),
    ...(config.seed !== manifest.training.seed ? [`its seed (${String(config.seed)} vs ${manifest.training.seed})`] : []),
    ...(basename(manifest.training.run) !== basename(run) ? [`its name (the model set came from ${manifest.training.run})`] : []),
  ];
  if (differences.length > 0) throw new UsageError(`--run ${run} is not the run --model ${model} was exported from: ${differences.join(', ')} differ`);
}

/** The twin's retraining cycle inside `gmel up`: promoted versions replace the gateway's model directly. */
async function localRetrainer(opts: UpOptions, plant: import('../plant/live-plant.ts').RunningPlant, scenario: import('../core/scenario/schema.ts').Scenario, logger: pino.Logger) {
  const { Retrainer } = await import('../twin/retrainer.ts');
  const { loadModelHandle, releaseModel } = await import('../runtime-ied/model-loader.ts');
  const episodes = Number(opts.retrainEpisodes);
  if (!(Number.isInteger(episodes) && episodes > 0)) throw new UsageError(`--retrain-episodes must be a positive integer, got "${opts.retrainEpisodes}"`);
  return new Retrainer({
    mirror: plant.mirror, incumbentRun: opts.run as string, modelSetDir: opts.retrainInto, workDir: 'runs/twin', episodes, marginPp: Number(opts.margin),
    onDrift: opts.onDrift ?? false, everyMs: Number(opts.retrainEvery) * 60_000, log: (l) => logger.warn({ twin: true }, l),
    applyLocally: async (dir) => {
      // every gateway of the fleet, each with the actors of its own IEDs: all loaded before any swap,
      // so a set that fails to load leaves every gateway on its version (a swap itself that fails
      // part way would leave the fleet mixed: /healthz and the summary list each version)
      const next: ModelHandle[] = [];
      try {
        for (const g of plant.gateways) next.push(await loadModelHandle(dir, scenario, g.servedIeds, opts.engine as 'node' | 'web'));
      } catch (err) {
        for (const h of next) await releaseModel(h);
        throw err;
      }
      for (const [k, g] of plant.gateways.entries()) {
        const handle = next[k] as ModelHandle;
        await g.swapModel(handle).catch(async (err: unknown) => {
          for (const h of next.slice(k)) await releaseModel(h);
          throw err;
        });
      }
    },
  });
}
