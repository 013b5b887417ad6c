/**
 * The runtimes as separate processes, as they run on real machines:
 *
 *   gmel edge --id 2 --broker mqtt://host:1883 [--http-port 9102]
 *   gmel ied --ieds 0,1,2 --model models/gmel2024-amarl --broker mqtt://host:1883 [--engine web] [--http-port 9101]
 *
 * Each serves /healthz and /metrics (Prometheus) on --http-port, and stops cleanly on SIGINT/SIGTERM.
 * A gateway reloads its model set (newest version, verified) on SIGHUP without dropping tasks.
 */
import type { Command } from 'commander';
import pino from 'pino';
import { readFileSync } from 'node:fs';
import { loadScenario } from '../core/scenario/load.ts';
import { PLANT_EPOCH_MS, systemClock } from '../core/live/clock.ts';
import { UsageError } from '../core/errors.ts';
import { parseSets } from './sim-command.ts';
import { canaryFlag, nonNegativeFlag } from './flags.ts';

interface Common {
  scenario: string;
  broker: string;
  httpPort: string;
  username?: string;
  password?: string;
  caFile?: string;
  set: string[];
  logLevel: string;
  epochMs: string;
}

function common(cmd: Command): Command {
  return cmd
    .option('--scenario <name|file>', 'plant scenario', 'gmel2024')
    .option('--broker <url>', 'MQTT broker', 'mqtt://127.0.0.1:1883')
    .option('--http-port <n>', '/healthz and /metrics port (0 = any)', '0')
    .option('--username <u>', 'MQTT username')
    .option('--password <p>', 'MQTT password')
    .option('--ca-file <pem>', 'CA certificate for an mqtts:// broker')
    .option('--set <key=value>', 'override a scenario field (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--epoch-ms <ms>', 'slot origin shared by the plant', String(PLANT_EPOCH_MS))
    .option('--log-level <level>', 'log level', 'info');
}

