import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { formatAmount } from '../../core/market/amount.js';
import { isAddress } from '../../shared/market-address.js';
import { invalidField, MarketError } from '../errors.js';
import { ACCOUNTS } from '../store/accounts-repo.js';
import type { CustomerRecord } from '../store/customers-repo.js';
import type { MarketStore } from '../store/market-store.js';

export interface BondServiceDeps {
  store: MarketStore;
  clock: Clock;
  /** The market's bond (the validator's `bondTarget`), micro-CPC; 0: the market holds no bond. */
  bondTarget: bigint;
}

/** What a deposit did (POST /bonds/{address}/deposits). */
export interface BondDeposit {
  /** The posting's event id, `bond-deposit:<uuid>`. */
  depositId: string;
  address: string;
  /** What the customer asked to deposit, micro-CPC. */
  requested: bigint;
  /** What moved: the request, capped at what the bond still lacked. */
  deposited: bigint;
  /** The provider's funded bond after the deposit. */
  bond: bigint;
  bondTarget: bigint;
  /** The customer's balance after the deposit. */
  balance: bigint;
}

/**
 * Deposits into providers' bonds from customer accounts (docs/market-api.md, "Bond deposits";
 * docs/verification.md): a bond funded this way counts toward the market's bond exactly as one
 * held back from payouts, and a failed check takes it the same way.
 */
export class BondService {
  constructor(private readonly deps: BondServiceDeps) {}

  /**
   * Moves up to `amount` micro-CPC from the customer's balance into `bond:<address>`: at most what
   * the bond still lacks of the market's bond. Refused, with nothing changed: an address that is
   * not `cpc1…` (400), a bond already full or a market with no bond (409 BOND_FUNDED), a refused
   * provider (409 PROVIDER_REFUSED), a balance short of the amount that would move (402).
   */
  async deposit(customer: CustomerRecord, address: string, amount: bigint): Promise<BondDeposit> {
    if (!isAddress(address)) throw invalidField('address', 'must be a cpc1… provider address');
    if (amount <= 0n) throw invalidField('amount', 'must be more than 0 (the smallest amount is "0.000001")');
    const target = this.deps.bondTarget;
    return this.deps.store.transaction(async (tx) => {
      if ((await tx.validator.provider(address))?.refused)
        throw new MarketError(
          'PROVIDER_REFUSED',
          409,
          `provider ${address} is refused (too many wrong results) and gets no more jobs; a bond cannot help it`,
        );
      const funded = await tx.bonds.lockFunded(address);
      const owed = target - funded;
      if (owed <= 0n)
        throw new MarketError(
          'BOND_FUNDED',
          409,
          target === 0n
            ? 'this market holds no bond (bondTarget 0); nothing to deposit'
            : `the bond of ${address} is already funded (${formatAmount(funded)} of ${formatAmount(target)} CPC); nothing to deposit`,
          { bond: formatAmount(funded), target: formatAmount(target) },
        );
      const deposited = amount < owed ? amount : owed;
      const depositId = `bond-deposit:${randomUUID()}`;
      const now = this.deps.clock.now();
      const account = ACCOUNTS.customer(customer.customerId);
      if (!(await tx.bonds.depositFromCustomer(customer.customerId, address, deposited, depositId, now))) {
        const balance = await tx.accounts.balance(account);
        throw new MarketError(
          'INSUFFICIENT_FUNDS',
          402,
          `a deposit of ${formatAmount(deposited)} CPC exceeds the balance of ${formatAmount(balance)} CPC; fund the account (tessera market fund ${customer.name} AMOUNT) or deposit less`,
          { balance: formatAmount(balance), amount: formatAmount(deposited) },
        );
      }
      return {
        depositId,
        address,
        requested: amount,
        deposited,
        bond: funded + deposited,
        bondTarget: target,
        balance: await tx.accounts.balance(account),
      };
    });
  }
}
