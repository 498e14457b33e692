import { GroupCommit } from '../group-commit.js';
import type { ProviderSession } from './provider-session.js';
import type { ReceiptDelivery } from './receipt-delivery.js';
import { ValidatorClosingError, type ValidatorContext } from './validator-context.js';

/**
 * Receipt acknowledgements: a provider confirms it recorded a receipt, which is then not sent
 * again. Acknowledgements are committed in groups, like heartbeats: the ones that arrive while
 * another step runs share one transaction and one UPDATE. Safe on every instance: each commits
 * the acks of its own sockets, and marking a receipt delivered twice changes nothing.
 */
export class ReceiptAcks {
  /** Receipt acknowledgements waiting for their group commit. */
  private readonly receiptAcks: GroupCommit<{ provider: string; key: string }>;

  constructor(
    private readonly ctx: ValidatorContext,
    private readonly delivery: Pick<ReceiptDelivery, 'acked'>,
  ) {
    this.receiptAcks = new GroupCommit({
      commit: (acks) => this.flushReceiptAcks(acks),
      schedule: (flush) => ctx.steps.serial(flush, 'lease'),
      onError: (err) => ctx.report('receipt_ack', err),
    });
  }

  /** The provider confirms it recorded the receipt `key`. Resolves once the ack is committed. */
  receiptAck(session: ProviderSession, key: string): Promise<void> {
    if (this.ctx.isClosed()) return Promise.reject(new ValidatorClosingError());
    this.delivery.acked(session, key);
    return this.receiptAcks.add({ provider: session.address, key });
  }

  /** Commits a group of receipt acknowledgements in one transaction (see receiptAck). */
  private async flushReceiptAcks(acks: readonly { provider: string; key: string }[]): Promise<void> {
    const now = this.ctx.clock.now();
    await this.ctx.store.transaction((tx) => tx.validator.markDeliveredMany(acks, now));
  }
}
