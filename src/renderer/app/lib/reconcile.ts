import type { MarketReconciliationInfo } from '../../../shared/contract.js';

/** The market check as the Dashboard shows it: a tone, a short title and the node's explanation. */
export interface MarketCheckView {
  tone: 'ok' | 'info' | 'problem' | 'muted';
  title: string;
  text: string;
}

/**
 * What the market's balance says against the receipts this node holds from it: matched (ok),
 * the market shows more (info: receipts on their way), the market shows less (a problem: it
 * paid less than its receipts say), or not checked (market unreachable, or not joined).
 */
export function explainMarketCheck(r: MarketReconciliationInfo): MarketCheckView {
  switch (r.status) {
    case 'matched':
      return { tone: 'ok', title: 'Matches the market', text: r.explanation };
    case 'market_more':
      return { tone: 'info', title: 'The market shows more', text: r.explanation };
    case 'market_less':
      return { tone: 'problem', title: 'The market paid less than its receipts', text: r.explanation };
    case 'unreachable':
      return { tone: 'muted', title: 'Market not reachable', text: r.explanation };
    case 'not_joined':
      return { tone: 'muted', title: 'Not checked', text: r.explanation };
  }
}
