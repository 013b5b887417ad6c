/**
 * `gmel ied`: a gateway serving one or many IEDs, as its own process (also the bundle's only command:
 * runtime-ied/main.ts).
 *
 *   gmel ied --ieds 0,1,2 --model models/gmel2024-amarl --broker mqtt://host:1883 [--engine web] [--http-port 9101]
 *
 * Serves /healthz and /metrics on --http-port and stops cleanly on SIGINT/SIGTERM (accepted tasks get
 * up to their longest deadline). Reloads its model set (newest version, verified) on SIGHUP without
 * dropping tasks; with --trusted-key it follows signed over-the-air updates.
 */
import { createLogger } from '../protocol/logger.ts';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { UsageError } from '../core/errors.ts';
import { parseIedIds, scenarioFrom } from '../core/scenario/options.ts';
import { brokerAuth } from '../protocol/broker-options.ts';
import { systemClock } from '../protocol/clock.ts';
import { daemonOptions, serveRuntime, type DaemonFlags } from '../protocol/daemon.ts';
import { connectWithRetry, endAfterAcks } from '../protocol/mqtt.ts';
import { IedGatewayRuntime, OFFLOAD_GRACE_MS } from './gateway.ts';
import { loadModelHandle, releaseModel } from './model-loader.ts';
import { CommandExecutor } from './executor.ts';
import { ModelUpdater } from './ota.ts';
import { TaskJournal } from './journal.ts';

interface IedFlags extends DaemonFlags {
  ieds: string;
  model: string;
  engine: string;
  exec?: string;
  trustedKey?: string;
  registry?: string;
  workDir: string;
  journal?: string;
}

export function registerIed(program: Command): void {
  daemonOptions(program.command('ied').description('run a gateway (runtime-ied) for one or many IEDs'))
    .requiredOption('--ieds <list>', 'IED ids, e.g. 7 or 0,1,2 or 0-49')
    .option('--model <dir>', 'model set (newest version) or a version folder', 'models/gmel2024-amarl')
    .option('--engine <name>', 'node | web', 'node')
    .option('--trusted-key <pem>', 'follow over-the-air model updates (gmel/v1/ied/{i}/model) signed with this deploy public key')
    .option('--registry <url>', 'with --trusted-key: the only model registry over-the-air updates may come from (a desire naming another is refused)')
    .option('--work-dir <dir>', 'where over-the-air model versions are downloaded', 'ota-models')
    .option('--journal <dir>', 'crash safety: journal every accepted task in this folder (fsync\'d), so that after a crash or kill -9 each still gets one outcome and replays are refused (the signed bundle\'s unit sets it)')
    .option('--exec <command>', 'run each local task for real with this command ({taskId} {iedId} {sizeMbit} {density} substituted; killed at the deadline) instead of the emulated GPU')
    .action(async (o: IedFlags) => {
      const scenario = scenarioFrom(o);
      const ieds = parseIedIds(o.ieds, scenario.ieds);
      if (o.engine !== 'node' && o.engine !== 'web') throw new UsageError(`--engine must be node or web, got "${o.engine}"`);
      const engine = o.engine;
      const logger = await createLogger({ level: o.logLevel, format: o.logFormat, base: { gateway: o.ieds } });
      const model = await loadModelHandle(o.model, scenario, ieds, engine);
      // a journal that cannot write can no longer promise anything: stop before another PUBACK goes out
      // (synchronously, inside the message handler); systemd restarts us and the journal is replayed
      const onFatal = (err: Error) => {
        logger.fatal({ err: err.message, journal: o.journal }, 'the task journal failed: stopping before another task is acknowledged');
        process.exit(74); // EX_IOERR
      };
      const journal = o.journal ? TaskJournal.open({ dir: o.journal, clock: systemClock, onFatal }) : undefined;
      // with a journal, a task is acknowledged to the broker only once it is on disk (protocol/mqtt.ts)
      const mqtt = await connectWithRetry({ url: o.broker, clientId: `gmel-ied-${o.ieds}`, device: { kind: 'ied', id: o.ieds, modelVersion: model.version }, ackAfterListen: journal !== undefined, ...brokerAuth(o) }, (line) => logger.warn(line));
      const executor = o.exec ? new CommandExecutor(o.exec.split(/\s+/).filter(Boolean), scenario.ied.gpuGHz, systemClock) : undefined;
      const rt = await IedGatewayRuntime.create({ scenario, iedIds: ieds, model, mqtt, clock: systemClock, epochMs: Number(o.epochMs), logger, ...(executor ? { executor } : {}), ...(journal ? { journal } : {}) });
      if (o.trustedKey) {
        await ModelUpdater.create({ gateway: rt, mqtt, iedIds: ieds, scenario, engine, trustedPublicKey: readFileSync(o.trustedKey, 'utf8'), workDir: o.workDir, logger, ...(o.registry ? { registry: o.registry } : {}) });
      }
      // SIGHUP: load the newest version of the model set beside the current one, then swap atomically;
      // a version that fails verification is refused and the current one kept
      process.on('SIGHUP', () => {
        loadModelHandle(o.model, scenario, ieds, engine)
          .then((next) => (next.version === rt.modelVersion ? releaseModel(next).then(() => logger.info('model unchanged')) : rt.swapModel(next)))
          .catch((err: unknown) => {
            rt.metrics.modelLoads.inc({ result: 'refused' });
            logger.error({ err: (err as Error).message }, 'model reload refused: keeping the current version');
          });
      });
      await serveRuntime(rt, Number(o.httpPort), async () => {
        // SIGTERM: accepted tasks get up to their longest deadline (plus the watchdog's grace) to finish
        await rt.close({ drainMs: scenario.task.deadlineSeconds.max * 1000 + OFFLOAD_GRACE_MS });
        await executor?.close();
        // from here nothing more is taken or acknowledged (it waits in the broker for the next process);
        // the results still leaving are acknowledged first (the journal records that)
        await endAfterAcks(mqtt, () => rt.unsent);
        journal?.journal.close();
      }, logger);
    });
}
