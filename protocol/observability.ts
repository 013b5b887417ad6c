/**
 * Every runtime's Prometheus metrics and its counted, rate-limited refusals. The HTTP face that serves
 * them (/healthz, /metrics) is health-app.ts, loaded only when a process serves HTTP.
 */
import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';
import type { Logger } from 'pino';
import type { RefusalCode } from './refusals.ts';

export type { HealthReport } from './health-app.ts';

/** The counters every runtime keeps, named gmel_<runtime>_…; inbound errors are labelled by codec code. */
export function runtimeMetrics(registry: Registry, prefix: string) {
  // process_* and nodejs_* (CPU, memory, event-loop lag, GC), once per registry
  if (!registry.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics({ register: registry });
  return {
    received: new Counter({ name: `${prefix}_messages_received_total`, help: 'inbound messages by kind', labelNames: ['kind'], registers: [registry] }),
    rejected: new Counter({ name: `${prefix}_messages_rejected_total`, help: 'inbound messages refused, by reason', labelNames: ['reason'], registers: [registry] }),
    outcomes: new Counter({ name: `${prefix}_task_outcomes_total`, help: 'task outcomes by result and stage', labelNames: ['outcome', 'stage'], registers: [registry] }),
    connected: new Gauge({ name: `${prefix}_broker_connected`, help: '1 while connected to the broker', registers: [registry] }),
    latency: new Histogram({ name: `${prefix}_task_latency_seconds`, help: 'latency of completed tasks', buckets: [0.1, 0.2, 0.5, 1, 1.5, 2, 2.5, 5], registers: [registry] }),
  };
}
export type RuntimeMetrics = ReturnType<typeof runtimeMetrics>;

/** Count one refused message under its code (refusals.ts). */
export function countRefusal(metrics: RuntimeMetrics, code: RefusalCode): void {
  metrics.rejected.inc({ reason: code });
}

/** Log lines per refusal code per window: a flood of one code costs ~1 line/s (issue #10, defect 11). */
export const REFUSAL_LOG_LINES = 10;
export const REFUSAL_LOG_WINDOW_MS = 10_000;

/**
 * A runtime's refusals: each one counted (countRefusal), logged at most REFUSAL_LOG_LINES times per
 * code per REFUSAL_LOG_WINDOW_MS (warn; `handler-error` at error), and what was held back reported in
 * one line ({code, suppressed}) at that code's first refusal after its window, or at flush().
 */
export class Refusals {
  private readonly windows = new Map<RefusalCode, { start: number; logged: number; suppressed: number }>();
  private readonly lines: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly metrics: RuntimeMetrics | undefined,
    private readonly logger: Logger | undefined,
    o: { lines?: number; windowMs?: number; now?: () => number } = {},
  ) {
    this.lines = o.lines ?? REFUSAL_LOG_LINES;
    this.windowMs = o.windowMs ?? REFUSAL_LOG_WINDOW_MS;
    this.now = o.now ?? Date.now;
  }

  refuse(code: RefusalCode, fields: Readonly<Record<string, unknown>>, msg: string): void {
    if (this.metrics) countRefusal(this.metrics, code);
    if (!this.logger) return;
    const now = this.now();
    let w = this.windows.get(code);
    if (w && now >= w.start + this.windowMs) {
      this.summarise(code, w);
      w = undefined;
    }
    if (!w) this.windows.set(code, (w = { start: now, logged: 0, suppressed: 0 }));
    if (w.logged >= this.lines) {
      w.suppressed++;
      return;
    }
    w.logged++;
    this.write(code, { code, ...fields }, msg);
  }

  /** Report every code's held-back lines now (e.g. at shutdown). */
  flush(): void {
    for (const [code, w] of this.windows) this.summarise(code, w);
    this.windows.clear();
  }

  private summarise(code: RefusalCode, w: { start: number; suppressed: number }): void {
    if (w.suppressed === 0) return;
    this.write(code, { code, suppressed: w.suppressed, windowSeconds: this.windowMs / 1000 }, 'refusals not logged (rate limit); all counted');
    w.suppressed = 0;
  }

  private write(code: RefusalCode, fields: Record<string, unknown>, msg: string): void {
    if (code === 'handler-error') this.logger?.error(fields, msg);
    else this.logger?.warn(fields, msg);
  }
}
export { Registry };
