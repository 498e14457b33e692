import { TesseraError } from '../../core/errors.js';
import type { FlushSummaryInfo } from '../../shared/contract.js';
import type { FlushSummary } from '../services/courier-service.js';
import type { AppService } from './app-service.js';
import { courierRow } from './contract-rows.js';
import type { HandlerSet } from './handlers.js';

/** A flush summary in the contract's shape (credits as decimal strings). */
export function flushSummaryInfo(s: FlushSummary): FlushSummaryInfo {
  return { ...s, reward: s.reward.toString(), reward_pending: s.reward_pending.toString() };
}

/** courier:list, courier:send, courier:flush (progress as `courier:flush-progress` events). */
export function courierHandlers(node: AppService): HandlerSet {
  return {
    'courier:list': ({ pending_only, limit }) => {
      const rows = [];
      for (const r of node.ledger.courier.list(pending_only)) {
        rows.push(courierRow(r));
        if (rows.length >= limit) break;
      }
      return { rows, counts: node.ledger.courier.counts() };
    },
    'courier:send': ({ name, data_base64, sender }) => {
      const receipt = node.ledger.courier.sendBytes(Buffer.from(data_base64, 'base64'), name, sender);
      const row = node.ledger.courier.get(receipt.id);
      if (!row) throw new Error(`courier receipt ${receipt.id} was not stored`);
      return courierRow(row);
    },
    'courier:flush': async () => {
      const url = node.marketUrl();
      if (url === null)
        throw new TesseraError(
          'NOT_JOINED',
          'no market to flush courier receipts to: join a market or set market_url in Settings',
        );
      const summary = await node.ledger.courier.flush(url, (p) => node.events.emit('courier:flush-progress', p));
      node.logger.info('courier flush', {
        sent: summary.accepted + summary.duplicate + summary.rejected,
        pending_after: summary.pending_after,
      });
      return flushSummaryInfo(summary);
    },
  };
}
