/**
 * When the twin retrains: on demand (HTTP), on drift (checked every `checkEveryMs`), or on a schedule;
 * one cycle at a time, the mirror keeps running (the fine-tune is a child process).
 */
import type { TwinMirror } from './mirror.ts';
import { retrainCycle, type RetrainReport } from '../retrain.ts';

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
  readonly log: (line: string) => void;
}

export class Retrainer {
  running: Promise<RetrainReport> | undefined;
  readonly history: (RetrainReport & { reason: string; at: string })[] = [];
  private timers: ReturnType<typeof setInterval>[] = [];
  private incumbent: string;

  constructor(private readonly o: RetrainerOptions) {
    this.incumbent = o.incumbentRun;
    if (o.onDrift) this.timers.push(setInterval(() => {
      const d = o.mirror.drift();
      if (d.drift && !this.running) void this.trigger(`drift: ${d.reasons.join('; ')}`);
    }, o.checkEveryMs ?? 10_000));
    if (o.everyMs > 0) this.timers.push(setInterval(() => void this.trigger('schedule'), o.everyMs));
  }

  /** Start a cycle unless one runs; resolves with its report. */
  trigger(reason: string): Promise<RetrainReport> {
    if (this.running) return this.running;
    this.o.log(`retraining (${reason})`);
    const scenario = this.o.mirror.recalibrated();
    this.running = retrainCycle({ incumbentRun: this.incumbent, scenario, workDir: this.o.workDir, episodes: this.o.episodes, seed: this.history.length + 1, marginPp: this.o.marginPp, modelSetDir: this.o.modelSetDir, log: this.o.log })
      .then((report) => {
        this.history.push({ ...report, reason, at: new Date().toISOString() });
        if (report.promoted) this.incumbent = report.candidateRun;
        return report;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }
}
