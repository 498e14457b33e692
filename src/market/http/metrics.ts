import { Counter, collectDefaultMetrics, Registry } from 'prom-client';

/** The market's Prometheus metrics, on their own registry (never prom-client's global one). */
export class MarketMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'market_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly tasksCreated = new Counter({
    name: 'market_tasks_created_total',
    help: 'Tasks created, by challenge type',
    labelNames: ['challenge_type'] as const,
    registers: [this.registry],
  });
  readonly slicesUploaded = new Counter({
    name: 'market_slice_bytes_uploaded_total',
    help: 'Bytes of task input slices stored',
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'market_' });
  }
}
