import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AmountError, formatAmount, parseAmount } from '../../../core/market/amount.js';
import type { BondService } from '../../services/bond-service.js';
import { ACCOUNTS } from '../../store/accounts-repo.js';
import { customerOf, requireCustomer, type CustomerAuth } from '../auth.js';

export interface BondRoutesDeps {
  bonds: BondService;
  auth: CustomerAuth;
}

const depositParams = z.object({ address: z.string() });

/** `{"amount":"1.5"}`: a decimal CPC string parsed to micro-CPC (docs/market-api.md, "Amounts"). */
const depositBody = z.strictObject({
  amount: z.string({ error: 'must be a decimal CPC string such as "1.5"' }).transform((text, ctx) => {
    try {
      return parseAmount(text, 'amount');
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: err instanceof AmountError ? err.message.replace(/^amount: /, '') : 'is not an amount',
      });
      return z.NEVER;
    }
  }),
});

/** POST /bonds/{address}/deposits (customer-authenticated): credits from the customer's balance into a provider's bond. */
export async function bondRoutes(app: FastifyInstance, deps: BondRoutesDeps): Promise<void> {
  requireCustomer(app, deps.auth);
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post(
    '/bonds/:address/deposits',
    { schema: { params: depositParams, body: depositBody } },
    async (request, reply) => {
      const d = await deps.bonds.deposit(customerOf(request), request.params.address, request.body.amount);
      return reply.code(201).send({
        deposit_id: d.depositId,
        address: d.address,
        account: ACCOUNTS.bond(d.address),
        requested: formatAmount(d.requested),
        deposited: formatAmount(d.deposited),
        bond: formatAmount(d.bond),
        bond_target: formatAmount(d.bondTarget),
        balance: formatAmount(d.balance),
      });
    },
  );
}
