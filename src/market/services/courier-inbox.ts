import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { courierSigningBytes, senderProblem, type CourierReceipt } from '../../core/courier/courier-receipt.js';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { fromHex, toHex } from '../../core/hex.js';
import type { Clock } from '../../core/clock.js';
import { verifyNodeSignature } from '../../node/signing/node-signature.js';
import { addressFromPublicKey } from '../../shared/market-address.js';
import type { CourierFlushRequest, CourierReceiptWire } from '../../shared/courier-protocol.js';
import { ACCOUNTS } from '../store/accounts-repo.js';
import type { MarketStore, MarketTx } from '../store/market-store.js';

/**
 * The courier reward rule (docs/market-api.md, "Courier inbox"): `perKiB` micro-CPC for every
 * started KiB of the bundle, at most `cap` per receipt. A 0-byte bundle earns nothing.
 */
export interface CourierRewardRule {
  perKiB: bigint;
  cap: bigint;
}

export const DEFAULT_COURIER_REWARD: CourierRewardRule = { perKiB: 100n, cap: 100_000n };
/** Largest bundle the inbox takes, bytes (the node's default `courier_max_bundle_bytes`). */
export const DEFAULT_COURIER_MAX_BUNDLE_BYTES = 16 << 20;

/** micro-CPC a bundle of `bytes` earns under `rule`. */
export function courierReward(bytes: number, rule: CourierRewardRule): bigint {
  const kib = BigInt(Math.ceil(bytes / 1024));
  const r = kib * rule.perKiB;
  return r < rule.cap ? r : rule.cap;
}

/** Why a receipt is rejected; stable codes (docs/market-api.md). */
export type CourierRejectCode =
  | 'BAD_SIGNATURE'
  | 'BAD_SENDER'
  | 'BUNDLE_NOT_BASE64'
  | 'BUNDLE_SIZE_MISMATCH'
  | 'BUNDLE_TOO_LARGE'
  | 'BUNDLE_HASH_MISMATCH'
  | 'RECEIPT_ID_CONFLICT';

/** The answer for one receipt: `reward` in micro-CPC (for a duplicate: what it was first credited). */
export type CourierAnswer =
  | { id: string; status: 'accepted' | 'duplicate'; reward: bigint }
  | { id: string; status: 'rejected'; reward: 0n; code: CourierRejectCode; reason: string };

export interface CourierInboxDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  /** Accepted bundles are kept here, content-addressed: `<dir>/<hash[0..2]>/<hash>`. */
  bundlesDir: string;
  reward?: CourierRewardRule;
  maxBundleBytes?: number;
}

/** Event id of the posting that credits a receipt's reward (one per receipt id). */
export const courierEventId = (receiptId: string): string => `courier:${receiptId}`;

/**
 * The market side of carry-to-earn: verifies each forwarded receipt (the node's signature over
 * courierSigningBytes, the bundle's size and BLAKE3), stores it once by receipt id and credits
 * the reward to the node's worker account in the same transaction. A retried receipt is a
 * duplicate answered with its first reward; a rejected one changes nothing.
 */
export class CourierInboxService {
  private readonly rule: CourierRewardRule;
  private readonly maxBundleBytes: number;

  constructor(private readonly deps: CourierInboxDeps) {
    this.rule = deps.reward ?? DEFAULT_COURIER_REWARD;
    this.maxBundleBytes = deps.maxBundleBytes ?? DEFAULT_COURIER_MAX_BUNDLE_BYTES;
    if (this.rule.perKiB < 0n || this.rule.cap < 0n) throw new RangeError('courier reward perKiB and cap must be ≥ 0');
  }

  /** Handles one flush request; one answer per receipt, in request order. */
  async receive(request: CourierFlushRequest): Promise<CourierAnswer[]> {
    const address = addressFromPublicKey(fromHex(request.node_id), this.deps.blake3);
    // Stateless checks first, outside the transaction.
    const checked = request.receipts.map((r) => this.check(request.node_id, r));
    const now = this.deps.clock.now();
    return this.deps.store.transaction(async (tx) => {
      const answers: CourierAnswer[] = [];
      for (const c of checked) {
        if ('status' in c) answers.push(c);
        else answers.push(await this.record(tx, request.node_id, address, c.wire, c.bundle, now));
      }
      return answers;
    });
  }

