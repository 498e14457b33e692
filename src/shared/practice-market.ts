/** The practice market's id (src/market/local-market.ts): its credits are practice credits, not money. */
export const PRACTICE_MARKET_ID = 'tessera-practice-market';
