// The task journal on its own (runtime-ied/journal.ts): what one process writes, the next one reads
// back; torn writes, forgetting, segments and the one-process lock.
import t from 'tap';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskJournal } from '../../runtime-ied/journal.ts';
import type { TaskAnnouncement } from '../../protocol/messages.ts';
import { MAX_CLOCK_SKEW_MS } from '../../protocol/refusals.ts';

let nowMs = 1_800_000_000_000;
const clock = { now: () => nowMs, setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
const task = (taskId: string, iedId = 0, deadlineSeconds = 2): TaskAnnouncement => ({ v: 1, taskId, iedId, sizeMbit: 8, density: 0.02, deadlineSeconds, createdAt: nowMs });
const result = (taskId: string) => JSON.stringify({ v: 1, taskId, iedId: 0, outcome: 'completed', stage: 'local', latencySeconds: 0.5, at: nowMs });
const dir = () => mkdtempSync(join(tmpdir(), 'gmel-journal-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a second process reads back what the first left, record by record', async (t) => {
  const d = dir();
  const { journal, recovered } = TaskJournal.open({ dir: d, clock });
  t.same([recovered.open.length, recovered.unsettled.length, recovered.seen.length], [0, 0, 0], 'an empty folder: nothing to recover');
  journal.accepted(task('pending'));
  journal.accepted(task('local'));
  journal.decided('local', 0);
  journal.accepted(task('offloaded', 1));
  journal.decided('offloaded', 2);
  journal.offloaded('offloaded', 2);
  journal.accepted(task('resolved'));
  journal.resolved('resolved', result('resolved'));
  journal.accepted(task('published'));
  journal.resolved('published', result('published'));
  journal.settled('published');
  await sleep(5); // batched records go out on the next turn of the event loop
  // no close(): the process dies here; the lock it leaves names a process that is gone
  writeFileSync(join(d, 'journal.lock'), '999999999');
  const next = TaskJournal.open({ dir: d, clock });
  t.teardown(() => next.journal.close());
  const r = next.recovered;
  t.same(r.open.map((o) => [o.msg.taskId, o.action, o.edgeServerId]), [['pending', undefined, undefined], ['local', 0, undefined], ['offloaded', 2, 2]], 'open tasks with their action and edge server');
  t.same(r.open[2]?.msg, task('offloaded', 1), 'the announcement itself, field for field');
  t.same(r.unsettled, [{ taskId: 'resolved', iedId: 0, payload: result('resolved') }], 'a result the broker never acknowledged, exactly as it was to be sent');
  t.same([...r.seen].sort(), ['local', 'offloaded', 'pending', 'published', 'resolved'], 'every id is remembered');
  t.equal(r.tornLines, 0);
});

t.test('an accept is on disk when the call returns; offloads and results at flush()', async (t) => {
  const d = dir();
  const { journal } = TaskJournal.open({ dir: d, clock });
  t.teardown(() => journal.close());
  journal.accepted(task('x'));
  const [segment] = readdirSync(d).filter((f) => f.endsWith('.log'));
  t.match(readFileSync(join(d, segment as string), 'utf8'), /^a\{"v":1,"taskId":"x"/, 'accept is in the file before anything else runs');
  journal.offloaded('x', 3);
  journal.resolved('x', result('x'));
  journal.flush(); // the gateway's outbox calls it before sending the offload or the result
  t.match(readFileSync(join(d, segment as string), 'utf8'), /\nox\t3\nrx\t/, 'offload and resolve at flush()');
});

t.test('a torn or damaged line is skipped and counted, never taken for a task', async (t) => {
  const d = dir();
  const first = TaskJournal.open({ dir: d, clock });
  first.journal.accepted(task('good'));
  first.journal.close();
  const [segment] = readdirSync(d).filter((f) => f.endsWith('.log'));
  appendFileSync(join(d, segment as string), 'a{"v":1,"taskId":"cut","iedId":0,"sizeMb'); // power lost mid-write
  appendFileSync(join(d, segment as string), '\na{"v":1,"taskId":"bad id!","iedId":0,"sizeMbit":8,"density":0.02,"deadlineSeconds":2,"createdAt":1}\n');
  const { journal, recovered } = TaskJournal.open({ dir: d, clock });
  t.teardown(() => journal.close());
  t.same(recovered.open.map((o) => o.msg.taskId), ['good']);
  t.equal(recovered.tornLines, 2, 'the cut line and the one the codec refuses');
});

t.test('a task is forgotten once published and past deadline + skew bound; empty segments are deleted', async (t) => {
  const d = dir();
  const { journal } = TaskJournal.open({ dir: d, clock, segmentBytes: 400, syncIntervalMs: 5 });
  t.teardown(() => journal.close());
  for (let k = 0; k < 20; k++) {
    journal.accepted(task(`t${k}`));
    journal.resolved(`t${k}`, result(`t${k}`));
  }
  t.ok(journal.segments > 3, `several segments written (${journal.segments})`);
  for (let k = 0; k < 19; k++) journal.settled(`t${k}`);
  nowMs += 2000 + MAX_CLOCK_SKEW_MS - 1;
  await sleep(30);
  t.equal(journal.size, 20, 'nothing forgotten while a replay could still be refused by id only');
  nowMs += 1;
  await sleep(30);
  t.equal(journal.size, 20, 'nor at the last millisecond of that window');
  nowMs += 1;
  await sleep(30);
  t.equal(journal.size, 1, 'then only the unsettled task remains');
  t.ok(journal.segments <= 2, `the segments before it are deleted (${journal.segments} left)`);
  journal.settled('t19');
  await sleep(30);
  t.equal(journal.size, 0);
  t.equal(journal.segments, 1, 'only the open segment is left');
  t.equal(readdirSync(d).filter((f) => f.endsWith('.log')).length, 1, 'and on disk too');
});

t.test('a published task still within its replay window is remembered by the next process', async (t) => {
  const d = dir();
  const first = TaskJournal.open({ dir: d, clock });
  first.journal.accepted(task('recent'));
  first.journal.resolved('recent', result('recent'));
  first.journal.settled('recent');
  first.journal.accepted(task('old', 0, 0.5));
  first.journal.resolved('old', result('old'));
  first.journal.settled('old');
  first.journal.close();
  nowMs += 500 + MAX_CLOCK_SKEW_MS + 1;
  const { journal, recovered } = TaskJournal.open({ dir: d, clock });
  t.teardown(() => journal.close());
  t.same(recovered.seen, ['recent'], 'the old one is past its window (admission refuses it as stale)');
  t.same([recovered.open.length, recovered.unsettled.length], [0, 0]);
});

t.test('one process per journal', async (t) => {
  const d = dir();
  const { journal } = TaskJournal.open({ dir: d, clock });
  writeFileSync(join(d, 'journal.lock'), String(process.ppid)); // a live process other than us (an older gateway's pid-only lock)
  t.throws(() => TaskJournal.open({ dir: d, clock }), /in use by process/);
  writeFileSync(join(d, 'journal.lock'), JSON.stringify(identity(process.ppid))); // the same, named in full
  t.throws(() => TaskJournal.open({ dir: d, clock }), /in use by process/, 'a live owner named by pid, boot and start time');
  writeFileSync(join(d, 'journal.lock'), JSON.stringify({ ...identity(process.pid), pid: process.pid }));
  journal.close();
  const again = TaskJournal.open({ dir: d, clock });
  again.journal.close();
  t.pass('closed: the folder can be opened again');
});

/** a process's lock identity as journal-lock.ts writes it (Linux /proc) */
function identity(pid: number): { pid: number; boot?: string; start?: string } {
  const boot = existsSync('/proc/sys/kernel/random/boot_id') ? readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;
  const start = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19] : undefined;
  return { pid, ...(boot ? { boot } : {}), ...(start ? { start } : {}) };
}

t.test('a stale lock is taken over: its owner gone, booted before, or its pid reused', { skip: existsSync('/proc/self/stat') ? false : 'needs Linux /proc' }, async (t) => {
  const live = identity(process.ppid);
  for (const [label, owner] of [
    ['an owner from before a reboot (another boot id)', { ...live, boot: '00000000-0000-0000-0000-000000000000' }],
    ['a live pid that started at another time (the pid was reused)', { ...live, start: '1' }],
    ['a pid no process holds', { pid: 999_999_999 }],
  ] as const) {
    const d = dir();
    writeFileSync(join(d, 'journal.lock'), JSON.stringify(owner));
    const { journal } = TaskJournal.open({ dir: d, clock });
    t.same(JSON.parse(readFileSync(join(d, 'journal.lock'), 'utf8')), identity(process.pid), `${label}: taken over, the lock names us`);
    journal.close();
  }
});

t.test('a failed write stops the journal: the task is not taken as accepted, the process is told', { skip: existsSync('/dev/full') ? false : 'needs /dev/full' }, async (t) => {
  const d = dir();
  const fatal: string[] = [];
  const { journal } = TaskJournal.open({ dir: d, clock, segmentBytes: 64, onFatal: (err) => fatal.push((err as NodeJS.ErrnoException).code ?? err.message) });
  symlinkSync('/dev/full', join(d, 'journal-00000002.log')); // the next segment: a disk that is full
  journal.accepted(task('fits')); // over 64 bytes: the journal moves to segment 2
  t.equal(journal.size, 1);
  t.throws(() => journal.accepted(task('no-space')), /ENOSPC|no space/i, 'the accept throws');
  t.same(fatal, ['ENOSPC'], 'onFatal was told once, with the cause');
  t.equal(journal.size, 1, 'the task was not taken as accepted');
  t.throws(() => journal.accepted(task('after')), /ENOSPC|no space/i, 'nor any later one');
  t.throws(() => journal.flush(), /ENOSPC|no space/i, 'and nothing batched is dropped silently');
});
