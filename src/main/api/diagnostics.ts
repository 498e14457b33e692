import type { DiagnosticsInfo } from '../../shared/contract.js';
import { ProviderJobsRepo } from '../db/repos/provider-jobs-repo.js';
import { keyStorageCheck, keyStorageState } from '../services/key-seal.js';
import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

/** "Why am I not earning?": each check green or red, a red one with a plain-language fix. */
export function diagnose(node: AppService): DiagnosticsInfo {
  const s = node.status();
  const gpu = node.gpu();
  const since = node.clock.now() - 3_600_000;
  const rejections = new ProviderJobsRepo(node.ledger.db).failuresByCode(since);
  const settlement = node.ledger.settlement.status();
  const checks: DiagnosticsInfo['checks'] = [
    {
      id: 'joined',
      ok: s.joined,
      label: s.joined ? 'Joined a market' : 'Not joined to any market',
      fix: s.joined ? null : 'Open Join and pick the practice market or enter a market URL.',
    },
    {
      id: 'connected',
      ok: s.state === 'connected',
      label: `Market connection: ${s.state}`,
      fix:
        s.state === 'connected'
          ? null
          : s.joined
            ? 'The market is not reachable or refused this node: check the URL and your network; the node retries on its own.'
            : 'Join a market first.',
    },
    {
      id: 'paused',
      ok: !s.paused,
      label: s.paused ? `Paused (${s.pause_reason ?? 'by you'})` : 'Taking jobs',
      fix: s.paused ? 'Press Resume (or change the idle-only / battery / schedule settings).' : null,
    },
    {
      id: 'gpu',
      ok: gpu.hardware_gpu,
      label: gpu.hardware_gpu
        ? `GPU usable: ${gpu.adapter?.description || gpu.adapter?.device || 'hardware adapter'}`
        : gpu.adapter?.software
          ? 'Only a software GPU adapter: not offered'
          : 'No GPU detected: CPU only',
      fix: gpu.hardware_gpu ? null : 'Update the graphics driver, or keep earning on the CPU.',
    },
    {
      id: 'rejections',
      ok: rejections.length === 0,
      label:
        rejections.length === 0
          ? 'No rejected or lost jobs in the last hour'
          : `Rejected or lost in the last hour: ${rejections.map((r) => `${r.code ?? 'no code'} ×${r.count}`).join(', ')}`,
      fix:
        rejections.length === 0
          ? null
          : "See Jobs for the codes; repeated rejections mean results do not match the market's re-run.",
    },
    {
      id: 'settlement',
      ok: settlement.mode === 'real',
      label: `Settlement: ${settlement.mode_label}`,
      fix:
        settlement.mode === 'real'
          ? null
          : 'Receipts are recorded but not credited: switch settlement to Real when ready.',
    },
    {
      id: 'last_error',
      ok: s.last_error === null,
      label: s.last_error === null ? 'No errors' : `Last error: ${s.last_error}`,
      fix: s.last_error === null ? null : 'See Logs for details.',
    },
    // Sealed by the OS keychain (desktop) or a plain 0600 file (headless, or Linux with only basic_text).
    keyStorageCheck(keyStorageState(node.ledger.dataDir.root)),
  ];
  return { checks, data_dir: node.ledger.dataDir.root };
}

/** diagnostics:report and logs:recent. */
export function diagnosticsHandlers(node: AppService): HandlerSet {
  return {
    'diagnostics:report': () => diagnose(node),
    'logs:recent': ({ limit }) => node.logs.recent(limit),
  };
}
