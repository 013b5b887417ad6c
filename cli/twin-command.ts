/**
 * `gmel twin`: the twin's mirror of a running plant, with its HTTP face (/twin/state, /twin/drift,
 * /twin/scenario, the dashboard at /), retraining on drift or on a schedule when given the run the
 * live actors came from, and rolling promoted versions out over the air when given a registry.
 *
 *   gmel twin --broker mqtt://host:1883 --run runs/amarl-quick-s1 --on-drift [--http-port 9300]
 */
import { createLogger } from '../protocol/logger.ts';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.ts';
import { parseIedIds, scenarioFrom } from '../core/scenario/options.ts';
import { brokerAuth } from '../protocol/broker-options.ts';
import { daemonOptions, type DaemonFlags } from '../protocol/daemon.ts';
import { canaryOptions, canaryPlan, retrainOptions, type CanaryFlags, type RetrainFlags } from './flags.ts';

interface TwinCliOptions extends RetrainFlags, CanaryFlags {
  window: string;
  models: string;
  every: string;
  registry?: string;
  deployKey?: string;
  modelSet: string;
  running?: string;
  ieds?: string;
  canaryWindow: string;
}

/** The automatic deployment the twin's flags ask for (undefined: export only), checked before anything starts. */
export function twinDeployPlan(o: TwinCliOptions, plantIeds: number, env: NodeJS.ProcessEnv = process.env) {
  if (!o.registry) return undefined;
  if (!o.run) throw new UsageError('--registry needs --run (there is nothing to promote without retraining)');
  if (!o.deployKey) throw new UsageError('--registry needs --deploy-key: promoted model sets are signed before they are published');
  if (!o.running) throw new UsageError('--registry needs --running <version>: the version the gateways run now, to roll back to');
  const token = env.GMEL_REGISTRY_TOKEN;
  if (!token) throw new UsageError('--registry needs $GMEL_REGISTRY_TOKEN: the registry refuses writes without it');
  const canary = canaryPlan(o, o.canaryWindow, '--canary-window');
  let privateKeyPem: string;
  try {
    privateKeyPem = readFileSync(o.deployKey, 'utf8');
  } catch (err) {
    throw new UsageError(`--deploy-key ${o.deployKey}: ${(err as Error).message}`);
  }
  return {
    privateKeyPem, registry: o.registry, token, modelSet: o.modelSet, runningVersion: o.running,
    iedIds: o.ieds ? parseIedIds(o.ieds, plantIeds) : Array.from({ length: plantIeds }, (_, i) => i),
    ...canary,
  };
}

/** `gmel twin`: the twin's mirror of a running plant, with its HTTP face. */
export function registerTwin(program: Command): void {
  canaryOptions(retrainOptions(daemonOptions(program.command('twin').description('mirror the live plant and watch for drift (/twin/state, /twin/drift, /twin/scenario; dashboard at /)')))
    .option('--window <slots>', 'slots in the estimation window', '300')
    .option('--models <dir>', 'model set that promoted candidates are exported into', 'models/gmel2024-amarl')
    .option('--every <minutes>', 'retrain on a schedule (0 = never)', '0')
    .option('--registry <url>', 'after a promotion: sign, publish here ($GMEL_REGISTRY_TOKEN) and roll out over the air')
    .option('--deploy-key <file>', 'Ed25519 private key (PEM) that signs promoted model sets (gmel deploy keygen)')
    .option('--model-set <name>', 'model set name in the registry', 'gmel2024-amarl')
    .option('--running <version>', 'the version the gateways run now (the first rollback target)')
    .option('--ieds <list>', 'IEDs to roll out to, e.g. 0-49 (default: every IED of the scenario)'), '--canary-window', 'the twin\'s prediction')
    .action(async (o: DaemonFlags & TwinCliOptions) => {
      const scenario = scenarioFrom(o);
      const deployPlan = twinDeployPlan(o, scenario.ieds);
      const logger = await createLogger({ level: o.logLevel, format: o.logFormat, base: { twin: true } });
      const { connectWithRetry } = await import('../protocol/mqtt.ts');
      const { TwinMirror } = await import('../twin/mirror.ts');
      const { buildTwinApp } = await import('../twin/routes.ts');
      const mqtt = await connectWithRetry({ url: o.broker, clientId: `gmel-twin-${process.pid}`, device: { kind: 'twin', id: 'mirror' }, ...brokerAuth(o) }, (line) => logger.warn(line));
      const mirror = await TwinMirror.create(mqtt, { scenario, epochMs: Number(o.epochMs), now: () => Date.now(), windowSlots: Number(o.window) });
      const { Retrainer } = await import('../twin/retrainer.ts');
      const deploy = deployPlan ? { ...deployPlan, mqtt, logger } : undefined;
      const retrainer = o.run
        ? new Retrainer({ mirror, incumbentRun: o.run, modelSetDir: o.models, workDir: 'runs/twin', episodes: Number(o.retrainEpisodes), marginPp: Number(o.margin), onDrift: o.onDrift ?? false, everyMs: Number(o.every) * 60_000, log: (line) => logger.info(line), ...(deploy ? { deploy } : {}) })
        : undefined;
      const app = buildTwinApp(mirror, retrainer);
      // the operator's dashboard at / (KPIs from the same telemetry, the twin's verdict, the last cycle and rollout)
      const { KpiMonitor } = await import('../plant/kpi.ts');
      const { registerDashboard } = await import('../plant/dashboard.ts');
      registerDashboard(app, { kpi: await KpiMonitor.create(mqtt), mirror, ...(retrainer ? { lastCycle: () => retrainer.history.at(-1) } : {}) });
      logger.info({ address: await app.listen({ port: Number(o.httpPort), host: '127.0.0.1' }) }, 'twin');
      const stop = () => void app.close().then(() => mqtt.endAsync()).then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
