import { formatAmount } from '../../core/market/amount.js';
import type {
  DiagnosticAction,
  DiagnosticCheck,
  DiagnosticsInfo,
  GpuCapabilitiesInfo,
  NodeStatusInfo,
} from '../../shared/contract.js';
import type { MarketFrame, WelcomeProbation } from '../../shared/market-protocol.js';
import { ProviderJobsRepo } from '../db/repos/provider-jobs-repo.js';
import { keyStorageState, type KeyStorageState } from '../services/key-seal.js';
import type { MarketFailure } from '../services/market-client.js';
import { POLICY_REASONS } from '../services/provide-policy.js';
import type { SettlementModeName } from '../../core/ledger/settlement-mode.js';
import type { AppService } from './app-service.js';
import type { HandlerSet } from './handlers.js';

/** Codes the node itself gives a job it could not finish (lost, not refused by the market's check). */
const LOST_CODES = new Set(['LOST_AT_DISCONNECT', 'UNKNOWN_JOB', 'DRAINED', 'RUN_FAILED', 'LEASE_GONE']);

/** Everything Diagnostics judges, read from the node at one instant. */
export interface DiagnosticsInput {
  status: NodeStatusInfo;
  /** The joined market's URL (null when not joined) and whether it is the practice market. */
  marketUrl: string | null;
  /** How many instances of the joined market the node was given (its first is marketUrl); absent: one. */
  instances?: number;
  practice: boolean;
  /** Why the last connection attempt ended (null: none failed since the last welcome). */
  failure: MarketFailure | null;
  /** The market endpoint in use or being tried (one of the market's URLs, with the address when its name has several); null: none yet. */
  endpoint?: string | null;
  /** The ask announced now (micro-CPC); null while no provider runs. */
  ask: bigint | null;
  /** The market's queued offers at the last connect, per lane. */
  prices: Extract<MarketFrame, { type: 'prices' }> | null;
  /** The probation and bond the market reported at its last welcome (null: none). */
  probation: WelcomeProbation | null;
  gpu: GpuCapabilitiesInfo;
  gpuEnabled: boolean;
  /** Jobs refused or lost in the last hour, by code. */
  failures: { code: string | null; count: number }[];
  settlement: { mode: SettlementModeName; label: string };
  keyStorage: KeyStorageState;
  headless: boolean;
}

const open = (
  label: string,
  screen: Extract<DiagnosticAction, { kind: 'open' }>['screen'],
  field: string | null = null,
) => ({ kind: 'open', label, screen, field }) as const satisfies DiagnosticAction;

/**
 * "Why am I not earning?": one line per check. A red line (`problem`) is something the user
 * must act on and can, and always carries the action that fixes it or opens where it is fixed;
 * a normal state (no GPU, practice and dry-run, paused by the schedule) is `info`.
 */
export function diagnosticChecks(i: DiagnosticsInput): DiagnosticCheck[] {
  return [
    joinedCheck(i),
    ...(i.status.joined ? [connectionCheck(i)] : []),
    providingCheck(i),
    ...(i.status.joined && i.ask !== null ? [askCheck(i.ask, i.prices)] : []),
    ...(i.status.joined && i.probation ? probationCheck(i.probation, i.practice) : []),
    gpuCheck(i.gpu, i.gpuEnabled),
    failuresCheck(i.failures),
    settlementCheck(i.settlement),
    ...(i.status.last_error === null
      ? []
      : [
          {
            id: 'last_error',
            severity: 'problem',
            label: `Last error: ${i.status.last_error}`,
            detail: 'The node logged what happened and where.',
            action: open('Open Logs', 'logs'),
          } satisfies DiagnosticCheck,
        ]),
    keyStorageCheck(i.keyStorage, i.headless),
  ];
}

/** " and 2 more instances of it" for a market given as several instances; "" for one. */
function moreInstances(n: number): string {
  return n > 1 ? ` and ${n - 1} more instance${n === 2 ? '' : 's'} of it (tried in order)` : '';
}

function joinedCheck(i: DiagnosticsInput): DiagnosticCheck {
  if (!i.status.joined)
    return {
      id: 'joined',
      severity: 'problem',
      label: 'Not joined to a market',
      detail: 'Join the practice market, or a market by its URL, to start taking jobs.',
      action: open('Join a market', 'join'),
    };
  return {
    id: 'joined',
    severity: 'ok',
    label: i.practice
      ? 'Joined the practice market (practice credits, not money)'
      : `Joined the market at ${i.marketUrl ?? 'its URL'}${moreInstances(i.instances ?? 1)}`,
    detail: null,
    action: null,
  };
}

