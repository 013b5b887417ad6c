// Refusals are counted every time but logged at most REFUSAL_LOG_LINES times per code per window, then
// one line says how many were held back (issue #10, defect 11: refusal logs flooded 8.5 MB/min).
import t from 'tap';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Refusals, runtimeMetrics, REFUSAL_LOG_LINES, REFUSAL_LOG_WINDOW_MS } from '../../protocol/observability.ts';

function rig() {
  const clock = { t: 1_000_000 };
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const registry = new Registry();
  const metrics = runtimeMetrics(registry, 'test');
  const refusals = new Refusals(metrics, logger, { now: () => clock.t });
  const count = async (code: string) => (await registry.getMetricsAsJSON()).find((m) => m.name === 'test_messages_rejected_total')?.values.find((v) => v.labels.reason === code)?.value ?? 0;
  return { clock, lines, refusals, count };
}

t.test('a flood of one code: every refusal counted, a few logged, then one summary line', async (t) => {
  const { clock, lines, refusals, count } = rig();
  for (let k = 0; k < 1000; k++) refusals.refuse('stale', { taskId: `t${k}` }, 'stale task');
  refusals.refuse('schema', { topic: 'x' }, 'refused a message');
  t.equal(await count('stale'), 1000, 'counted every time');
  t.equal(lines.filter((l) => l.code === 'stale').length, REFUSAL_LOG_LINES, 'logged the first few');
  t.equal(lines.filter((l) => l.code === 'schema').length, 1, 'each code has its own budget');
  t.same(lines[0], { ...lines[0], level: 40, code: 'stale', taskId: 't0', msg: 'stale task' }, 'a line names its code and fields');
  clock.t += REFUSAL_LOG_WINDOW_MS;
  refusals.refuse('stale', { taskId: 'next' }, 'stale task');
  const summary = lines.filter((l) => l.suppressed !== undefined);
  t.same(summary.map((l) => [l.code, l.suppressed]), [['stale', 1000 - REFUSAL_LOG_LINES]], 'then one line with the number held back');
  t.equal(lines.at(-1)?.taskId, 'next', 'a new window logs again');
  const bytesPerMinute = (JSON.stringify(lines).length / lines.length) * (REFUSAL_LOG_LINES + 1) * (60_000 / REFUSAL_LOG_WINDOW_MS);
  t.ok(bytesPerMinute < 20_000, `at most ~${Math.round(bytesPerMinute)} B/min per code, whatever the flood`);
});

t.test('flush() reports what is held back; handler errors log at error level', async (t) => {
  const { lines, refusals } = rig();
  for (let k = 0; k < REFUSAL_LOG_LINES + 3; k++) refusals.refuse('handler-error', { err: 'boom' }, 'handling a message failed');
  refusals.flush();
  refusals.flush();
  t.equal(lines.filter((l) => l.level === 50).length, REFUSAL_LOG_LINES + 1, 'error level, the summary included');
  t.same(lines.filter((l) => l.suppressed !== undefined).map((l) => l.suppressed), [3], 'one summary, once');
  const silent = new Refusals(undefined, undefined);
  t.doesNotThrow(() => silent.refuse('schema', {}, 'x'), 'no metrics, no logger: nothing to do');
});
