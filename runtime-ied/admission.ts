/**
 * What the gateway accepts (issue #10; docs/security.md "Message bounds and refusals"). The codec has
 * already checked each message against its schema; these checks hold it to this plant.
 *
 * | message     | refused when                                                     | code           |
 * |-------------|------------------------------------------------------------------|----------------|
 * | task        | for an IED this gateway does not serve / a task id seen already   | `unknown-ied` / `duplicate` |
 * | task        | createdAt more than MAX_CLOCK_SKEW_MS ahead of our clock          | `clock-skew`   |
 * | task        | its deadline passed more than MAX_CLOCK_SKEW_MS ago               | `stale`        |
 * | task        | size, density or deadline above scenario.task's maxima            | `out-of-range` |
 * | edge result | a task we never offloaded / one already resolved                  | `unknown-task` / `duplicate` |
 * | edge result | another IED, a stage other than `edge`, or another edge server    | `forged`       |
 */
import type { Scenario } from '../core/scenario/schema.ts';
import type { Result, TaskAnnouncement, MessageOf } from '../protocol/messages.ts';
import { rangeRefusal, timeRefusal, type Refusal } from '../protocol/refusals.ts';
import { RecentIds } from '../protocol/recent-ids.ts';

/** A task this gateway offloaded, and the edge server (1-based) it sent it to. */
export interface OffloadRecord {
  readonly msg: TaskAnnouncement;
  readonly edgeServerId: number;
}

/**
 * Why a task announcement may not be accepted here (undefined: it may). `here`: the IEDs this gateway
 * serves and the task ids it accepted already (absent: the plant's bounds only).
 */
export function admitTask(msg: TaskAnnouncement, scenario: Scenario, now: number, here?: { readonly served: ReadonlySet<number>; readonly seen: { has(taskId: string): boolean } }): Refusal | undefined {
  if (here && !here.served.has(msg.iedId)) return { code: 'unknown-ied', detail: 'an IED this gateway does not serve' };
  if (here?.seen.has(msg.taskId)) return { code: 'duplicate', detail: 'a task id accepted once already: ignored' };
  return timeRefusal(msg.createdAt, msg.createdAt + msg.deadlineSeconds * 1000, now) ?? rangeRefusal(msg, scenario.task);
}

/**
 * Why an edge result may not end a task (undefined: it may). `record`: the task's offload, if still
 * open; `resolved`: the task was offloaded and has its outcome already; `sender`: the edge server that
 * sent the result, from its topic (`…/edge-result/{m}`: the broker's ACL vouches for it).
 */
export function checkEdgeResult(record: OffloadRecord | undefined, r: Result, resolved: boolean, sender: number): Refusal | undefined {
  if (!record) return resolved ? { code: 'duplicate', detail: 'the task has its outcome already' } : { code: 'unknown-task', detail: 'no task of that id was offloaded here' };
  if (r.iedId !== record.msg.iedId) return { code: 'forged', detail: `for IED ${r.iedId}, the task is IED ${record.msg.iedId}'s` };
  if (r.stage !== 'edge') return { code: 'forged', detail: `stage ${r.stage}, an edge server reports stage edge` };
  if (sender !== record.edgeServerId) return { code: 'forged', detail: `from edge server ${sender}, offloaded to ${record.edgeServerId}` };
  return undefined;
}

/**
 * The gateway's offloaded tasks awaiting their edge result, each with the server it went to, and the
 * recently resolved ones (so a later edge result is told apart from one for a task never offloaded).
 */
export class OffloadLedger {
  private readonly open = new Map<string, OffloadRecord>();
  private readonly resolved = new RecentIds(10_000);

  get size(): number {
    return this.open.size;
  }

  record(msg: TaskAnnouncement, edgeServerId: number): void {
    this.open.set(msg.taskId, { msg, edgeServerId });
  }

  /** Ends the task if this edge result may end it; otherwise why not (and the task stays open). */
  settle(r: Result, sender: number): Refusal | undefined {
    const refusal = checkEdgeResult(this.open.get(r.taskId), r, this.resolved.has(r.taskId), sender);
    if (!refusal) this.close(r.taskId);
    return refusal;
  }

  /** Removes and returns the tasks whose deadline passed more than `graceMs` before `now` (the watchdog's). */
  overdue(now: number, graceMs: number): TaskAnnouncement[] {
    const late = [...this.open.values()].filter(({ msg }) => now >= msg.createdAt + msg.deadlineSeconds * 1000 + graceMs).map(({ msg }) => msg);
    for (const msg of late) this.close(msg.taskId);
    return late;
  }

  /** Removes and returns every open task (shutdown). */
  drain(): TaskAnnouncement[] {
    const all = [...this.open.values()].map(({ msg }) => msg);
    for (const msg of all) this.close(msg.taskId);
    return all;
  }

  private close(taskId: string): void {
    this.open.delete(taskId);
    this.resolved.add(taskId);
  }
}
