/**
 * The twin's Prometheus metrics, read from the mirror and the retrainer when scraped (no timers):
 *
 * | metric                                   | what                                                     |
 * |------------------------------------------|----------------------------------------------------------|
 * | gmel_twin_drift                          | 1 while the twin reports drift (a retraining trigger)    |
 * | gmel_twin_arrival_probability{source}    | p̂ over the window (source="live") and trained p (source="trained") |
 * | gmel_twin_arrival_z                      | the drift statistic of the arrival rate                  |
 * | gmel_twin_announcement_lag_slots         | slots the announcer runs behind the clock                |
 * | gmel_twin_window_tasks                   | announced tasks in the estimation window                 |
 * | gmel_twin_retrain_cycles{outcome}        | retraining cycles: promoted, kept (incumbent), failed    |
 * | process_*, nodejs_*                      | prom-client's defaults                                   |
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { TwinMirror } from './mirror.ts';
import type { Retrainer } from './retrainer.ts';

export function twinMetrics(mirror: TwinMirror, retrainer?: Retrainer): Registry {
  const registers = [new Registry()];
  const r = registers[0] as Registry;
  collectDefaultMetrics({ register: r });
  // one drift report per scrape, shared by the gauges below (the report is not free at 50 IEDs)
  let report: ReturnType<TwinMirror['drift']> | undefined;
  let reportAt = -1;
  const drift = () => {
    const now = Date.now();
    if (!report || now - reportAt > 500) {
      report = mirror.drift();
      reportAt = now;
    }
    return report;
  };
  new Gauge({ name: 'gmel_twin_drift', help: '1 while the twin reports drift (a retraining trigger), else 0', registers, collect() { this.set(drift().drift ? 1 : 0); } });
  new Gauge({
    name: 'gmel_twin_arrival_probability', help: 'arrival probability per IED and slot: live estimate and trained value', labelNames: ['source'], registers,
    collect() {
      const p = drift().arrivalProbability;
      this.set({ source: 'live' }, p.estimate);
      this.set({ source: 'trained' }, p.scenario);
    },
  });
  new Gauge({ name: 'gmel_twin_arrival_z', help: 'z-score of the live arrival rate against the trained one', registers, collect() { this.set(drift().arrivalProbability.z); } });
  new Gauge({ name: 'gmel_twin_announcement_lag_slots', help: 'slots the task announcer runs behind the wall clock', registers, collect() { this.set(drift().announcementLagSlots); } });
  new Gauge({ name: 'gmel_twin_window_tasks', help: 'announced tasks in the estimation window', registers, collect() { this.set(drift().tasks); } });
  new Gauge({
    // a gauge read from the retrainer's own history: the count of cycles so far, by outcome
    name: 'gmel_twin_retrain_cycles', help: 'retraining cycles so far, by outcome (promoted, kept, failed)', labelNames: ['outcome'], registers,
    collect() {
      const history = retrainer?.history ?? [];
      this.set({ outcome: 'promoted' }, history.filter((c) => c.promoted).length);
      this.set({ outcome: 'kept' }, history.filter((c) => !c.promoted).length);
      this.set({ outcome: 'failed' }, retrainer?.failures.length ?? 0);
    },
  });
  return r;
}
