import { randomBytes } from 'node:crypto';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import type { Clock } from '../../core/clock.js';
import { fromHex } from '../../core/hex.js';
import { checksUntilFloor, historyFraction, type ProbationPolicy } from '../../core/market/probation.js';
import { verifyNodeSignature } from '../../node/signing/node-signature.js';
import { addressFromPublicKey } from '../../shared/market-address.js';
import {
  authSigningBytes,
  CLOSE_CODES,
  type WelcomeFrame,
  type WelcomeProbation,
} from '../../shared/market-protocol.js';
import type { ProbationRecord } from '../store/bond-repo.js';
import type { MarketStore } from '../store/market-store.js';
import type { MarketIdentity } from './market-identity.js';
import type { ProviderSession } from './provider-session.js';
import { probationPolicy, type ValidatorConfig } from './validator-config.js';

export interface ProviderSessionsDeps {
  store: MarketStore;
  clock: Clock;
  blake3: Blake3Hasher;
  config: ValidatorConfig;
  identity: MarketIdentity;
  /** Receipts sent on `session` at its join (receipt delivery does not send them again). */
  noteSent(session: ProviderSession, keys: readonly string[]): void;
  /** After a join's first frames: prices for the session, and a dispatch pass. */
  afterJoin(session: ProviderSession): void;
  /** Writes the provider's presence in the store before its welcome (presence.ts `joined`). */
  claim(session: ProviderSession): Promise<void>;
  /** Removes the provider's presence if this socket still holds it (presence.ts `left`). */
  release(session: ProviderSession): void;
}

/**
 * Presence on this instance: the authenticated provider sessions connected here (one per provider
 * address; a second socket of the same provider closes the older one), when each joined, and the
 * latest committed heartbeat of each (what dispatch order and standby handovers read). Joining
 * reads the provider's leases and unacknowledged receipts from the store and sends its first
 * frames. Per instance: every instance keeps the sessions of its own sockets.
 */
export class ProviderSessions {
  private readonly sessions = new Map<string, ProviderSession>();
  /** The latest committed heartbeat of each connected provider (what makes a standby warm at a handover). */
  readonly heard = new Map<string, { sentAt: number; seenAt: number }>();
  /** When each connected provider joined: its freshness until its first heartbeat is committed (see dispatchOrder). */
  readonly joinedAt = new Map<string, number>();

  constructor(private readonly deps: ProviderSessionsDeps) {}

  /** The session connected here for `address`, if any. */
  get(address: string): ProviderSession | undefined {
    return this.sessions.get(address);
  }

  /** The sessions connected here, in join order. */
  values(): IterableIterator<ProviderSession> {
    return this.sessions.values();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** A fresh 32-byte challenge nonce (hex). */
  newChallenge(): string {
    return randomBytes(32).toString('hex');
  }

  /**
   * Checks an auth answer; returns the provider's address, or a refusal. A refused provider
   * (too many wrong results) may not join.
   */
  async authenticate(
    publicKey: string,
    signature: string,
    nonce: string,
  ): Promise<{ ok: true; address: string } | { ok: false; code: 'unauthenticated' | 'refused'; message: string }> {
    if (!verifyNodeSignature(publicKey, authSigningBytes(this.deps.identity.marketId, nonce), signature)) {
      return {
        ok: false,
        code: 'unauthenticated',
        message:
          'auth signature does not verify over the challenge; sign authSigningBytes(market_id, nonce) with the node key',
      };
    }
    const address = addressFromPublicKey(fromHex(publicKey), this.deps.blake3);
    const now = this.deps.clock.now();
    const config = this.deps.config;
    const p = await this.deps.store.transaction((tx) =>
      tx.validator.ensureProvider(address, publicKey, config.initialReputation, now),
    );
    if (p.refused)
      return {
        ok: false,
        code: 'refused',
        message: `provider ${address} is refused after ${p.wrongResults} wrong results`,
      };
    return { ok: true, address };
  }

  /**
   * Registers an authenticated session with its capabilities and sends its first frames, in this
   * order: the welcome (`welcome` builds it from the jobs still leased to the provider), then every
   * receipt not yet acknowledged, then prices. The welcome goes first because a client sends
   * nothing before it — a receipt_ack for a receipt that came earlier would have nowhere to go
   * (docs/market-api.md, "Joining"). Returns the jobs still leased to the provider.
   */
  async join(
    session: ProviderSession,
    welcome: (leased: { job_id: string; epoch: number }[], probation: WelcomeProbation | undefined) => WelcomeFrame,
  ): Promise<{ job_id: string; epoch: number }[]> {
    const old = this.sessions.get(session.address);
    if (old && old.id !== session.id) old.close(CLOSE_CODES.superseded, 'the same provider connected again');
    this.sessions.set(session.address, session);
    this.joinedAt.set(session.address, this.deps.clock.now());
    await this.deps.claim(session);
    const { leased, receipts, history } = await this.deps.store.transaction(async (tx) => ({
      leased: (await tx.validator.leasedTo(session.address)).map((a) => ({ job_id: a.jobId, epoch: a.epoch })),
      receipts: await tx.validator.receipts(session.address, true),
      history: await tx.bonds.probation(session.address),
    }));
    for (const j of leased) session.inFlight.add(j.job_id);
    session.send(welcome(leased, welcomeProbation(history, probationPolicy(this.deps.config))));
    for (const r of receipts)
      session.send({
        type: 'receipt',
        receipt: this.deps.identity.signedReceiptJson(r.receipt) as never,
        task_id: r.taskId,
      });
    this.deps.noteSent(
      session,
      receipts.map((r) => r.key),
    );
    this.deps.afterJoin(session);
    return leased;
  }

  leave(session: ProviderSession): void {
    this.deps.release(session);
    if (this.sessions.get(session.address)?.id !== session.id) return;
    this.sessions.delete(session.address);
    this.heard.delete(session.address);
    this.joinedAt.delete(session.address);
  }
}

/** The welcome's probation object for a provider's stored history (undefined when the market checks nothing). */
export function welcomeProbation(history: ProbationRecord, policy: ProbationPolicy): WelcomeProbation | undefined {
  if (policy.floor <= 0) return undefined;
  return {
    checked_fraction: historyFraction(history.cleanStreak, policy),
    verified_jobs: history.cleanStreak,
    jobs_until_floor: checksUntilFloor(history.cleanStreak, policy),
    probation_jobs: policy.probationJobs,
    bond_funded: history.bondFunded.toString(),
    bond_target: policy.bondTarget.toString(),
  };
}
