import type { ContractHandlers } from '../../shared/contract.js';
import type { AppService } from './app-service.js';
import { courierHandlers } from './courier.js';
import { diagnosticsHandlers } from './diagnostics.js';
import { earningsHandlers } from './earnings.js';
import { gpuHandlers } from './gpu.js';
import { mergeHandlers } from './handlers.js';
import { jobsHandlers } from './jobs.js';
import { statusHandlers } from './status-handlers.js';
import { pricingHandlers } from './pricing.js';
import { settingsHandlers } from './settings.js';
import { settlementHandlers } from './settlement.js';

/** The one handler table the Electron host and the headless host both serve. */
export function createAppHandlers(node: AppService): ContractHandlers {
  return mergeHandlers(
    statusHandlers(node),
    jobsHandlers(node),
    earningsHandlers(node),
    settlementHandlers(node),
    courierHandlers(node),
    pricingHandlers(node),
    gpuHandlers(node),
    settingsHandlers(node),
    diagnosticsHandlers(node),
  );
}
