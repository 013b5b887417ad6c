/**
 * What every long-running runtime process (`gmel ied`, `gmel edge`, `gmel twin`) shares: its flags
 * (scenario, broker, HTTP port, slot origin, log level) and its life cycle (/healthz and /metrics on
 * --http-port; SIGINT/SIGTERM close the runtime, then the HTTP server, then exit 0).
 */
import { Option, type Command } from 'commander';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { InputError } from '../core/errors.ts';
import { scenarioOptions, type ScenarioFlags } from '../core/scenario/options.ts';
import { brokerOptions, type BrokerFlags } from './broker-options.ts';
import { PLANT_EPOCH_MS } from './clock.ts';
import { logFormatOption, type LogFormat } from './logger.ts';
import type { HealthReport } from './health-app.ts';

export interface DaemonFlags extends ScenarioFlags, BrokerFlags {
  broker: string;
  httpPort: string;
  logLevel: string;
  logFormat: LogFormat;
  epochMs: string;
}

export function daemonOptions(cmd: Command): Command {
  return brokerOptions(scenarioOptions(cmd))
    .option('--http-port <n>', '/healthz and /metrics port (0 = any)', '0')
    .option('--epoch-ms <ms>', 'slot origin shared by the plant', String(PLANT_EPOCH_MS))
    .addOption(logLevelOption('info'))
    .addOption(logFormatOption());
}

/** pino's levels, checked at the flag */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function logLevelOption(defaultLevel: (typeof LOG_LEVELS)[number]): Option {
  return new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default(defaultLevel);
}

/** Serve /healthz and /metrics for `runtime`; on SIGINT/SIGTERM run `close`, stop serving and exit 0. */
export async function serveRuntime(runtime: { registry: Registry; health(): HealthReport }, port: number, close: () => Promise<void>, logger: Logger): Promise<void> {
  const { buildApp } = await import('./health-app.ts');
  const app = buildApp({ registry: runtime.registry, health: () => runtime.health() });
  const address = await app.listen({ port, host: '127.0.0.1' }).catch((err: unknown) => {
    throw (err as { code?: string }).code === 'EADDRINUSE' ? new InputError(`--http-port ${port} is already in use`) : err;
  });
  logger.info({ address }, 'health and metrics');
  const stop = async () => {
    await close();
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}
