// Reading a runtime's counters in tests: one sum over a metric's values, by label where asked.
import type { Registry } from 'prom-client';

interface ReadableMetric {
  get(): Promise<{ values: readonly { value: number; labels: Readonly<Record<string, string | number | undefined>> }[] }>;
}

/** A metric's total over its values; with `label`, only those whose `label` is `value`. */
export async function metricTotal(metric: ReadableMetric, label?: string, value?: string): Promise<number> {
  return (await metric.get()).values.filter((v) => label === undefined || v.labels[label] === value).reduce((s, v) => s + v.value, 0);
}

/** The metric `name` in a runtime's registry: its values with `labelValue` under any label (0 if absent). */
export async function counter(rt: { registry: Registry }, name: string, labelValue: string): Promise<number> {
  const metric = (await rt.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return metric?.values.filter((v) => Object.values(v.labels).includes(labelValue)).reduce((a, v) => a + v.value, 0) ?? 0;
}
