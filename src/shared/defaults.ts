/** The embedded local market listens here by default (headless mode and `tessera market`). */
export const DEFAULT_MARKET_URL = 'http://127.0.0.1:7070';
