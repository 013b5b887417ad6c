/** The gateway's Prometheus metrics: every runtime's counters (protocol/observability.ts) and its own. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { runtimeMetrics } from '../protocol/observability.ts';

export function gatewayMetrics(r: Registry) {
  return {
    ...runtimeMetrics(r, 'gmel_ied'),
    decisions: new Counter({ name: 'gmel_ied_decisions_total', help: 'decisions by action (local, edge-1..edge-M)', labelNames: ['action'], registers: [r] }),
    modelInfo: new Gauge({ name: 'gmel_model_info', help: 'the model version this gateway runs (1 for the running one)', labelNames: ['version', 'encoder'], registers: [r] }),
    openTasks: new Gauge({ name: 'gmel_ied_open_tasks', help: 'accepted tasks without an outcome yet (local, uplink, at an edge server)', registers: [r] }),
    inference: new Histogram({ name: 'gmel_ied_inference_seconds', help: 'actor inference time', buckets: [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 1e-2], registers: [r] }),
    inferenceErrors: new Counter({ name: 'gmel_ied_inference_errors_total', help: 'inferences that failed (task ran locally)', registers: [r] }),
    modelLoads: new Counter({ name: 'gmel_ied_model_loads_total', help: 'model loads by result', labelNames: ['result'], registers: [r] }),
    journalRecovered: new Counter({ name: 'gmel_ied_journal_recovered_total', help: "tasks and results a previous process left in the task journal, by what this one did with them (offloaded: awaiting the edge result; redecided; dropped: past the deadline or of an IED no longer served; republished: a result sent again)", labelNames: ['state'], registers: [r] }),
    resultsRefused: new Counter({ name: 'gmel_ied_results_refused_total', help: 'results the broker refused for good (MQTT 5 reason code >= 0x80, e.g. not authorized): not sent again', registers: [r] }),
    lostOffloads: new Counter({ name: 'gmel_ied_lost_offloads_total', help: 'offloaded tasks whose edge result never came (reported dropped by the watchdog)', registers: [r] }),
  };
}
export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
