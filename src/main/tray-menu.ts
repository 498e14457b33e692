import { formatAmount } from '../core/market/amount.js';
import type { FlushSummaryInfo, NodeStatusInfo } from '../shared/contract.js';

export type TrayStatus = 'connected' | 'earning' | 'paused' | 'offline' | 'error';
export type TrayAction = 'flush' | 'pause' | 'resume' | 'open' | 'quit';

export interface TrayMenuItem {
  id: TrayAction;
  label: string;
  enabled: boolean;
}

export interface TrayMenu {
  status: TrayStatus;
  statusLine: string;
  /** Tooltip for the tray icon. */
  tooltip: string;
  items: TrayMenuItem[];
}

/** What the tray needs to know, beside the node status. */
export interface TrayState {
  node: NodeStatusInfo;
  /** Receipts waiting for a courier flush. */
  courierPending: number;
  /** A flush is running now (the item is disabled until it ends). */
  flushing: boolean;
}

/** The node's state in one word: error beats paused beats offline; earning while jobs run. */
export function trayStatus(node: NodeStatusInfo): TrayStatus {
  if (node.last_error !== null) return 'error';
  if (node.paused) return 'paused';
  if (!node.joined || node.state !== 'connected') return 'offline';
  return node.running > 0 ? 'earning' : 'connected';
}

function statusLine(status: TrayStatus, node: NodeStatusInfo): string {
  const today = `${formatAmount(BigInt(node.credits_today))} CPC today`;
  switch (status) {
    case 'error':
      return `Error: ${node.last_error ?? 'unknown'}`;
    case 'paused':
      return `Paused (${node.pause_reason ?? 'by you'}) · ${today}`;
    case 'offline':
      return node.joined ? `Offline: market ${node.state} · ${today}` : 'Offline: not joined to a market';
    case 'earning':
      return `Earning: ${node.running} job${node.running === 1 ? '' : 's'} running · ${today}`;
    case 'connected':
      return `Connected, waiting for jobs · ${today}`;
  }
}

/** The tray menu as a pure function of state; the Electron tray only renders it and forwards clicks by item id. */
export function buildTrayMenu(state: TrayState): TrayMenu {
  const status = trayStatus(state.node);
  const line = statusLine(status, state.node);
  const flushLabel = state.flushing ? 'Flushing courier receipts…' : state.courierPending > 0 ? `Flush courier receipts (${state.courierPending} pending)` : 'Flush courier receipts';
  return {
    status,
    statusLine: line,
    tooltip: `Tessera — ${line}`,
    items: [
      { id: 'flush', label: flushLabel, enabled: !state.flushing && state.courierPending > 0 },
      state.node.paused ? { id: 'resume', label: 'Resume providing', enabled: state.node.joined } : { id: 'pause', label: 'Pause providing', enabled: state.node.joined },
      { id: 'open', label: 'Open Tessera', enabled: true },
      { id: 'quit', label: 'Quit', enabled: true },
    ],
  };
}

/** The notification after a flush from the tray: sent, credited, still pending, failed. */
export function flushNotification(s: FlushSummaryInfo): { title: string; body: string } {
  const sent = s.accepted + s.duplicate + s.rejected;
  const credited = BigInt(s.reward) - BigInt(s.reward_pending);
  const parts = [`Sent ${sent}`, `credited ${formatAmount(credited)} CPC`];
  if (BigInt(s.reward_pending) > 0n) parts.push(`${formatAmount(BigInt(s.reward_pending))} CPC waiting for real settlement`);
  parts.push(`${s.pending_after} still pending`, `${s.failed} failed`);
  const title = s.error !== undefined ? 'Courier flush stopped early' : s.failed > 0 || s.rejected > 0 ? 'Courier flush finished with problems' : 'Courier receipts flushed';
  return { title, body: `${parts.join(', ')}.${s.error !== undefined ? ` ${s.error}` : ''}` };
}
