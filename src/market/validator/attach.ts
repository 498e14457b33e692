import type { FastifyInstance } from 'fastify';
import type { Blake3Hasher, Sha256 } from '../../core/hash/hasher.js';
import type { Clock } from '../../core/clock.js';
import { childLogger, createLogger, type Logger } from '../../node/log.js';
import { invalidField, MarketError } from '../errors.js';
import type { CustomerAuth } from '../http/auth.js';
import { sendError } from '../http/error-handler.js';
import { bondRoutes } from '../http/routes/bonds.js';
import { BondService } from '../services/bond-service.js';
import { CustomerService } from '../services/customer-service.js';
import type { MarketStore } from '../store/market-store.js';
import { registerProviderSocket } from '../ws/provider-socket.js';
import type { ValidatorConfig } from './validator-config.js';
import { DigestPool } from '../../node/digest/digest-pool.js';
import { ValidatorService } from './validator-service.js';

export interface AttachValidatorDeps {
  app: FastifyInstance;
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  sha256: Sha256;
  config?: Partial<ValidatorConfig>;
  /** Fixed market id and assignment secret (first start only; later starts read the stored ones). */
  marketId?: string;
  secretHex?: string;
  /** Worker threads re-executing checked jobs (default 1; 0: on this thread). */
  digestThreads?: number;
  /** The market's logger (createMarketServer's `logger`); the validator and the provider socket log through named children of it. */
  logger?: Logger;
  /** Who a request to POST /bonds/{address}/deposits is from; default: the customer whose bearer API key it carries (as createMarketServer's `auth`). */
  auth?: CustomerAuth;
  /** The URLs of the market's other live instances, named in each welcome (see ProviderSocketDeps.peerUrls); default: the live instances in the store (presence.ts). */
  peerUrls?: () => Promise<string[]>;
}

/**
 * Adds the validator to a market app that is not listening yet: the provider socket at
 * `/ws/provider`, `GET /batches/{n}` and `POST /bonds/{address}/deposits` (the bond is the
 * validator's setting). Returns the started validator (close it before the app).
 */
export async function attachValidator(deps: AttachValidatorDeps): Promise<ValidatorService> {
  const parent = deps.logger ?? createLogger('market');
  const logger = (module: string): Logger => childLogger(parent, module);
  const threads = deps.digestThreads ?? 1;
  const digester = threads > 0 ? new DigestPool(threads) : undefined;
  const validator = new ValidatorService({
    ...(digester ? { digester } : {}),
    store: deps.store,
    clock: deps.clock,
    blake3: deps.blake3,
    sha256: deps.sha256,
    ...(deps.config ? { config: deps.config } : {}),
    logger: logger('validator'),
  });
  await validator.start({
    ...(deps.marketId ? { marketId: deps.marketId } : {}),
    ...(deps.secretHex ? { secretHex: deps.secretHex } : {}),
  });
  await registerProviderSocket(deps.app, {
    validator,
    logger: logger('provider-socket'),
    // Default: the live instances sharing the store, from presence (none on a market of one instance).
    peerUrls: deps.peerUrls ?? (async () => validator.presence.peerUrls()),
  });
  // A task posted (POST /tasks) or submitted (POST /tasks/{id}/submit) wakes the dispatcher at once instead of at the next sweep.
  deps.app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST' && reply.statusCode < 300 && (request.routeOptions.url ?? '').startsWith('/tasks'))
      validator.kick();
  });
  const customers = new CustomerService({ store: deps.store, clock: deps.clock });
  await deps.app.register(bondRoutes, {
    bonds: new BondService({ store: deps.store, clock: deps.clock, bondTarget: validator.config.bondTarget }),
    auth: deps.auth ?? ((header) => customers.authenticate(header)),
  });
  deps.app.get('/batches/:n', async (request, reply) => {
    const text = (request.params as { n?: string }).n ?? '';
    if (!/^[1-9]\d{0,8}$/.test(text)) return sendError(reply, invalidField('n', 'must be a batch number 1, 2, 3, …'));
    const b = await deps.store.transaction((tx) => tx.validator.batch(Number(text)));
    if (!b)
      return sendError(
        reply,
        new MarketError('BATCH_NOT_FOUND', 404, `no batch ${text} has been sealed yet; batches are numbered from 1`),
      );
    return {
      n: b.n,
      compute_root: b.computeRoot,
      result_count: b.resultCount,
      sealed_at: b.sealedAt,
      market_id: validator.marketId,
      transactions: b.transactions,
    };
  });
  return validator;
}
