import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CustomerRecord } from '../store/customers-repo.js';

/** Resolves the customer behind a request's Authorization header, or throws a 401 MarketError. */
export type CustomerAuth = (authorization: string | undefined) => Promise<CustomerRecord>;

const customers = new WeakMap<FastifyRequest, CustomerRecord>();

/**
 * Authenticates every request of the plugin `app` in onRequest — before the body is read or
 * validated, so an unauthenticated caller learns nothing and uploads nothing.
 */
export function requireCustomer(app: FastifyInstance, auth: CustomerAuth): void {
  app.addHook('onRequest', async (request) => {
    customers.set(request, await auth(request.headers.authorization));
  });
}

/** The customer `requireCustomer` found for this request. */
export function customerOf(request: FastifyRequest): CustomerRecord {
  const c = customers.get(request);
  if (!c) throw new Error('customerOf called on a route without requireCustomer');
  return c;
}
