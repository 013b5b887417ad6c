/**
 * The task journal's lock file (journal.ts): one gateway process per journal folder. The file names
 * its owner by pid, boot id and process start time (Linux /proc), so neither a crash nor a pid reused
 * after a reboot leaves a folder locked for good.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../core/errors.ts';

const LOCK = 'journal.lock';

/** Who holds a lock: a pid alone is not enough (after a reboot another process may carry it). */
interface LockOwner {
  readonly pid: number;
  /** Linux: the kernel's boot id and the process's start time (clock ticks since boot), where readable */
  readonly boot?: string;
  readonly start?: string;
}

const readOr = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};
const bootId = (): string | undefined => readOr('/proc/sys/kernel/random/boot_id')?.trim();
/** field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces) */
const startTime = (pid: number): string | undefined => {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};
const me = (): LockOwner => ({ pid: process.pid, ...(bootId() ? { boot: bootId() } : {}), ...(startTime(process.pid) ? { start: startTime(process.pid) } : {}) });

/** Is the process that wrote this lock still running? (Same boot and same start time, where known.) */
function holds(owner: LockOwner): boolean {
  if (owner.boot !== undefined && owner.boot !== bootId()) return false; // written before a reboot
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return owner.start === undefined || owner.start === startTime(owner.pid); // else: the pid was reused
}

function parseOwner(text: string | undefined): LockOwner | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text ?? '');
  } catch {
    return undefined;
  }
  if (typeof o === 'number') o = { pid: o }; // an older gateway wrote the pid alone
  const pid = (o as LockOwner | null)?.pid;
  return Number.isInteger(pid) && (pid as number) > 0 ? (o as LockOwner) : undefined;
}

/**
 * One process per journal: a second gateway on the same folder would interleave two histories. The
 * lock names its owner (pid, boot id, start time); a lock whose owner is gone (a crash, kill -9, a
 * reboot) is taken over. Taking over is a read-check-replace, not atomic: it assumes what a service
 * manager guarantees (systemd starts one process per unit at a time), and re-reads the lock after
 * writing it so that two gateways racing for one stale lock see each other in all but a tiny window.
 * Liveness comes from /proc, so it holds within one pid namespace: two containers that share a journal
 * volume cannot see each other's processes (give each gateway its own folder).
 */
export function lockJournal(dir: string): void {
  const path = join(dir, LOCK);
  const mine = JSON.stringify(me());
  try {
    writeFileSync(path, mine, { flag: 'wx' });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = parseOwner(readOr(path));
  const us = me();
  const ours = owner?.pid === us.pid && owner.boot === us.boot && owner.start === us.start; // this process, opening again
  if (owner && !ours && holds(owner)) throw new UsageError(`--journal ${dir} is in use by process ${owner.pid}: one gateway process per journal`);
  const tmp = `${path}.${process.pid}`;
  writeFileSync(tmp, mine);
  renameSync(tmp, path); // atomic: the lock file always names one owner
  if (readOr(path) !== mine) throw new UsageError(`--journal ${dir}: another process took the stale lock at the same time: one gateway process per journal`);
}

/** Removes the lock if it is still ours (a process that took over a lock it thought stale keeps its own). */
export function unlockJournal(dir: string): void {
  const path = join(dir, LOCK);
  if (readOr(path) === JSON.stringify(me())) unlinkSync(path);
}
