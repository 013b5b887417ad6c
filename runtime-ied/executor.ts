/**
 * Where a task the actor keeps local actually runs.
 *
 * | executor            | what runs                                   | outcome                                  |
 * |---------------------|---------------------------------------------|------------------------------------------|
 * | (none: emulated)    | nothing: the simulator's eq. (1) local queue| completion slot from eq. (1) (default)   |
 * | CommandExecutor     | a real job per task, one at a time per IED  | exit 0 before the deadline = completed;  |
 * |                     | (FIFO, like the GPU it stands for)          | killed at the deadline or failed = dropped|
 *
 * A real job runner implements LocalExecutor; the gateway then hands local tasks to it and reports
 * what it says, and the observation's local waiting time comes from waitSeconds().
 */
import { spawn } from 'node:child_process';
import type { Clock } from '../protocol/clock.ts';

export interface LocalJob {
  readonly taskId: string;
  readonly iedId: number;
  readonly sizeMbit: number;
  readonly density: number;
  /** wall-clock ms by which it must finish */
  readonly deadlineAt: number;
  readonly createdAt: number;
}

export type JobOutcome = { readonly completed: true; readonly finishedAt: number } | { readonly completed: false; readonly finishedAt: number; readonly reason: string };

export interface LocalExecutor {
  readonly kind: string;
  /** queue the job; `done` is called exactly once */
  submit(job: LocalJob, done: (outcome: JobOutcome) => void): void;
  /** expected wait before a new job of this IED would start, seconds (for the observation) */
  waitSeconds(iedId: number): number;
  close(): Promise<void>;
}

/**
 * Runs `command` (argv array; {taskId} {iedId} {sizeMbit} {density} substituted) for each job, one at a
 * time per IED. The estimated wait is the sum of queued jobs' Gcycles at `gpuGHz`.
 */
export class CommandExecutor implements LocalExecutor {
  readonly kind = 'command';
  private readonly queues = new Map<number, { job: LocalJob; done: (o: JobOutcome) => void }[]>();
  private readonly running = new Map<number, () => void>();
  private closed = false;

  constructor(
    private readonly command: readonly string[],
    private readonly gpuGHz: number,
    private readonly clock: Clock,
  ) {
    if (command.length === 0) throw new Error('CommandExecutor needs a command');
  }

  submit(job: LocalJob, done: (outcome: JobOutcome) => void): void {
    const q = this.queues.get(job.iedId) ?? [];
    q.push({ job, done });
    this.queues.set(job.iedId, q);
    if (!this.running.has(job.iedId)) this.next(job.iedId);
  }

  waitSeconds(iedId: number): number {
    const q = this.queues.get(iedId) ?? [];
    return q.reduce((s, { job }) => s + (job.sizeMbit * job.density) / this.gpuGHz, 0);
  }

  private next(iedId: number): void {
    const q = this.queues.get(iedId);
    const item = q?.shift();
    if (!item) {
      this.running.delete(iedId);
      return;
    }
    const { job, done } = item;
    const left = job.deadlineAt - this.clock.now();
    if (this.closed || left <= 0) {
      done({ completed: false, finishedAt: this.clock.now(), reason: this.closed ? 'executor closed' : 'deadline passed before start' });
      this.next(iedId);
      return;
    }
    const args = this.command.map((a) => a.replace('{taskId}', job.taskId).replace('{iedId}', String(job.iedId)).replace('{sizeMbit}', String(job.sizeMbit)).replace('{density}', String(job.density)));
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(args[0] as string, args.slice(1), { stdio: 'ignore' });
    } catch (err) {
      // spawn itself can throw (E2BIG, ENOMEM…): the job fails, the queue goes on
      done({ completed: false, finishedAt: this.clock.now(), reason: `cannot start: ${(err as Error)?.message ?? String(err)}` });
      this.next(iedId);
      return;
    }
    let finished = false;
    const finish = (outcome: JobOutcome) => {
      if (finished) return;
      finished = true;
      this.clock.clearTimeout(timer);
      done(outcome);
      this.next(iedId);
    };
    const timer = this.clock.setTimeout(() => {
      child.kill('SIGKILL');
      finish({ completed: false, finishedAt: this.clock.now(), reason: 'deadline' });
    }, left);
    this.running.set(iedId, () => child.kill('SIGKILL'));
    child.once('error', (err) => finish({ completed: false, finishedAt: this.clock.now(), reason: err.message }));
    child.once('exit', (code) => finish(code === 0 ? { completed: true, finishedAt: this.clock.now() } : { completed: false, finishedAt: this.clock.now(), reason: `exit ${String(code)}` }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const kill of this.running.values()) kill();
  }
}
