import type { SettlementStatusInfo } from '../../shared/contract.js';
import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

function status(node: AppService): SettlementStatusInfo {
  const s = node.ledger.settlement.status();
  return {
    mode: s.mode,
    mode_label: s.mode_label,
    activate_at: s.activate_at,
    balances: s.balances,
    receipts: s.receipts,
  };
}

/** settlement:status and settlement:set-mode (dry_run or real; the UI confirms before real). */
export function settlementHandlers(node: AppService): HandlerSet {
  return {
    'settlement:status': () => status(node),
    'settlement:set-mode': (mode) => {
      node.ledger.settlement.changeMode(mode);
      node.logger.info('settlement mode changed', { mode });
      return status(node);
    },
  };
}