async function serve(runtime: { registry: import('prom-client').Registry; health(): { ok: boolean } }, port: number, close: () => Promise<void>, logger: pino.Logger): Promise<void> {
  const { buildApp } = await import('../core/live/observability.ts');
  const app = buildApp({ registry: runtime.registry, health: () => runtime.health() });
  const address = await app.listen({ port, host: '127.0.0.1' });
  logger.info({ address }, 'health and metrics');
  const stop = async () => {
    await close();
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

function auth(o: Common) {
  return {
    ...(o.username !== undefined ? { username: o.username } : {}),
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.caFile !== undefined ? { ca: readFileSync(o.caFile, 'utf8') } : {}),
  };
}

export function registerRuntimes(program: Command): void {
  common(program.command('edge').description('run one edge server (runtime-edge)'))
    .requiredOption('--id <m>', 'edge server id, 1..M')
    .action(async (o: Common & { id: string }) => {
      const scenario = loadScenario(o.scenario, parseSets(o.set));
      const id = Number(o.id);
      if (!(Number.isInteger(id) && id >= 1 && id <= scenario.edgeServers)) throw new UsageError(`--id must be 1..${scenario.edgeServers}, got "${o.id}"`);
      const logger = pino({ level: o.logLevel, base: { edge: id } });
      const { connectMqtt } = await import('../core/live/mqtt.ts');
      const { EdgeServerRuntime } = await import('../runtime-edge/edge-server.ts');
      const mqtt = await connectMqtt({ url: o.broker, clientId: `gmel-edge-${id}`, device: { kind: 'edge', id: String(id) }, ...auth(o) });
      const rt = await EdgeServerRuntime.create({ scenario, edgeServerId: id, mqtt, clock: systemClock, epochMs: Number(o.epochMs), logger });
      await serve(rt, Number(o.httpPort), async () => {
        await rt.close();
        await mqtt.endAsync();
      }, logger);
    });

  common(program.command('ied').description('run a gateway (runtime-ied) for one or many IEDs'))
    .requiredOption('--ieds <list>', 'IED ids, e.g. 7 or 0,1,2 or 0-49')
    .option('--model <dir>', 'model set (newest version) or a version folder', 'models/gmel2024-amarl')
    .option('--engine <name>', 'node | web', 'node')
    .option('--trusted-key <pem>', 'follow over-the-air model updates (gmel/v1/ied/{i}/model) signed with this deploy public key')
    .option('--work-dir <dir>', 'where over-the-air model versions are downloaded', 'ota-models')
    .option('--exec <command>', 'run each local task for real with this command ({taskId} {iedId} {sizeMbit} {density} substituted; killed at the deadline) instead of the emulated GPU')
    .action(async (o: Common & { ieds: string; model: string; engine: string; exec?: string; trustedKey?: string; workDir: string }) => {
      const scenario = loadScenario(o.scenario, parseSets(o.set));
      const ieds = parseIds(o.ieds, scenario.ieds);
      if (o.engine !== 'node' && o.engine !== 'web') throw new UsageError(`--engine must be node or web, got "${o.engine}"`);
      const logger = pino({ level: o.logLevel, base: { gateway: o.ieds } });
      const { connectMqtt } = await import('../core/live/mqtt.ts');
      const { IedGatewayRuntime } = await import('../runtime-ied/gateway.ts');
      const { loadModelHandle, releaseModel } = await import('../runtime-ied/model-loader.ts');
      const model = await loadModelHandle(o.model, scenario, ieds, o.engine);
      const mqtt = await connectMqtt({ url: o.broker, clientId: `gmel-ied-${o.ieds}`, device: { kind: 'ied', id: o.ieds, modelVersion: model.version }, ...auth(o) });
      const { CommandExecutor } = await import('../runtime-ied/executor.ts');
      const executor = o.exec ? new CommandExecutor(o.exec.split(/\s+/).filter(Boolean), scenario.ied.gpuGHz, systemClock) : undefined;
      const rt = await IedGatewayRuntime.create({ scenario, iedIds: ieds, model, mqtt, clock: systemClock, epochMs: Number(o.epochMs), logger, ...(executor ? { executor } : {}) });
      if (o.trustedKey) {
        const { ModelUpdater } = await import('../runtime-ied/ota.ts');
        const { readFileSync } = await import('node:fs');
        await ModelUpdater.create({ gateway: rt, mqtt, iedIds: ieds, scenario, engine: o.engine as 'node' | 'web', trustedPublicKey: readFileSync(o.trustedKey, 'utf8'), workDir: o.workDir, logger });
      }
      // SIGHUP: load the newest version of the model set beside the current one, then swap atomically;
      // a version that fails verification is refused and the current one kept
      process.on('SIGHUP', () => {
        loadModelHandle(o.model, scenario, ieds, o.engine as 'node' | 'web')
          .then((next) => (next.version === rt.modelVersion ? releaseModel(next).then(() => logger.info('model unchanged')) : rt.swapModel(next)))
          .catch((err: unknown) => {
            rt.metrics.modelLoads.inc({ result: 'refused' });
            logger.error({ err: (err as Error).message }, 'model reload refused: keeping the current version');
          });
      });
      await serve(rt, Number(o.httpPort), async () => {
        // SIGTERM: accepted tasks get up to their longest deadline (plus the watchdog's grace) to finish
        const { OFFLOAD_GRACE_MS } = await import('../runtime-ied/gateway.ts');
        await rt.close({ drainMs: scenario.task.deadlineSeconds.max * 1000 + OFFLOAD_GRACE_MS });
        await executor?.close();
        await mqtt.endAsync();
      }, logger);
    });
}

export function parseIds(text: string, count: number): number[] {
  const ids = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new UsageError(`--ieds: "${part}" is not an id or a range a-b`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    for (let i = a; i <= b; i++) {
      if (i >= count) throw new UsageError(`--ieds: IED ${i} is not in 0..${count - 1}`);
      ids.add(i);
    }
  }
  return [...ids].sort((x, y) => x - y);
}

interface TwinCliOptions {
  window: string;
  run?: string;
  models: string;
  retrainEpisodes: string;
  margin: string;
  onDrift?: boolean;
  every: string;
  registry?: string;
  deployKey?: string;
  modelSet: string;
  running?: string;
  ieds?: string;
  canary: string;
  canaryWindow: string;
  maxDrop: string;
  minTasks: string;
}

/** The automatic deployment the twin's flags ask for (undefined: export only), checked before anything starts. */
export function twinDeployPlan(o: TwinCliOptions, plantIeds: number, env: NodeJS.ProcessEnv = process.env) {
  if (!o.registry) return undefined;
  if (!o.run) throw new UsageError('--registry needs --run (there is nothing to promote without retraining)');
  if (!o.deployKey) throw new UsageError('--registry needs --deploy-key: promoted model sets are signed before they are published');
  if (!o.running) throw new UsageError('--registry needs --running <version>: the version the gateways run now, to roll back to');
  const token = env.GMEL_REGISTRY_TOKEN;
  if (!token) throw new UsageError('--registry needs $GMEL_REGISTRY_TOKEN: the registry refuses writes without it');
  const fraction = canaryFlag(o.canary);
  let privateKeyPem: string;
  try {
    privateKeyPem = readFileSync(o.deployKey, 'utf8');
  } catch (err) {
    throw new UsageError(`--deploy-key ${o.deployKey}: ${(err as Error).message}`);
  }
  const windowS = nonNegativeFlag(o.canaryWindow, '--canary-window');
  const maxDropPp = nonNegativeFlag(o.maxDrop, '--max-drop');
  const minTasks = nonNegativeFlag(o.minTasks, '--min-tasks');
  return {
    privateKeyPem, registry: o.registry, token, modelSet: o.modelSet, runningVersion: o.running,
    iedIds: o.ieds ? parseIds(o.ieds, plantIeds) : Array.from({ length: plantIeds }, (_, i) => i),
    canaryFraction: fraction, windowMs: windowS * 1000, maxDropPp, minTasks,
  };
}

/** `gmel twin`: the twin's mirror of a running plant, with its HTTP face. */
export function registerTwin(program: Command): void {
  common(program.command('twin').description('mirror the live plant and watch for drift (/twin/state, /twin/drift, /twin/scenario; dashboard at /)'))
    .option('--window <slots>', 'slots in the estimation window', '300')
    .option('--run <dir>', 'the AMARL run the live actors came from (enables retraining)')
    .option('--models <dir>', 'model set that promoted candidates are exported into', 'models/gmel2024-amarl')
    .option('--retrain-episodes <n>', 'fine-tuning episodes per cycle', '50')
    .option('--margin <pp>', 'promote only if the candidate beats the incumbent by this many points', '1')
    .option('--on-drift', 'retrain by itself when drift is reported')
    .option('--every <minutes>', 'retrain on a schedule (0 = never)', '0')
    .option('--registry <url>', 'after a promotion: sign, publish here ($GMEL_REGISTRY_TOKEN) and roll out over the air')
    .option('--deploy-key <file>', 'Ed25519 private key (PEM) that signs promoted model sets (gmel deploy keygen)')
    .option('--model-set <name>', 'model set name in the registry', 'gmel2024-amarl')
    .option('--running <version>', 'the version the gateways run now (the first rollback target)')
    .option('--ieds <list>', 'IEDs to roll out to, e.g. 0-49 (default: every IED of the scenario)')
    .option('--canary <fraction>', 'share of IEDs in the canary stage', '0.1')
    .option('--canary-window <s>', 'seconds to watch the canaries', '60')
    .option('--max-drop <pp>', 'largest tolerated canary completion drop below the twin\'s prediction, points', '5')
    .option('--min-tasks <n>', 'fewest canary outcomes to judge', '50')
    .action(async (o: Common & TwinCliOptions) => {
      const scenario = loadScenario(o.scenario, parseSets(o.set));
      const deployPlan = twinDeployPlan(o, scenario.ieds);
      const logger = pino({ level: o.logLevel, base: { twin: true } });
      const { connectMqtt } = await import('../core/live/mqtt.ts');
      const { TwinMirror } = await import('../twin/live/mirror.ts');
      const { buildTwinApp } = await import('../twin/live/twin-app.ts');
      const mqtt = await connectMqtt({ url: o.broker, clientId: `gmel-twin-${process.pid}`, device: { kind: 'twin', id: 'mirror' }, ...auth(o) });
      const mirror = await TwinMirror.create(mqtt, { scenario, epochMs: Number(o.epochMs), now: () => Date.now(), windowSlots: Number(o.window) });
      const { Retrainer } = await import('../twin/live/retrainer.ts');
      const deploy = deployPlan ? { ...deployPlan, mqtt, logger } : undefined;
      const retrainer = o.run
        ? new Retrainer({ mirror, incumbentRun: o.run, modelSetDir: o.models, workDir: 'runs/twin', episodes: Number(o.retrainEpisodes), marginPp: Number(o.margin), onDrift: o.onDrift ?? false, everyMs: Number(o.every) * 60_000, log: (line) => logger.info(line), ...(deploy ? { deploy } : {}) })
        : undefined;
      const app = buildTwinApp(mirror, retrainer);
      // the operator's dashboard at / (KPIs from the same telemetry, the twin's verdict, the last cycle and rollout)
      const { KpiMonitor } = await import('../twin/live/kpi.ts');
      const { registerDashboard } = await import('../twin/live/dashboard.ts');
      registerDashboard(app, { kpi: await KpiMonitor.create(mqtt), mirror, ...(retrainer ? { lastCycle: () => retrainer.history.at(-1) } : {}) });
      logger.info({ address: await app.listen({ port: Number(o.httpPort), host: '127.0.0.1' }) }, 'twin');
      const stop = () => void app.close().then(() => mqtt.endAsync()).then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
