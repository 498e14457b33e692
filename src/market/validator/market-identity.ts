import type { ProbationPolicy } from '../../core/market/probation.js';
import { randomBytes } from 'node:crypto';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { fromHex } from '../../core/hex.js';
import { parseReceipt, receiptToJson, type makeReceipt } from '../../core/ledger/receipt.js';
import type { JsonValue } from '../../core/market/canonical.js';
import { ed25519SignerFromSeed, type ResultSigner } from '../../node/signing/result-signing.js';
import { signReceipt } from '../../node/signing/receipt-signing.js';
import type { MarketTx } from '../store/market-store.js';
import type { TaskPayoutDeps } from './task-payout.js';

/**
 * The market's identity, kept in the store and the same on every instance sharing it: the market
 * id, the assignment secret (assignment keys and check draws) and the receipt key (Ed25519, signs
 * every receipt). Loaded at start — created by the first start — and read-only after.
 */
export class MarketIdentity {
  private marketIdValue = '';
  private secretValue: Uint8Array = new Uint8Array(32);
  /** The market's receipt key (Ed25519), loaded from the store at start (created at the first start). */
  private receiptSigner: ResultSigner | undefined;

  constructor(private readonly blake3: Blake3Hasher) {}

  get marketId(): string {
    return this.marketIdValue;
  }

  /** The assignment secret: keys assignments and check draws; never sent. */
  get secret(): Uint8Array {
    return this.secretValue;
  }

  /** The market's Ed25519 public key (hex), announced in the welcome; it signs every receipt. */
  get marketKey(): string {
    if (!this.receiptSigner) throw new Error('the validator has not started: no market key yet');
    return this.receiptSigner.nodeId;
  }

  /** Loads (or creates, on first start) the market id, the secret and the receipt key inside `tx`. */
  async load(tx: MarketTx, options: { marketId?: string; secretHex?: string }): Promise<void> {
    this.marketIdValue = await tx.validator.settingOrInit(
      'market_id',
      options.marketId ?? `tessera-market-${randomBytes(8).toString('hex')}`,
    );
    this.secretValue = fromHex(
      await tx.validator.settingOrInit('assignment_secret', options.secretHex ?? randomBytes(32).toString('hex')),
      'assignment secret',
    );
    // The receipt key: a 32-byte Ed25519 seed kept in the store, so the key survives restarts.
    this.receiptSigner = ed25519SignerFromSeed(
      fromHex(
        await tx.validator.settingOrInit('receipt_key_seed', randomBytes(32).toString('hex')),
        'receipt key seed',
      ),
    );
  }

  /** The market's identity and receipt key, and its bond rules, as paying a task needs them. */
  payoutDeps(bond: ProbationPolicy): TaskPayoutDeps {
    if (!this.receiptSigner) throw new Error('the validator has not started: no market key to sign receipts with');
    return { blake3: this.blake3, marketId: this.marketIdValue, signer: this.receiptSigner, bond };
  }

  /** A stored receipt as sent: one stored before receipts were signed is signed now (same bytes, same signature). */
  signedReceiptJson(stored: JsonValue): JsonValue {
    const o = stored as { signature?: unknown };
    if (typeof o.signature === 'string') return stored;
    return receiptToJson(this.signed(parseReceipt(stored, this.blake3))) as unknown as JsonValue;
  }

  /** A receipt signed with the market's key (docs/receipt-encoding.md, "Receipt signature"). */
  private signed(receipt: ReturnType<typeof makeReceipt>): ReturnType<typeof makeReceipt> {
    if (!this.receiptSigner) throw new Error('the validator has not started: no market key to sign receipts with');
    return signReceipt(receipt, this.marketIdValue, this.receiptSigner);
  }
}
