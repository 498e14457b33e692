import type { FastifyInstance } from 'fastify';
import { ACCOUNTS } from '../../store/accounts-repo.js';
import type { MarketStore } from '../../store/market-store.js';
import type { MarketMetrics } from '../metrics.js';

export interface HealthRoutesDeps {
  store: MarketStore;
  metrics: MarketMetrics;
}

/** GET /health (the store answers a query) and GET /metrics (Prometheus text). Unauthenticated. */
export async function healthRoutes(app: FastifyInstance, deps: HealthRoutesDeps): Promise<void> {
  app.get('/health', async (_request, reply) => {
    try {
      await deps.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.mint));
      return { status: 'ok', store: deps.store.kind };
    } catch {
      return reply.code(503).send({
        error: { code: 'STORE_UNAVAILABLE', message: `the market store (${deps.store.location}) does not answer` },
      });
    }
  });
  app.get('/metrics', async (_request, reply) =>
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()),
  );
}
