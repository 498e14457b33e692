import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { formatAmount } from '../../core/market/amount.js';
import type { Clock } from '../../core/clock.js';
import { MarketError } from '../errors.js';
import { ACCOUNTS } from '../store/accounts-repo.js';
import type { CustomerRecord } from '../store/customers-repo.js';
import type { MarketStore } from '../store/market-store.js';

export interface CustomerServiceDeps {
  store: MarketStore;
  clock: Clock;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** API keys: "tsk_" and 32 random bytes in base64url. */
const KEY_PREFIX = 'tsk_';

/** The stored form of an API key: SHA-256 hex (the key has 256 bits of entropy, so no salt or KDF is needed). */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** How many API keys' customers `authenticate` remembers. */
const KNOWN_KEYS = 4096;

/** Customers, their API keys (stored hashed) and their funds. */
export class CustomerService {
  /**
   * Customers by key hash, as the store answered (a customer row and its key never change and are
   * never deleted, so a remembered answer stays true; an unknown key is always asked again, since
   * another instance may have just created it). Oldest first; at most KNOWN_KEYS.
   */
  private readonly known = new Map<string, CustomerRecord>();

  constructor(private readonly deps: CustomerServiceDeps) {}

  /** Creates a customer; the returned key is shown once and never stored. */
  async add(name: string): Promise<{ customer: CustomerRecord; apiKey: string }> {
    if (!NAME_RE.test(name))
      throw new MarketError(
        'INVALID_CUSTOMER_NAME',
        400,
        `customer name "${name}" must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      );
    const apiKey = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const customer = { customerId: randomUUID(), name, createdAt: this.deps.clock.now() };
    // The customer's accounts (funds and escrow) are created with it.
    const created = await this.deps.store.transaction((tx) =>
      tx.customers.insert({ ...customer, keyHash: hashApiKey(apiKey) }),
    );
    if (!created)
      throw new MarketError('CUSTOMER_EXISTS', 409, `a customer named "${name}" already exists; choose another name`);
    return { customer, apiKey };
  }

  /** Credits `amount` micro-CPC (a deposit from outside the market); returns the new balance. */
  async fund(name: string, amount: bigint): Promise<bigint> {
    if (amount <= 0n) throw new MarketError('INVALID_AMOUNT', 400, 'amount: must be more than 0');
    return this.deps.store.transaction(async (tx) => {
      const c = await tx.customers.byName(name);
      if (!c)
        throw new MarketError(
          'CUSTOMER_NOT_FOUND',
          404,
          `no customer named "${name}"; create it with: tessera market customer add ${name}`,
        );
      const account = ACCOUNTS.customer(c.customerId);
      const now = this.deps.clock.now();
      await tx.accounts.post(
        `fund:${c.customerId}:${now}:${randomUUID()}`,
        [
          { account: ACCOUNTS.mint, amount: -amount },
          { account, amount },
        ],
        `fund ${formatAmount(amount)}`,
        now,
      );
      return tx.accounts.balance(account);
    });
  }

  async balance(customerId: string): Promise<bigint> {
    return this.deps.store.transaction((tx) => tx.accounts.balance(ACCOUNTS.customer(customerId)));
  }

  async list(): Promise<CustomerRecord[]> {
    return this.deps.store.transaction((tx) => tx.customers.list());
  }

  /** The customer an `Authorization` header names; throws 401 without a valid bearer key. */
  async authenticate(header: string | undefined): Promise<CustomerRecord> {
    const m = header === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m)
      throw new MarketError(
        'UNAUTHENTICATED',
        401,
        'missing "Authorization: Bearer <api key>" header; create a key with: tessera market customer add NAME',
      );
    const keyHash = hashApiKey(m[1] as string);
    const known = this.known.get(keyHash);
    if (known) return known;
    // One statement, so no transaction around it (store.read); once per key (`known`).
    const customer = await this.deps.store.read((r) => r.customers.byKeyHash(keyHash));
    if (!customer)
      throw new MarketError(
        'INVALID_API_KEY',
        401,
        'the API key in the Authorization header is not valid; check it, or create a new customer key',
      );
    if (this.known.size >= KNOWN_KEYS) this.known.delete(this.known.keys().next().value as string);
    this.known.set(keyHash, customer);
    return customer;
  }
}
