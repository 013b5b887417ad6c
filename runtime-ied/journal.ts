/**
 * The gateway's task journal (issue #10, defect 9): every task the gateway accepts is written here
 * before the broker hears our PUBACK, so a gateway killed at any instant (`kill -9`, OOM, power loss
 * within the sync window) still gives every accepted task exactly one outcome after it restarts, and
 * refuses replays of the tasks it accepted before (by id while the id is remembered, by age after).
 *
 * | record | written when                          | how           | line                          |
 * |--------|---------------------------------------|---------------|-------------------------------|
 * | accept | a task passed admission               | synchronously | `a{task announcement JSON}`   |
 * | decide | the actor chose an action             | batched       | `d<taskId>\t<action>`         |
 * | offload| an upload ended                       | before it     | `o<taskId>\t<edgeServerId>`   |
 * |        |                                       | leaves (flush)|                               |
 * | resolve| the outcome is known                  | before it     | `r<taskId>\t<result JSON>`    |
 * |        |                                       | leaves (flush)|                               |
 * | settle | the broker acknowledged the result, or | batched       | `p<taskId>`                   |
 * |        | refused it for good (MQTT 5 ≥ 0x80)    |               |                               |
 *
 * Durability. A synchronous record is in the kernel's page cache (write(2)) before the call returns,
 * so it survives the death of this process whatever the cause. Offload and resolve records are batched
 * too, but the gateway's outbox calls flush() before it sends anything (gateway.ts), so each is on
 * disk before its message leaves, at one write per outbox batch instead of one per record; `fdatasync` runs every
 * `syncIntervalMs` (default 20 ms) for the power-loss case, which bounds what an outage of the whole
 * machine can lose to the last interval's acknowledgements. Batched records are flushed with the next
 * synchronous one or on the next turn of the event loop; losing one is harmless (a decision is
 * re-made, a result re-published: consumers count results once per task id).
 *
 * Recovery reads every segment in order and hands the gateway (gateway.ts, `recover`) the tasks
 * still open (with their action and edge server, if any), the results the broker never settled
 * (acknowledged or refused for good), and the ids to refuse as duplicates. A torn last line (a write cut by power loss)
 * is skipped and counted.
 *
 * Space. The log is cut into segments of `segmentBytes`; a task is forgotten once its result was
 * settled and its id can no longer be replayed (deadline + MAX_CLOCK_SKEW_MS: admission refuses
 * an older task as `stale`), and a segment whose tasks are all forgotten is deleted. So the journal
 * holds about (deadline + 5 s) × task rate of tasks, on disk and in memory.
 *
 * Written by hand (an append-only file) rather than with an embedded database: Node 20 has no built-in
 * SQLite, and the embedded stores on npm (better-sqlite3, lmdb, classic-level) are native addons the
 * single-file gateway bundle would have to ship per platform beside onnxruntime-node. About 400 lines,
 * over the usual 300: writing, syncing, forgetting and replaying share one record format and one set
 * of invariants (what is on disk before which message leaves) that read best in one file; the lock
 * lives apart (journal-lock.ts).
 */
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { lockJournal, unlockJournal } from './journal-lock.ts';
import { join } from 'node:path';
import { decode } from '../protocol/codec.ts';
import { topics } from '../protocol/topics.ts';
import { MAX_CLOCK_SKEW_MS } from '../protocol/refusals.ts';
import type { TaskAnnouncement } from '../protocol/messages.ts';
import type { Clock } from '../protocol/clock.ts';

export interface JournalOptions {
  /** the journal's folder (created if missing); one gateway process per folder */
  readonly dir: string;
  readonly clock: Clock;
  /** fdatasync the open segment at most this often, ms (default 20): the power-loss window */
  readonly syncIntervalMs?: number;
  /** start a new segment beyond this size, bytes (default 8 MiB) */
  readonly segmentBytes?: number;
  /**
   * A write or sync failed (a full or failing disk): the journal can no longer promise anything, so
   * the process must stop before it acknowledges another task, synchronously (the message handler is
   * still running: mqtt.js sends its PUBACK only after). Default: write the cause to stderr and exit
   * with 74 (EX_IOERR); `gmel ied` logs it first. A handler that returns (tests) makes the failing
   * call throw, and then the task's PUBACK may still go out.
   */
  readonly onFatal?: (err: Error) => void;
}

