import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

/** settings:get and settings:set (a validated patch). */
export function settingsHandlers(node: AppService): HandlerSet {
  return {
    'settings:get': () => node.settings.get(),
    'settings:set': (patch) => {
      const next = node.settings.set(patch);
      node.logger.info('settings changed', { keys: Object.keys(patch) });
      if ('ask' in patch) node.applyAsk();
      return next;
    },
  };
}
