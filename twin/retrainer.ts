/**
 * When the twin retrains: on demand (HTTP), on drift (checked every `checkEveryMs`), or on a schedule;
 * one cycle at a time, the mirror keeps running (the fine-tune is a child process).
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { TwinMirror } from './mirror.ts';
import { retrainCycle, type RetrainReport } from './retrain.ts';
import { signModelSet } from '../core/model-signature.ts';
import { publishModelSet } from '../deploy/publish.ts';
import { runRollout, type RolloutReport } from '../deploy/rollout.ts';
import { runModelInSim } from './predict.ts';

/**
 * After a promotion: sign the new version, publish it, roll it out (canary first). The canary is judged
 * against the twin's prediction: the exported ONNX files run on the recalibrated simulator, the canary
 * IEDs' completion rate.
 */
export interface AutoDeploy {
  readonly privateKeyPem: string;
  readonly registry: string;
  readonly token: string;
  readonly modelSet: string;
  readonly mqtt: MqttClient;
  readonly iedIds: readonly number[];
  /** the version the gateways run now (the rollback target) */
  readonly runningVersion: string;
  readonly canaryFraction: number;
  readonly windowMs: number;
  /** after the canary window, how long to wait for outcomes of the tasks decided in it, ms */
  readonly drainMs?: number;
  readonly maxDropPp: number;
  readonly minTasks: number;
  readonly maxDecisionErrorRate?: number;
  /** episodes of the twin's simulator behind the canary prediction (default 5) */
  readonly predictionEpisodes?: number;
  readonly logger: Logger;
}

/** seeds of the canary prediction: a stream of its own, apart from training and evaluation */
const PREDICTION_SEED = 0x70726564;

export interface RetrainerOptions {
  readonly mirror: TwinMirror;
  readonly incumbentRun: string;
  readonly modelSetDir: string;
  readonly workDir: string;
  readonly episodes: number;
  readonly marginPp: number;
  /** retrain by itself when drift is reported */
  readonly onDrift: boolean;
  /** retrain every this many ms regardless (0 = never) */
  readonly everyMs: number;
  readonly checkEveryMs?: number;
  /** after a drift-triggered cycle that promoted nothing, wait this long before drift may trigger again (default 10 min) */
  readonly driftCooldownMs?: number;
  readonly log: (line: string) => void;
  readonly deploy?: AutoDeploy;
  /**
   * Without `deploy`: switch the gateways of this process to a promoted version directly (gmel up,
   * where the gateway runtimes (one, or a fleet) are in the same process; no registry, no canary).
   */
  readonly applyLocally?: (versionDir: string) => Promise<void>;
}

/** One finished cycle: the retraining report, why it ran, and what happened to a promoted version. */
export type RetrainCycle = RetrainReport & { reason: string; at: string; rollout?: RolloutReport; appliedLocally?: boolean };

export class Retrainer {
  running: Promise<RetrainReport> | undefined;
  readonly history: RetrainCycle[] = [];
  private timers: ReturnType<typeof setInterval>[] = [];
  private incumbent: string;
  private runningVersion: string | undefined;

  constructor(private readonly o: RetrainerOptions) {
    this.incumbent = o.incumbentRun;
    this.runningVersion = o.deploy?.runningVersion;
    if (o.onDrift) this.timers.push(setInterval(() => {
      const d = o.mirror.drift();
      if (d.drift && !this.running && Date.now() >= this.quietUntil) this.background(`drift: ${d.reasons.join('; ')}`);
    }, o.checkEveryMs ?? 10_000));
    if (o.everyMs > 0) this.timers.push(setInterval(() => this.background('schedule'), o.everyMs));
  }

  /** failures of cycles nobody awaits (drift, schedule, HTTP): logged and kept, never thrown */
  readonly failures: { reason: string; error: string; at: string }[] = [];
  /**
   * After a drift-triggered cycle that changed nothing (not promoted, or failed), the same drift would
   * start the same cycle again at once: drift waits `driftCooldownMs` before it may trigger again.
   */
  private quietUntil = 0;

  /** Start a cycle in the background (drift, schedule, on demand); its outcome lands in history or failures. */
  background(reason: string): void {
    if (this.stopped) return;
    const fromDrift = reason.startsWith('drift');
    this.trigger(reason).then(
      (report) => {
        if (fromDrift && !report.promoted) this.quietUntil = Date.now() + (this.o.driftCooldownMs ?? 600_000);
      },
      (err: unknown) => {
        const error = (err as Error).message;
        this.failures.push({ reason, error, at: new Date().toISOString() });
        this.o.log(`retraining failed (${reason}): ${error}`);
        if (fromDrift) this.quietUntil = Date.now() + (this.o.driftCooldownMs ?? 600_000);
      },
    );
  }

  /** Start a cycle unless one runs; resolves with its report. */
  trigger(reason: string): Promise<RetrainReport> {
    if (this.running) return this.running;
    this.o.log(`retraining (${reason})`);
    const scenario = this.o.mirror.recalibrated();
    this.running = retrainCycle({ incumbentRun: this.incumbent, scenario, workDir: this.o.workDir, episodes: this.o.episodes, seed: this.history.length + 1, marginPp: this.o.marginPp, modelSetDir: this.o.modelSetDir, log: this.o.log })
      .then(async (report) => {
        let rollout: RolloutReport | undefined;
        const d = this.o.deploy;
        const exported = report.exported;
        if (report.promoted && exported && d && this.runningVersion) {
          signModelSet(report.exported.dir, d.privateKeyPem);
          await publishModelSet({ versionDir: report.exported.dir, registry: d.registry, token: d.token, modelSet: d.modelSet, version: report.exported.version });
          this.o.log(`published ${d.modelSet}/${report.exported.version}; rolling out`);
          rollout = await runRollout({ mqtt: d.mqtt, iedIds: d.iedIds, modelSet: d.modelSet, fromVersion: this.runningVersion, toVersion: report.exported.version, registry: d.registry, canaryFraction: d.canaryFraction, windowMs: d.windowMs, maxDropPp: d.maxDropPp, minTasks: d.minTasks,
            predictCompletion: async (canaries) => (await runModelInSim(scenario, exported.dir, d.predictionEpisodes ?? 5, PREDICTION_SEED, 'node', canaries)).summary.completionRate,
            ...(d.maxDecisionErrorRate === undefined ? {} : { maxDecisionErrorRate: d.maxDecisionErrorRate }),
            ...(d.drainMs === undefined ? {} : { drainMs: d.drainMs }), logger: d.logger, rollbackKeyPem: d.privateKeyPem });
          if (rollout.outcome === 'promoted') {
            this.runningVersion = exported.version;
            // the plant now runs actors trained on the recalibrated scenario: drift is judged against it
            this.o.mirror.retarget(scenario);
            this.o.log(`the twin now judges drift against the scenario ${exported.version} was trained on`);
          }
        }
        let appliedLocally = false;
        if (report.promoted && exported && !d && this.o.applyLocally) {
          await this.o.applyLocally(exported.dir);
          this.o.mirror.retarget(scenario);
          appliedLocally = true;
          this.o.log(`switched to ${exported.version}; the twin now judges drift against the scenario it was trained on`);
        }
        this.history.push({ ...report, reason, at: new Date().toISOString(), ...(rollout ? { rollout } : {}), ...(appliedLocally ? { appliedLocally } : {}) });
        if (report.promoted && (!rollout || rollout.outcome === 'promoted')) this.incumbent = report.candidateRun;
        return report;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private stopped = false;

  /** No new cycles; resolves when a running one has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.running?.catch(() => {});
  }
}
