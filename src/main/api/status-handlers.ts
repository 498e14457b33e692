import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

/** app:info and the node's lifecycle: status, join / leave a market, pause / resume. */
export function statusHandlers(node: AppService): HandlerSet {
  return {
    'app:info': () => node.info(),
    'node:info': () => node.nodeInfo(),
    'node:status': () => node.status(),
    'node:join': (target) => node.join(target),
    'node:leave': () => node.leave(),
    'node:pause': () => node.pause(),
    'node:resume': () => node.resume(),
  };
}
