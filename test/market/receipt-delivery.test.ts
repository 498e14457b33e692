import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { JsonValue } from '../../src/core/market/canonical.js';
import type { SqlDriver } from '../../src/market/store/driver.js';
import { MarketStore } from '../../src/market/store/market-store.js';
import { openPgliteDriver } from '../../src/market/store/pglite-driver.js';
import { ReceiptDelivery } from '../../src/market/validator/receipt-delivery.js';
import { ResultSettler } from '../../src/market/validator/result-settler.js';
import { StepQueue } from '../../src/market/validator/step-queue.js';
import type { ValidatorContext } from '../../src/market/validator/validator-context.js';
import type { ProviderSession } from '../../src/market/validator/validator-service.js';
import type { MarketFrame } from '../../src/shared/market-protocol.js';
import { silentLogger } from '../../src/node/log.js';
import { PG_URL_ENV, pgHarness, type StoreHarness } from './store-harness.js';

/**
 * A receipt reaches its provider whichever market instance stored it: the instance the provider is
 * connected to sends it (one query for its connected providers), the provider's ack marks it
 * delivered, and a receipt sent on a socket is not sent on it again.
 */
const url = process.env[PG_URL_ENV];
const pgh: StoreHarness | undefined = url ? pgHarness(url) : undefined;
afterAll(() => pgh?.cleanup());

const opened: MarketStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
const open = async (driver: SqlDriver) => {
  const s = await MarketStore.open(driver);
  opened.push(s);
  return s;
};

/** A connected provider whose socket records the frames it is sent. */
function fakeSession(address: string): ProviderSession & { frames: MarketFrame[] } {
  const frames: MarketFrame[] = [];
  return {
    id: randomUUID(),
    address,
    publicKey: '00',
    capabilities: undefined,
    inFlight: new Set(),
    congested: false,
    frames,
    send: (f) => frames.push(f),
    close: () => undefined,
  };
}

/** Instance A stores a receipt for `provider` (as paying a task does); returns its key. */
async function storeReceipt(store: MarketStore, provider: string): Promise<string> {
  const key = `receipt:${randomUUID()}`;
  const receipt = { idempotency_key: key, signature: 'sig', provider } as unknown as JsonValue;
  const stored = await store.transaction((tx) =>
    tx.validator.insertReceipt({ key, jobId: randomUUID(), taskId: randomUUID(), provider, receipt }, 1),
  );
  expect(stored).toBe(true);
  return key;
}

/** Instance B (with `storeB`) delivers to `session`, connected to it; instance A (`storeA`) created the receipts. */
async function deliversAcrossInstances(storeA: MarketStore, storeB: MarketStore): Promise<void> {
  const session = fakeSession('provider-b');
  const other = fakeSession('provider-elsewhere');
  const deliveryB = new ReceiptDelivery({
    store: storeB,
    sessions: () => [session],
    signed: (r) => r,
    logger: silentLogger,
  });
  const key = await storeReceipt(storeA, session.address);
  await storeReceipt(storeA, other.address); // connected to no instance here: not B's to send

  expect(await deliveryB.runOnce()).toEqual({ sent: 1 });
  expect(session.frames).toHaveLength(1);
  const frame = session.frames[0] as { type: string; receipt: { idempotency_key: string } };
  expect(frame.type).toBe('receipt');
  expect(frame.receipt.idempotency_key).toBe(key);

  // Sent and not yet acknowledged: not sent on the same socket again.
  expect(await deliveryB.runOnce()).toEqual({ sent: 0 });

  // The provider's ack (as the validator commits it) marks it delivered; nothing more is sent.
  deliveryB.acked(session, key);
  expect(
    await storeB.transaction((tx) => tx.validator.markDeliveredMany([{ provider: session.address, key }], 2)),
  ).toBe(1);
  expect(await storeB.transaction((tx) => tx.validator.receipts(session.address, true))).toEqual([]);
  expect(await deliveryB.runOnce()).toEqual({ sent: 0 });
  expect(session.frames).toHaveLength(1);

  // A new socket of the same provider is sent what is still unacknowledged, once.
  const key2 = await storeReceipt(storeA, session.address);
  const again = fakeSession(session.address);
  const delivery2 = new ReceiptDelivery({
    store: storeB,
    sessions: () => [again],
    signed: (r) => r,
    logger: silentLogger,
  });
  expect(await delivery2.runOnce()).toEqual({ sent: 1 });
  expect((again.frames[0] as { receipt: { idempotency_key: string } }).receipt.idempotency_key).toBe(key2);
}

describe('receipt delivery (pglite, receipt stored through another connection)', () => {
  it('sends a receipt this instance did not create, once, until acknowledged', async () => {
    const store = await open(await openPgliteDriver(undefined));
    await deliversAcrossInstances(store, store);
  }, 60_000);
});

describe('receipt delivery (postgres, two instances)', () => {
  if (!url || !pgh) {
    it.skip(`skipped: set ${PG_URL_ENV} to a PostgreSQL URL (e.g. postgres:///postgres?host=/var/run/postgresql) to deliver across two instances on one database`, () =>
      undefined);
    return;
  }
  const h = pgh;
  it('instance B sends the receipt instance A stored to the provider connected to B', async () => {
    const schema = await h.newLocation();
    const storeA = await open(await h.open(schema));
    const storeB = await open(await h.open(schema));
    await deliversAcrossInstances(storeA, storeB);
  }, 60_000);
});

describe('a receipt sent by the settler as its task is paid', () => {
  it('is not sent again by a delivery pass that starts before the settler has sent it', async () => {
    const store = await open(await openPgliteDriver(undefined));
    const session = fakeSession('provider-paid');
    const delivery = new ReceiptDelivery({
      store,
      sessions: () => [session],
      signed: (r) => r,
      logger: silentLogger,
    });
    const settler = new ResultSettler(
      {
        steps: new StepQueue(),
        config: { settleWindowMs: 5 },
        sessions: new Map([[session.address, session]]),
        report: (what: string, err: unknown) => {
          throw new Error(`${what}: ${String(err)}`);
        },
      } as unknown as ValidatorContext,
      { kick: () => undefined, reachBack: () => undefined, noteSent: (s, keys) => delivery.noteSent(s, keys) },
    );
    // The settlement committed the receipt; the settler sends it on the next turn.
    const key = await storeReceipt(store, session.address);
    const [stored] = await store.transaction((tx) => tx.validator.receipts(session.address, true));
    settler.deliver([
      { provider: session.address, taskId: stored?.taskId as string, receipt: stored?.receipt as JsonValue },
    ]);
    // The next step in line is a delivery pass (its timer fired during the settlement).
    await delivery.runOnce();
    await new Promise((resolve) => setImmediate(resolve));
    const sent = session.frames.filter(
      (f) => f.type === 'receipt' && (f.receipt as { idempotency_key: string }).idempotency_key === key,
    );
    expect(sent).toHaveLength(1);
  }, 60_000);
});
