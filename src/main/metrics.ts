import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
  type GaugeConfiguration,
  type HistogramConfiguration,
} from 'prom-client';

/**
 * Metrics live in a registry owned by the node (no global default registry), so every test and
 * every process gets its own. Services take the registry as a dependency and create their
 * metrics through these helpers, which return the existing metric when a name is registered twice.
 */
export function createMetricsRegistry(): Registry {
  return new Registry();
}

export function counter<L extends string = string>(
  registry: Registry,
  cfg: Omit<CounterConfiguration<L>, 'registers'>,
): Counter<L> {
  return (
    (registry.getSingleMetric(cfg.name) as Counter<L> | undefined) ?? new Counter<L>({ ...cfg, registers: [registry] })
  );
}

export function gauge<L extends string = string>(
  registry: Registry,
  cfg: Omit<GaugeConfiguration<L>, 'registers'>,
): Gauge<L> {
  return (
    (registry.getSingleMetric(cfg.name) as Gauge<L> | undefined) ?? new Gauge<L>({ ...cfg, registers: [registry] })
  );
}

export function histogram<L extends string = string>(
  registry: Registry,
  cfg: Omit<HistogramConfiguration<L>, 'registers'>,
): Histogram<L> {
  return (
    (registry.getSingleMetric(cfg.name) as Histogram<L> | undefined) ??
    new Histogram<L>({ ...cfg, registers: [registry] })
  );
}

/**
 * Reads one sample value — for status views and tests. Throws for a metric name that is not
 * registered and for a label the metric does not declare, so a misspelt name or label can
 * never read as 0; a declared label set with no observations yet reads 0.
 */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric named ${name} is registered`);
  // prom-client keeps the declared label names on the metric; its typings do not expose them.
  const declared = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
  const undeclared = Object.keys(labels).filter((k) => !declared.includes(k));
  if (undeclared.length > 0) {
    throw new Error(
      `metric ${name} has no label ${undeclared.join(', ')} (its labels: ${declared.length > 0 ? declared.join(', ') : 'none'})`,
    );
  }
  const data = await metric.get();
  const sample = data.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
  return sample?.value ?? 0;
}