/** An accepted task with no outcome yet when the journal was opened. */
export interface OpenTask {
  readonly msg: TaskAnnouncement;
  /** the action decided for it, if the decision was journaled */
  readonly action?: number;
  /** the edge server (1-based) its offload went to, if one left */
  readonly edgeServerId?: number;
}

/** A result journaled before it was sent, whose publication the broker never acknowledged. */
export interface UnsettledResult {
  readonly taskId: string;
  readonly iedId: number;
  /** the result message exactly as it was to be sent */
  readonly payload: string;
}

export interface Recovered {
  readonly open: readonly OpenTask[];
  readonly unsettled: readonly UnsettledResult[];
  /** every task id still remembered (accepted and not yet past deadline + MAX_CLOCK_SKEW_MS) */
  readonly seen: readonly string[];
  /** segments read, lines skipped as torn or unreadable */
  readonly segments: number;
  readonly tornLines: number;
}

interface Entry {
  msg: TaskAnnouncement;
  /** the segment holding its accept record */
  segment: number;
  action?: number;
  edgeServerId?: number;
  result?: string;
  settled: boolean;
}

const SEGMENT = /^journal-(\d{8})\.log$/;
const segmentName = (n: number) => `journal-${String(n).padStart(8, '0')}.log`;
/** when a task id may be forgotten: admission refuses the task as stale from then on */
const forgetAt = (msg: TaskAnnouncement) => msg.createdAt + msg.deadlineSeconds * 1000 + MAX_CLOCK_SKEW_MS;

export class TaskJournal {
  private readonly entries = new Map<string, Entry>();
  /** tasks accepted per live segment and not yet forgotten */
  private readonly live = new Map<number, number>();
  /** settled tasks waiting to be forgotten, in settlement order */
  private readonly forgetting: string[] = [];
  private forgetHead = 0;
  private segment = 0;
  private fd = -1;
  private bytes = 0;
  private batched: string[] = [];
  private flushScheduled = false;
  private dirty = false;
  /** the fd an fdatasync is running on, if one is */
  private syncing: number | undefined;
  /** segments' fds closed by startSegment/close while their fdatasync ran: closed when it ends */
  private readonly retired = new Set<number>();
  private failed: Error | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  private closed = false;
  private readonly segmentBytes: number;

  private constructor(private readonly o: JournalOptions) {
    this.segmentBytes = o.segmentBytes ?? 8 * 1024 * 1024;
    this.timer = setInterval(() => this.tick(), o.syncIntervalMs ?? 20);
    this.timer.unref();
  }

  /** Opens (or creates) the journal in `o.dir`, reads what a previous process left, and starts a new segment. */
  static open(o: JournalOptions): { journal: TaskJournal; recovered: Recovered } {
    mkdirSync(o.dir, { recursive: true });
    lockJournal(o.dir);
    const j = new TaskJournal(o);
    const recovered = j.replay();
    j.startSegment(j.segment + 1);
    return { journal: j, recovered };
  }

  /** tasks accepted and not yet forgotten (memory and disk are proportional to it) */
  get size(): number {
    return this.entries.size;
  }

  /** segments on disk */
  get segments(): number {
    return this.live.size;
  }

  /** The task passed admission: on disk before this returns (so before our PUBACK). */
  accepted(msg: TaskAnnouncement): void {
    const segment = this.segment;
    this.write(`a${JSON.stringify(msg)}\n`, true); // throws if it did not reach the file: the task is not accepted
    this.entries.set(msg.taskId, { msg, segment, settled: false });
    this.live.set(segment, (this.live.get(segment) ?? 0) + 1);
  }

  decided(taskId: string, action: number): void {
    const e = this.entries.get(taskId);
    if (!e) return;
    e.action = action;
    this.write(`d${taskId}\t${action}\n`, false);
  }

