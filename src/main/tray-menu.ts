import { formatAmount } from '../core/market/amount.js';
import type { FlushSummaryInfo, NodeStatusInfo } from '../shared/contract.js';
import { nodeStatusWord, type StatusLine, type StatusWord } from '../shared/status-word.js';

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
  /** When the last job finished (a `job:finished` event), and the time now: Earning lasts EARNING_WINDOW_MS after it. */
  lastJobAt?: number | null;
  now?: number;
}

/** The tray icon of each status word (resources/tray-<status>.png). */
const ICONS: Record<StatusWord, TrayStatus> = {
  Error: 'error',
  Paused: 'paused',
  Earning: 'earning',
  Connected: 'connected',
  Connecting: 'offline',
  Offline: 'offline',
  'Not joined': 'offline',
};

/** The tray icon for a node: that of its status word (nodeStatusWord, the window's word too). */
export function trayStatus(node: NodeStatusInfo, opts: { lastJobAt?: number | null; now?: number } = {}): TrayStatus {
  return ICONS[nodeStatusWord(node, opts).word];
}

/** The status line begins with the status word; beside it, today's credits once joined. */
function statusLine(w: StatusLine, node: NodeStatusInfo): string {
  // Practice credits are not money: the tray says so as the window does.
  const unit = node.market?.kind === 'practice' ? 'practice credits' : 'CPC';
  const today = `${formatAmount(BigInt(node.credits_today))} ${unit} today`;
  switch (w.word) {
    case 'Error':
      return `Error: ${w.detail}`;
    case 'Not joined':
      return `Not joined: ${w.detail}`;
    case 'Paused':
      return `Paused (${node.pause_reason ?? 'by you'}) · ${today}`;
    case 'Offline':
      return `Offline: market ${node.state} · ${today}`;
    case 'Connected':
      return `Connected, ${w.detail} · ${today}`;
    default:
      return `${w.word}: ${w.detail} · ${today}`;
  }
}

/** The tray menu as a pure function of state; the tray service only renders it and forwards clicks by item id. */
export function buildTrayMenu(state: TrayState): TrayMenu {
  const word = nodeStatusWord(state.node, {
    lastJobAt: state.lastJobAt ?? null,
    ...(state.now !== undefined ? { now: state.now } : {}),
  });
  const status = ICONS[word.word];
  const line = statusLine(word, state.node);
  const flushLabel = state.flushing
    ? 'Flushing courier receipts…'
    : state.courierPending > 0
      ? `Flush courier receipts (${state.courierPending} pending)`
      : 'Flush courier receipts';
  return {
    status,
    statusLine: line,
    tooltip: `Tessera — ${line}`,
    items: [
      { id: 'flush', label: flushLabel, enabled: !state.flushing && state.courierPending > 0 },
      state.node.paused
        ? { id: 'resume', label: 'Resume providing', enabled: state.node.joined }
        : { id: 'pause', label: 'Pause providing', enabled: state.node.joined },
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
  if (BigInt(s.reward_pending) > 0n)
    parts.push(`${formatAmount(BigInt(s.reward_pending))} CPC waiting for real settlement`);
  parts.push(`${s.pending_after} still pending`, `${s.failed} failed`);
  const title =
    s.error !== undefined
      ? 'Courier flush stopped early'
      : s.failed > 0 || s.rejected > 0
        ? 'Courier flush finished with problems'
        : 'Courier receipts flushed';
  return { title, body: `${parts.join(', ')}.${s.error !== undefined ? ` ${s.error}` : ''}` };
}