/** The market connection while joined: said as a problem only when the node is trying to connect and cannot. */
function connectionCheck(i: DiagnosticsInput): DiagnosticCheck {
  const id = 'connected';
  const s = i.status;
  if (s.paused)
    return {
      id,
      severity: 'info',
      label: 'Not connected while paused',
      detail: 'The node reconnects to the market when providing resumes.',
      action: null,
    };
  if (s.state === 'connected')
    return {
      id,
      severity: 'ok',
      label: i.endpoint && !i.practice ? `Connected to the market at ${i.endpoint}` : 'Connected to the market',
      detail: null,
      action: null,
    };
  const f = i.failure;
  const where = i.practice ? 'the practice market' : (i.marketUrl ?? 'the market');
  const changeMarket = open('Change the market', 'join', 'market-url');
  // No attempt has failed yet: the first connect is under way.
  if (f === null) return { id, severity: 'info', label: `Connecting to ${where}…`, detail: null, action: null };
  if (f.refusal)
    return {
      id,
      severity: 'problem',
      label: `This node stopped talking to ${where}: ${f.refusal.code}`,
      detail: f.refusal.message,
      action: open('Open Logs', 'logs'),
    };
  if (f.httpStatus === 401 || f.httpStatus === 403)
    return {
      id,
      severity: 'problem',
      label: `The market refused the connection (HTTP ${f.httpStatus}): the access token in the market URL is wrong or has expired`,
      detail: 'Leave the market and join again with the URL (and token) your market operator gave you.',
      action: changeMarket,
    };
  if (f.closeCode === 4003)
    return {
      id,
      severity: 'problem',
      label: 'The market refused this node after too many wrong results',
      detail: 'See which jobs were refused and why; a faulty GPU or overclock gives wrong results.',
      action: open('See refused jobs', 'jobs'),
    };
  if (f.closeCode === 4001)
    return {
      id,
      severity: 'problem',
      label: "The market did not accept this node's signature",
      detail: `${f.reason ?? 'UNAUTHENTICATED'}: this node and the market speak different versions; the log has the market's message.`,
      action: open('Open Logs', 'logs'),
    };
  const cause = f.httpStatus
    ? `HTTP ${f.httpStatus}`
    : (f.error ?? `closed ${f.closeCode}${f.reason ? ` ${f.reason}` : ''}`);
  return {
    id,
    severity: 'problem',
    label: `Cannot reach ${where} (${cause})`,
    detail: i.practice
      ? 'The practice market on this machine stopped: leave it and join it again.'
      : 'The node retries on its own. If the market stays down, check the URL with your market operator or join another market.',
    action: changeMarket,
  };
}

/** Whether the node is taking jobs now, and if not, why — pauses the user or the schedule chose are information. */
function providingCheck(i: DiagnosticsInput): DiagnosticCheck {
  const id = 'providing';
  const s = i.status;
  if (!s.joined)
    return { id, severity: 'info', label: 'Not taking jobs until the node joins a market', detail: null, action: null };
  if (s.paused) {
    const reason = s.pause_reason ?? 'paused by you';
    if (reason === POLICY_REASONS.schedule)
      return {
        id,
        severity: 'info',
        label: 'Paused by your schedule',
        detail: 'Providing resumes on its own at the next hour your schedule allows.',
        action: open('Change the schedule', 'settings', 's-schedule_hours'),
      };
    if (reason === POLICY_REASONS.battery)
      return {
        id,
        severity: 'info',
        label: 'Paused while on battery power',
        detail: 'Providing resumes on its own once the computer is plugged in.',
        action: open('Change when to provide', 'settings', 's-pause_on_battery'),
      };
    if (reason === POLICY_REASONS.active)
      return {
        id,
        severity: 'info',
        label: 'Paused while you use the computer',
        detail: 'Providing resumes on its own once the computer has been idle for a while.',
        action: open('Change when to provide', 'settings', 's-idle_only'),
      };
    return {
      id,
      severity: 'info',
      label: `Paused (${reason})`,
      detail: 'No jobs are taken until you resume.',
      action: { kind: 'run', label: 'Resume', fix: 'resume' },
    };
  }
  if (s.state !== 'connected')
    return {
      id,
      severity: 'info',
      label: 'Not taking jobs until the market connection is back',
      detail: null,
      action: null,
    };
  return {
    id,
    severity: 'ok',
    label: s.running > 0 ? `Taking jobs (${s.running} running now)` : 'Taking jobs',
    detail: null,
    action: null,
  };
}