  /** The offload to edge server `edgeServerId` is about to leave: on disk at the next flush(), before it is sent. */
  offloaded(taskId: string, edgeServerId: number): void {
    const e = this.entries.get(taskId);
    if (!e) return;
    e.edgeServerId = edgeServerId;
    this.write(`o${taskId}\t${edgeServerId}\n`, false);
  }

  /** The task's result message is about to leave: on disk at the next flush(), before it is sent. */
  resolved(taskId: string, payload: string): void {
    const e = this.entries.get(taskId);
    if (!e) return;
    e.result = payload;
    this.write(`r${taskId}\t${payload}\n`, false);
  }

  /** The broker acknowledged the result or refused it for good: the task may be forgotten once it can no longer be replayed. */
  settled(taskId: string): void {
    const e = this.entries.get(taskId);
    if (!e || e.settled) return;
    e.settled = true;
    this.forgetting.push(taskId);
    this.write(`p${taskId}\n`, false);
  }

  /** Flush, sync and close (idempotent). */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.timer);
    this.retire(this.fd);
    unlockJournal(this.o.dir);
  }

  /** Syncs and closes a segment's fd, or leaves the close to the fdatasync still running on it. */
  private retire(fd: number): void {
    this.io(() => fdatasyncSync(fd));
    if (this.syncing === fd) this.retired.add(fd);
    else closeSync(fd);
  }

  private fatal(err: Error): void {
    if (this.o.onFatal) return this.o.onFatal(err);
    process.stderr.write(`gmel: the task journal in ${this.o.dir} failed (${err.message}): stopping before another task is acknowledged\n`);
    process.exit(74); // EX_IOERR
  }

  /** Runs an I/O step; a failure is fatal to the journal (onFatal), and then thrown. */
  private io<T>(step: () => T): T {
    if (this.failed) throw this.failed;
    try {
      return step();
    } catch (err) {
      this.failed = err as Error;
      this.fatal(this.failed);
      throw this.failed;
    }
  }

  private write(line: string, now: boolean): void {
    if (this.closed) {
      if (now) throw new Error('the task journal is closed');
      return;
    }
    this.batched.push(line);
    if (now) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Writes the batched records now (the outbox calls it before each send). */
  flush(): void {
    if (this.batched.length === 0 || this.closed) return;
    const buf = Buffer.from(this.batched.length === 1 ? (this.batched[0] as string) : this.batched.join(''));
    // the batch is dropped only once written: a failed write stops the process (onFatal) with it unacknowledged
    this.io(() => {
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
    });
    this.batched = [];
    this.bytes += buf.length;
    this.dirty = true;
    if (this.bytes >= this.segmentBytes && !this.closed) this.startSegment(this.segment + 1);
  }

  /** every syncIntervalMs: fdatasync if something was written, forget what may be, drop empty segments */
  private tick(): void {
    if (this.closed) return;
    if (this.failed) return;
    if (this.dirty && this.syncing === undefined) {
      this.dirty = false;
      const fd = this.fd;
      this.syncing = fd;
      fdatasync(fd, (err) => {
        this.syncing = undefined;
        if (this.retired.delete(fd)) closeSync(fd);
        if (err && !this.failed) {
          this.failed = err;
          this.fatal(err);
        }
      });
    }
    this.forget();
  }

  private forget(): void {
    const now = this.o.clock.now();
    while (this.forgetHead < this.forgetting.length) {
      const taskId = this.forgetting[this.forgetHead] as string;
      const e = this.entries.get(taskId);
      // admission refuses as stale only from forgetAt + 1 ms; the queue is roughly in order, so a later
      // task waits behind this one
      if (e && forgetAt(e.msg) >= now) break;
      this.forgetHead++;
      if (!e) continue;
      this.entries.delete(taskId);
      this.live.set(e.segment, (this.live.get(e.segment) ?? 1) - 1);
    }
    if (this.forgetHead > 4096 && this.forgetHead * 2 > this.forgetting.length) {
      this.forgetting.splice(0, this.forgetHead);
      this.forgetHead = 0;
    }
    for (const [segment, count] of this.live) {
      if (segment >= this.segment) break; // Map keeps insertion order: oldest first
      if (count > 0) break; // a segment is deleted only after every older one
      try {
        unlinkSync(join(this.o.dir, segmentName(segment)));
      } catch {
        break; // kept (a replay of it is harmless: all its tasks are forgotten); tried again next tick
      }
      this.live.delete(segment);
    }
  }

  private startSegment(n: number): void {
    if (this.fd >= 0) this.retire(this.fd);
    this.segment = n;
    this.fd = this.io(() => openSync(join(this.o.dir, segmentName(n)), 'a'));
    this.bytes = 0;
    if (!this.live.has(n)) this.live.set(n, 0);
    // the new file's name must survive a power loss too
    this.io(() => {
      const dirFd = openSync(this.o.dir, 'r');
      try {
        fsyncSync(dirFd);
      } finally {
        closeSync(dirFd);
      }
    });
  }

  private replay(): Recovered {
    const names = readdirSync(this.o.dir).filter((f) => SEGMENT.test(f)).sort();
    let tornLines = 0;
    for (const name of names) {
      const segment = Number(SEGMENT.exec(name)?.[1]);
      this.segment = Math.max(this.segment, segment);
      this.live.set(segment, 0);
      const text = readFileSync(join(this.o.dir, name), 'utf8');
      for (const line of text.split('\n')) {
        if (line.length === 0) continue;
        if (!this.replayLine(line, segment)) tornLines++;
      }
    }
    const now = this.o.clock.now();
    const open: OpenTask[] = [];
    const unsettled: UnsettledResult[] = [];
    for (const [taskId, e] of this.entries) {
      if (e.result === undefined) open.push({ msg: e.msg, ...(e.action !== undefined ? { action: e.action } : {}), ...(e.edgeServerId !== undefined ? { edgeServerId: e.edgeServerId } : {}) });
      else if (!e.settled) unsettled.push({ taskId, iedId: e.msg.iedId, payload: e.result });
      else if (forgetAt(e.msg) < now) {
        this.entries.delete(taskId);
        this.live.set(e.segment, (this.live.get(e.segment) ?? 1) - 1);
        continue;
      } else this.forgetting.push(taskId);
    }
    this.forget();
    return { open, unsettled, seen: [...this.entries.keys()], segments: names.length, tornLines };
  }

  /** one record of a previous process; false if it cannot be read (a torn write) */
  private replayLine(line: string, segment: number): boolean {
    const kind = line[0];
    if (kind === 'a') {
      let raw: unknown;
      try {
        raw = JSON.parse(line.slice(1));
      } catch {
        return false;
      }
      const iedId = (raw as { iedId?: unknown })?.iedId;
      if (typeof iedId !== 'number') return false;
      // the same codec as on the wire: a damaged record is never taken for a task
      const d = decode(topics.task(iedId), Buffer.from(line.slice(1)));
      if (!d.ok || d.kind !== 'task') return false;
      if (this.entries.has(d.message.taskId)) return true;
      this.entries.set(d.message.taskId, { msg: d.message, segment, settled: false });
      this.live.set(segment, (this.live.get(segment) ?? 0) + 1);
      return true;
    }
    const tab = line.indexOf('\t');
    const taskId = tab < 0 ? line.slice(1) : line.slice(1, tab);
    const e = this.entries.get(taskId);
    if (kind === 'p') {
      if (e) e.settled = true;
      return true;
    }
    if (tab < 0) return false;
    const rest = line.slice(tab + 1);
    if (kind === 'd' || kind === 'o') {
      const value = Number(rest);
      if (!Number.isInteger(value)) return false;
      if (e && kind === 'd') e.action = value;
      if (e && kind === 'o') e.edgeServerId = value;
      return true;
    }
    if (kind === 'r') {
      try {
        JSON.parse(rest);
      } catch {
        return false;
      }
      if (e) e.result = rest;
      return true;
    }
    return false;
  }
}
