import { Counter, Gauge, Histogram, Registry, type CounterConfiguration, type GaugeConfiguration, type HistogramConfiguration } from 'prom-client';

/**
 * Metrics live in a registry owned by the node (no global default registry), so every test and
 * every process gets its own. Services take the registry as a dependency and create their
 * metrics through these helpers, which return the existing metric when a name is registered twice.
 */
export function createMetricsRegistry(): Registry {
  return new Registry();
}

export function counter<L extends string = string>(registry: Registry, cfg: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
  return (registry.getSingleMetric(cfg.name) as Counter<L> | undefined) ?? new Counter<L>({ ...cfg, registers: [registry] });
}

export function gauge<L extends string = string>(registry: Registry, cfg: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
  return (registry.getSingleMetric(cfg.name) as Gauge<L> | undefined) ?? new Gauge<L>({ ...cfg, registers: [registry] });
}

export function histogram<L extends string = string>(registry: Registry, cfg: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
  return (registry.getSingleMetric(cfg.name) as Histogram<L> | undefined) ?? new Histogram<L>({ ...cfg, registers: [registry] });
}

/** Reads one sample value (0 when absent) — for status views and tests. */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const data = await metric.get();
  const sample = data.values.find((v) => Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val));
  return sample?.value ?? 0;
}
