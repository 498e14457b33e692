import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { Counter } from 'prom-client';
import { z } from 'zod';
import { formatAmount } from '../../../core/market/amount.js';
import { isAddress } from '../../../shared/market-address.js';
import { CourierFlushRequestSchema } from '../../../shared/courier-protocol.js';
import type { CourierInboxService } from '../../services/courier-inbox.js';
import { ACCOUNTS } from '../../store/accounts-repo.js';
import type { MarketStore } from '../../store/market-store.js';
import { invalidField } from '../../errors.js';
import type { MarketMetrics } from '../metrics.js';

/**
 * Largest courier request body: bundles travel base64-encoded (4/3 of their size) in one JSON
 * request, and the node sends at most 8 MiB of bundles per request, or one larger bundle alone
 * (up to its 16 MiB default limit).
 */
export const DEFAULT_COURIER_BODY_LIMIT_BYTES = 24 << 20;

export interface CourierRoutesDeps {
  inbox: CourierInboxService;
  store: MarketStore;
  metrics: MarketMetrics;
  bodyLimitBytes?: number;
}

const balanceParams = z.object({ address: z.string() });

/**
 * POST /courier/receipts (the courier inbox, src/shared/courier-protocol.ts) and
 * GET /balances/{address} (a worker address's balance). Unauthenticated: a receipt proves
 * itself by the node's signature, and balances of addresses are public.
 */
export async function courierRoutes(app: FastifyInstance, deps: CourierRoutesDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const answered = new Counter({
    name: 'market_courier_receipts_total',
    help: 'Courier receipts answered, by status',
    labelNames: ['status'] as const,
    registers: [deps.metrics.registry],
  });

  r.post(
    '/courier/receipts',
    { schema: { body: CourierFlushRequestSchema }, bodyLimit: deps.bodyLimitBytes ?? DEFAULT_COURIER_BODY_LIMIT_BYTES },
    async (request) => {
      const answers = await deps.inbox.receive(request.body);
      for (const a of answers) answered.inc({ status: a.status });
      return {
        results: answers.map((a) =>
          a.status === 'rejected'
            ? { id: a.id, status: a.status, reward: '0', code: a.code, reason: a.reason }
            : { id: a.id, status: a.status, reward: a.reward.toString() },
        ),
      };
    },
  );

  r.get('/balances/:address', { schema: { params: balanceParams } }, async (request) => {
    const { address } = request.params;
    if (!isAddress(address)) throw invalidField('address', 'must be a cpc1… address');
    const account = ACCOUNTS.worker(address);
    // What the market holds for the address: its worker account and the part of its pay held back
    // as its bond (docs/verification.md), so a node's receipts add up to it until a slash.
    const { worker, bond } = await deps.store.transaction(async (tx) => ({
      worker: await tx.accounts.balance(account),
      bond: await tx.accounts.balance(ACCOUNTS.bond(address)),
    }));
    const balance = worker + bond;
    return {
      address,
      account,
      balance: formatAmount(balance),
      balance_micro: balance.toString(),
      worker_micro: worker.toString(),
      bond_micro: bond.toString(),
    };
  });
}