  private check(nodeId: string, r: CourierReceiptWire): CourierAnswer | { wire: CourierReceiptWire; bundle: Buffer } {
    const reject = (code: CourierRejectCode, reason: string): CourierAnswer => ({
      id: r.id,
      status: 'rejected',
      reward: 0n,
      code,
      reason: `${code}: ${reason}`,
    });
    const core: CourierReceipt = {
      id: r.id,
      bundle_hash: r.bundle_hash,
      bytes: r.bytes,
      sender: r.sender,
      created_at: r.created_at,
    };
    if (!safeVerify(nodeId, courierSigningBytes(core), r.signature))
      return reject(
        'BAD_SIGNATURE',
        'the signature does not verify under node_id over the receipt (courierSigningBytes)',
      );
    const problem = senderProblem(r.sender);
    if (problem) return reject('BAD_SENDER', problem);
    if (r.bytes > this.maxBundleBytes)
      return reject(
        'BUNDLE_TOO_LARGE',
        `bundle is ${r.bytes} bytes, over the market's ${this.maxBundleBytes}-byte limit`,
      );
    const bundle = Buffer.from(r.bundle, 'base64');
    if (bundle.toString('base64') !== r.bundle)
      return reject('BUNDLE_NOT_BASE64', 'bundle is not canonical base64 (RFC 4648, with padding)');
    if (bundle.length !== r.bytes)
      return reject('BUNDLE_SIZE_MISMATCH', `bundle has ${bundle.length} bytes, the receipt says ${r.bytes}`);
    const hash = toHex(this.deps.blake3.hash(bundle));
    if (hash !== r.bundle_hash)
      return reject('BUNDLE_HASH_MISMATCH', `bundle BLAKE3 is ${hash}, the receipt says ${r.bundle_hash}`);
    return { wire: r, bundle };
  }

  private async record(
    tx: MarketTx,
    nodeId: string,
    address: string,
    r: CourierReceiptWire,
    bundle: Buffer,
    now: number,
  ): Promise<CourierAnswer> {
    const reward = courierReward(r.bytes, this.rule);
    const row = {
      receiptId: r.id,
      nodeId,
      address,
      bundleHash: r.bundle_hash,
      bytes: r.bytes,
      sender: r.sender,
      createdAt: r.created_at,
      signature: r.signature,
      reward,
      receivedAt: now,
    };
    if (!(await tx.courier.insert(row))) {
      const first = await tx.courier.get(r.id);
      if (
        !first ||
        first.nodeId !== nodeId ||
        first.bundleHash !== r.bundle_hash ||
        first.bytes !== r.bytes ||
        first.sender !== r.sender ||
        first.createdAt !== r.created_at
      ) {
        return {
          id: r.id,
          status: 'rejected',
          reward: 0n,
          code: 'RECEIPT_ID_CONFLICT',
          reason: `RECEIPT_ID_CONFLICT: receipt id ${r.id} is already stored for another receipt`,
        };
      }
      return { id: r.id, status: 'duplicate', reward: first.reward };
    }
    if (reward > 0n) {
      await tx.accounts.ensure(ACCOUNTS.worker(address), 'worker');
      // Courier rewards are new credits from outside the task economy: posted from the mint account.
      const ok = await tx.accounts.post(
        courierEventId(r.id),
        [
          { account: ACCOUNTS.mint, amount: -reward },
          { account: ACCOUNTS.worker(address), amount: reward },
        ],
        `courier reward ${r.id}`,
        now,
      );
      if (!ok) throw new Error(`courier reward posting ${r.id} was refused`);
    }
    // Kept before the commit: a failed commit leaves a content-addressed file a retry reuses.
    this.keepBundle(r.bundle_hash, bundle);
    return { id: r.id, status: 'accepted', reward };
  }

  private keepBundle(hash: string, bundle: Buffer): void {
    const dir = join(this.deps.bundlesDir, hash.slice(0, 2));
    const path = join(dir, hash);
    if (existsSync(path)) return;
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, bundle);
    renameSync(tmp, path);
  }
}

function safeVerify(nodeId: string, data: Uint8Array, signature: string): boolean {
  try {
    return verifyNodeSignature(nodeId, data, signature);
  } catch {
    return false; // not a valid Ed25519 public key
  }
}