/**
 * The ask against the offers queued on the market (its prices frame at the last connect:
 * each lane's queued count, p25 and median). A median below the ask means at least half the
 * queued jobs (⌊n/2⌋ + 1 of n, the market's nearest rank) go to other providers; a p25 below,
 * at least a quarter.
 */
export function askCheck(ask: bigint, prices: DiagnosticsInput['prices']): DiagnosticCheck {
  const id = 'ask';
  if (ask === 0n)
    return { id, severity: 'ok', label: 'Taking every offer (no lowest offer set)', detail: null, action: null };
  const below: string[] = [];
  let gap = 0n;
  for (const l of prices?.lanes ?? []) {
    if (l.queued === 0) continue;
    const p50 = BigInt(l.offer_p50);
    const p25 = BigInt(l.offer_p25);
    if (p50 < ask) {
      below.push(`at least ${Math.floor(l.queued / 2) + 1} of ${l.queued} ${l.lane} jobs (median offer ${cpc(p50)})`);
      if (ask - p50 > gap) gap = ask - p50;
    } else if (p25 < ask) {
      below.push(
        `at least ${Math.floor(l.queued / 4) + 1} of ${l.queued} ${l.lane} jobs (a quarter offer ${cpc(p25)} or less)`,
      );
      if (ask - p25 > gap) gap = ask - p25;
    }
  }
  if (below.length === 0)
    return {
      id,
      severity: 'ok',
      label: `Your lowest offer is ${cpc(ask)}${prices ? ': no queued job offers less' : ''}`,
      detail: null,
      action: null,
    };
  return {
    id,
    severity: 'problem',
    label: `Offers below your ask of ${cpc(ask)}: ${below.join('; ')}, up to ${cpc(gap)} below`,
    detail: 'Those jobs go to other providers (or wait). Take every offer, or set a lower ask in Settings.',
    action: { kind: 'run', label: 'Take every offer', fix: 'take_every_offer' },
  };
}

function gpuCheck(gpu: GpuCapabilitiesInfo, enabled: boolean): DiagnosticCheck {
  const id = 'gpu';
  if (gpu.hardware_gpu)
    return {
      id,
      severity: 'ok',
      label: `GPU in use: ${gpu.adapter?.description || gpu.adapter?.device || 'hardware adapter'}`,
      detail: null,
      action: null,
    };
  if (!gpu.adapter)
    return {
      id,
      severity: 'info',
      label: 'No GPU: jobs run on the CPU',
      detail: 'Normal on many machines; the CPU takes every job that does not need a GPU.',
      action: null,
    };
  if (gpu.adapter.software || gpu.adapter.isFallbackAdapter)
    return {
      id,
      severity: 'info',
      label: 'Only a software graphics adapter: jobs run on the CPU',
      detail: 'A software adapter is no faster than the CPU hasher, so it is not offered.',
      action: null,
    };
  return {
    id,
    severity: 'info',
    label: enabled ? 'GPU found but not ready yet: jobs run on the CPU' : 'GPU turned off in Settings',
    detail: null,
    action: enabled ? null : open('Turn the GPU on', 'settings', 's-gpu_enabled'),
  };
}

function failuresCheck(failures: DiagnosticsInput['failures']): DiagnosticCheck {
  const id = 'rejections';
  const list = (xs: typeof failures) => xs.map((r) => `${r.code ?? 'no code'} ×${r.count}`).join(', ');
  const refused = failures.filter((f) => f.code === null || !LOST_CODES.has(f.code));
  const lost = failures.filter((f) => f.code !== null && LOST_CODES.has(f.code));
  if (refused.length > 0)
    return {
      id,
      severity: 'problem',
      label: `Results refused by the market in the last hour: ${list(refused)}`,
      detail: "Repeated refusals mean this machine's results do not match the market's re-run.",
      action: open('See refused jobs', 'jobs'),
    };
  if (lost.length > 0)
    return {
      id,
      severity: 'info',
      label: `Jobs lost in the last hour: ${list(lost)}`,
      detail: 'Lost jobs (a disconnect, a stop) go back to the market and are given out again.',
      action: null,
    };
  return { id, severity: 'ok', label: 'No refused or lost jobs in the last hour', detail: null, action: null };
}

function settlementCheck(s: DiagnosticsInput['settlement']): DiagnosticCheck {
  if (s.mode === 'real')
    return { id: 'settlement', severity: 'ok', label: 'Settlement: real', detail: null, action: null };
  return {
    id: 'settlement',
    severity: 'info',
    label: `Settlement: ${s.label}`,
    detail:
      s.mode === 'armed'
        ? 'Receipts are recorded; credits start moving when real mode begins.'
        : 'Receipts are recorded; no credits move in this node’s ledger until you switch to real. Normal while practising.',
    action: open('Open Settlement', 'settlement'),
  };
}

