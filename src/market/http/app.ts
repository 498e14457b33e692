import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Logger } from '../../node/log.js';
import type { CustomerService } from '../services/customer-service.js';
import type { TaskService } from '../services/task-service.js';
import type { MarketStore } from '../store/market-store.js';
import type { CustomerAuth } from './auth.js';
import { clientErrorHandler, frameworkErrors, MAX_PARAM_LENGTH, registerErrorHandling } from './error-handler.js';
import { registerJsonBodyParser } from './json-body.js';
import type { MarketMetrics } from './metrics.js';
import { healthRoutes } from './routes/health.js';
import { sliceRoutes } from './routes/slices.js';
import { taskRoutes } from './routes/tasks.js';

/** Largest JSON body the market reads (a task with its payload). */
export const DEFAULT_BODY_LIMIT_BYTES = 256 * 1024;

export interface MarketAppDeps {
  store: MarketStore;
  tasks: TaskService;
  customers: CustomerService;
  metrics: MarketMetrics;
  /** Who a request is from; default: the customer whose bearer API key it carries. */
  auth?: CustomerAuth;
  bodyLimitBytes?: number;
  /** Where the app logs: every internal error once, with its stack (Fastify's own pino logger stays off). */
  logger: Logger;
  /**
   * Node's HTTP timeouts: a request not received in full within `requestTimeoutMs` (default 0:
   * none; Node's 60 s limit on the headers still applies) is answered 408 REQUEST_TIMEOUT, checked
   * every `checkIntervalMs` (Node's default 30 s).
   */
  timeouts?: { requestTimeoutMs?: number; checkIntervalMs?: number };
}

/** Builds the market's HTTP app (not listening yet). */
export async function buildMarketApp(deps: MarketAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    logger: false,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors met before a route, by the router or by Node's HTTP parser, answer in the market's shape too.
    frameworkErrors: frameworkErrors(deps.logger),
    clientErrorHandler,
    ...(deps.timeouts?.requestTimeoutMs ? { requestTimeout: deps.timeouts.requestTimeoutMs } : {}),
    ...(deps.timeouts?.checkIntervalMs ? { http: { connectionsCheckingInterval: deps.timeouts.checkIntervalMs } } : {}),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: text/plain bodies are a 415, not a string for the schema to reject.
  app.removeContentTypeParser('text/plain');
  registerJsonBodyParser(app);
  registerErrorHandling(app, deps.logger);
  app.addHook('onResponse', async (request, reply) => {
    deps.metrics.httpRequests.inc({
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    });
  });
  const auth = deps.auth ?? ((header) => deps.customers.authenticate(header));
  await app.register(healthRoutes, { store: deps.store, metrics: deps.metrics });
  await app.register(taskRoutes, { tasks: deps.tasks, auth, metrics: deps.metrics });
  await app.register(sliceRoutes, { tasks: deps.tasks, auth, metrics: deps.metrics });
  return app;
}
