/**
 * `gmel edge`: one edge server as its own process, as it runs on a real machine.
 *
 *   gmel edge --id 2 --broker mqtt://host:1883 [--http-port 9102]
 *
 * Serves /healthz and /metrics (Prometheus) on --http-port and stops cleanly on SIGINT/SIGTERM.
 */
import { createLogger } from '../protocol/logger.ts';
import type { Command } from 'commander';
import { UsageError } from '../core/errors.ts';
import { scenarioFrom } from '../core/scenario/options.ts';
import { brokerAuth } from '../protocol/broker-options.ts';
import { systemClock } from '../protocol/clock.ts';
import { daemonOptions, serveRuntime, type DaemonFlags } from '../protocol/daemon.ts';
import { connectWithRetry } from '../protocol/mqtt.ts';
import { EdgeServerRuntime } from './edge-server.ts';

export function registerEdge(program: Command): void {
  daemonOptions(program.command('edge').description('run one edge server (runtime-edge)'))
    .requiredOption('--id <m>', 'edge server id, 1..M')
    .action(async (o: DaemonFlags & { id: string }) => {
      const scenario = scenarioFrom(o);
      const id = Number(o.id);
      if (!(Number.isInteger(id) && id >= 1 && id <= scenario.edgeServers)) throw new UsageError(`--id must be 1..${scenario.edgeServers}, got "${o.id}"`);
      const logger = await createLogger({ level: o.logLevel, format: o.logFormat, base: { edge: id } });
      const mqtt = await connectWithRetry({ url: o.broker, clientId: `gmel-edge-${id}`, device: { kind: 'edge', id: String(id) }, ...brokerAuth(o) }, (line) => logger.warn(line));
      const rt = await EdgeServerRuntime.create({ scenario, edgeServerId: id, mqtt, clock: systemClock, epochMs: Number(o.epochMs), logger });
      await serveRuntime(rt, Number(o.httpPort), async () => {
        await rt.close();
        await mqtt.endAsync();
      }, logger);
    });
}