/**
 * Key storage is information either way: a plain 0600 file is how headless mode (and a desktop
 * without a keychain) keeps the key, and no button in the app can add a keychain.
 */
export function keyStorageCheck(state: KeyStorageState, headless: boolean): DiagnosticCheck {
  const id = 'key_storage';
  if (state.mode === 'sealed')
    return {
      id,
      severity: 'ok',
      label: `Provider key sealed by the OS keychain${state.backend ? ` (${state.backend})` : ''}`,
      detail: null,
      action: null,
    };
  if (state.mode === 'none')
    return {
      id,
      severity: 'info',
      label: 'No provider key yet (made when the node first starts)',
      detail: null,
      action: null,
    };
  return {
    id,
    severity: 'info',
    label: `Provider key kept in a file only you can read (identity.pem)${state.backend ? `; the keychain backend is ${state.backend}` : ''}`,
    detail: headless
      ? 'Headless mode has no OS keychain. Keep the data folder private and back it up.'
      : 'No OS keychain is in use. Keep the data folder private, or install GNOME Keyring or KWallet (Linux) so the app can seal the key.',
    action: null,
  };
}

function cpc(micro: bigint): string {
  return `${formatAmount(micro)} CPC`;
}

/**
 * A new provider's probation (docs/verification.md): the market checks all its jobs for its
 * first jobs and holds part of its first earnings as its bond. Normal for every new provider, so
 * an info line, never a problem; nothing is said once both are over.
 */
export function probationCheck(p: WelcomeProbation, practice = false): DiagnosticCheck[] {
  const onProbation = p.verified_jobs < p.probation_jobs;
  const funding = BigInt(p.bond_target) > 0n && BigInt(p.bond_funded) < BigInt(p.bond_target);
  const checked = p.checked_fraction < 1 && p.jobs_until_floor > 0;
  if (!onProbation && !funding && !checked) return [];
  const parts: string[] = [];
  if (onProbation)
    parts.push(`the market checks all your jobs for the first ${p.probation_jobs} jobs (${p.verified_jobs} done)`);
  else if (checked)
    parts.push(
      `the market checks ${Math.round(p.checked_fraction * 100)}% of your jobs, fewer as more pass (${p.jobs_until_floor} more to its usual rate)`,
    );
  if (funding)
    parts.push(
      `part of your first earnings funds your bond (${formatAmount(BigInt(p.bond_funded))} of ${formatAmount(BigInt(p.bond_target))} ${practice ? 'practice credits' : 'CPC'})`,
    );
  const text = parts.join('; ');
  return [
    {
      id: 'probation',
      severity: 'info',
      label: `New provider: ${text}`,
      detail:
        'Every new provider starts this way: checks and the bond make cheating a losing trade. Honest work passes every check and is paid as usual; the bond stays yours while your results are right.',
      action: null,
    },
  ];
}

/** Reads the node once and judges it. */
export function diagnose(node: AppService): DiagnosticsInfo {
  const status = node.status();
  const provider = node.providerStatus();
  const settlement = node.ledger.settlement.status();
  const ask = node.currentAsk();
  const input: DiagnosticsInput = {
    status,
    marketUrl: status.joined ? node.marketUrl() : null,
    instances: status.joined ? node.marketUrls().length : 0,
    practice: status.market?.kind === 'practice' || provider?.practice === true,
    failure: provider?.failure ?? null,
    endpoint: provider?.endpoint ?? null,
    ask: ask ?? null,
    prices: provider?.lastPrices ?? null,
    probation: provider?.probation ?? null,
    gpu: node.gpu(),
    gpuEnabled: node.settings.get().gpu_enabled,
    failures: new ProviderJobsRepo(node.ledger.db).failuresByCode(node.clock.now() - 3_600_000),
    settlement: { mode: settlement.mode, label: settlement.mode_label },
    keyStorage: keyStorageState(node.ledger.dataDir.root),
    headless: node.nodeInfo().headless,
  };
  return { checks: diagnosticChecks(input), data_dir: node.ledger.dataDir.root };
}

/** diagnostics:report and logs:recent. */
export function diagnosticsHandlers(node: AppService): HandlerSet {
  return {
    'diagnostics:report': () => diagnose(node),
    'logs:recent': ({ limit }) => node.logs.recent(limit),
  };
}
