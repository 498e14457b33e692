import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

/** pricing:bands: the price board's p25 / median / p75 per lane, the suggested bid and this node's ask. */
export function pricingHandlers(node: AppService): HandlerSet {
  return { 'pricing:bands': () => node.pricing() };
}
