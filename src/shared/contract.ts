import { z } from 'zod';
import type { Channel, EventName } from './channels.js';
import { GpuAdapterInfoSchema } from './compute/protocol.js';
import { MAX_COURIER_BUNDLE_BYTES } from './courier-protocol.js';
import { MAX_MARKET_URLS, parseMarketUrls } from './market-urls.js';

export { CHANNELS, EVENTS, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type Channel, type EventName } from './channels.js';

const U64String = z.string().regex(/^\d{1,20}$/);
const I64String = z.string().regex(/^-?\d{1,20}$/);
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

/** What the app reports about itself. */
export const AppInfoSchema = z.object({ name: z.string(), version: z.string(), platform: z.string() });
export type AppInfo = z.infer<typeof AppInfoSchema>;

/** The machine and the node's data folder, as the Join and Settings screens show them. */
export const NodeInfoSchema = z.object({
  cpu_model: z.string(),
  cpu_threads: z.number().int().positive(),
  platform: z.string(),
  data_dir: z.string(),
  /** True when the UI is served by `tessera headless` (no desktop window). */
  headless: z.boolean(),
});
export type NodeInfo = z.infer<typeof NodeInfoSchema>;

/** The node's GPU as the UI shows it and a provider announces it (see core/workloads/gpu-adapter.ts). */
export const GpuCapabilitiesSchema = z.object({
  hardware_gpu: z.boolean(),
  adapter: GpuAdapterInfoSchema.extend({ software: z.boolean() }).nullable(),
});
export type GpuCapabilitiesInfo = z.infer<typeof GpuCapabilitiesSchema>;

/** Settlement mode and balances (credits as decimal strings: they are 64-bit integers). */
export const SettlementStatusSchema = z.object({
  mode: z.enum(['dry_run', 'armed', 'real']),
  mode_label: z.string(),
  activate_at: z.number().nullable(),
  balances: z.array(z.object({ account: z.string(), balance: I64String })),
  receipts: z.object({ recorded: z.number().int(), applied: z.number().int(), archived: z.number().int() }),
});
export type SettlementStatusInfo = z.infer<typeof SettlementStatusSchema>;

/** Price bands and the suggested ask per lane (u64 prices as decimal strings), and the admission mode. */
export const PricingBandsSchema = z.object({
  admission_mode: z.enum(['loose', 'tight']),
  lanes: z.array(
    z.object({
      lane: z.enum(['consumer', 'industrial']),
      count: z.number().int().nonnegative(),
      p25: U64String.nullable(),
      median: U64String.nullable(),
      p75: U64String.nullable(),
      suggested_bid: U64String.nullable(),
    }),
  ),
});
export type PricingBandsInfo = z.infer<typeof PricingBandsSchema>;

/** The bands with the ask this node announces now (micro-CPC; null while not providing). */
export const PricingInfoSchema = PricingBandsSchema.extend({ ask: U64String.nullable() });
export type PricingInfo = z.infer<typeof PricingInfoSchema>;

/**
 * A market's address: one URL, or the URLs of several instances of the same market (tried in
 * order, the node fails over among them). Checked by parseMarketUrls, the parser `--market` uses.
 */
export const MarketUrlsSchema = z
  .union([z.string().max(2048), z.array(z.string().max(2048)).min(1).max(MAX_MARKET_URLS)])
  .superRefine((value, ctx) => {
    try {
      parseMarketUrls(value, 'market URL');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
    }
  });

/** Where the node provides: the in-process practice market or a market by its URL(s). */
export const MarketTargetSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('practice') }),
  z.object({ kind: z.literal('url'), url: MarketUrlsSchema }),
]);
export type MarketTarget = z.infer<typeof MarketTargetSchema>;

/**
 * Where the node is on its way to earning: `idle` (not joined, not joining), `starting_practice`
 * (the practice market it joins is starting: its store, then its server), `connecting` (joined;
 * connecting or signing in to the market, also after a restart or a lost connection), `joined`
 * (connected, or paused by choice).
 */
export const StartupPhaseSchema = z.enum(['idle', 'starting_practice', 'connecting', 'joined']);
export type StartupPhase = z.infer<typeof StartupPhaseSchema>;

/** The startup phase with what is being done now and how far (where known). */
export const StartupInfoSchema = z.object({
  phase: StartupPhaseSchema,
  /** What is being done now, in words ("Setting up the practice market's store"); null when idle or joined. */
  step: z.string().nullable(),
  /** Share of the phase done (0…1) where it is known, else null. */
  progress: z.number().min(0).max(1).nullable(),
  /** When the phase began (ms since epoch). */
  since: z.number(),
});
export type StartupInfo = z.infer<typeof StartupInfoSchema>;

/** The node as the status bar, the tray and the dashboard show it. */
export const NodeStatusSchema = z.object({
  joined: z.boolean(),
  market: MarketTargetSchema.nullable(),
  state: z.enum(['idle', 'connecting', 'authenticating', 'connected', 'disconnected', 'closed']),
  paused: z.boolean(),
  /** Why the node is paused (user, idle-only, battery, schedule); null when not paused. */
  pause_reason: z.string().nullable(),
  address: z.string(),
  market_id: z.string().nullable(),
  jobs_done: z.number().int().nonnegative(),
  jobs_rejected: z.number().int().nonnegative(),
  running: z.number().int().nonnegative(),
  credits_today: U64String,
  last_error: z.string().nullable(),
  /**
   * The market instance the node is connected to, or trying, now: one of the market's URLs, with
   * the address when its host name has several ("http://m.example:8080 (10.0.0.2)"); null: none yet.
   */
  endpoint: z.string().nullable().optional(),
  /**
   * Where the node is on its way to earning (the UI shows it instead of "Not joined" while it
   * starts). AppService always sets it; absent means a status from before startup phases (idle).
   */
  startup: StartupInfoSchema.optional(),
});
export type NodeStatusInfo = z.infer<typeof NodeStatusSchema>;

export const JobStatusSchema = z.enum(['running', 'submitted', 'accepted', 'rejected', 'lost']);

/** One row of the job history. */
export const JobRowSchema = z.object({
  market_id: z.string(),
  task_id: z.string(),
  job_id: z.string(),
  workload: z.string(),
  bytes: z.number().int().nonnegative(),
  proof: z.string().nullable(),
  backend: z.string().nullable(),
  duration_ms: z.number().nullable(),
  status: JobStatusSchema,
  code: z.string().nullable(),
  /** micro-CPC the market paid (its receipt); "0" until paid. */
  credits: U64String,
  /** What the market offered for the job (micro-CPC; not earned until paid); null for jobs from before offers were kept. */
  offer: U64String.nullable(),
  /** A receipt was recorded for it (paid), and whether the node's ledger applied it (settled). */
  paid: z.boolean(),
  settled: z.boolean(),
  started_at: z.number(),
  finished_at: z.number().nullable(),
});
export type JobRow = z.infer<typeof JobRowSchema>;

export const JobsQuerySchema = z
  .object({
    /** Rows before this cursor (the `next` of the previous page). */
    cursor: z.string().max(200).optional(),
    limit: z.number().int().min(1).max(1000).default(100),
    status: JobStatusSchema.optional(),
    workload: z.string().max(200).optional(),
    since: z.number().int().nonnegative().optional(),
  })
  .strict();
export type JobsQuery = z.input<typeof JobsQuerySchema>;
export const JobsPageSchema = z.object({
  rows: z.array(JobRowSchema),
  next: z.string().nullable(),
  total: z.number().int().nonnegative(),
});
export type JobsPage = z.infer<typeof JobsPageSchema>;

/** A count of receipts and what they paid (micro-CPC). */
const PaidSchema = z.object({ receipts: z.number().int().nonnegative(), paid: U64String });
/** Jobs not yet paid and what the market offered for them (micro-CPC): not earned yet. */
const OnTheWaySchema = z.object({ jobs: z.number().int().nonnegative(), offered: U64String });

/**
 * The provider's earnings at one market (docs/earnings.md): every figure comes from the same
 * receipts and job rows, with one day boundary (UTC). `headline.paid` is what the node earned
 * there; `settled + awaiting_settlement = paid` exactly; today ⊂ last 7 days ⊂ all time.
 */
export const EarningsSummarySchema = z.object({
  /** The market these figures are for (the one joined now, else the newest in the history); null: no history. */
  market_id: z.string().nullable(),
  /** True for the practice market: its credits are practice credits, not money. */
  practice: z.boolean(),
  day_boundary: z.literal('UTC'),
  /** Start of today (UTC midnight, ms) on the node's clock. */
  today_start: z.number().int(),
  headline: z.object({
    /** Paid by the market (receipts), all time: what the provider earned. */
    paid: U64String,
    receipts: z.number().int().nonnegative(),
    /** The part of `paid` the node's ledger applied (real settlement). */
    settled: U64String,
    settled_receipts: z.number().int().nonnegative(),
    /** paid − settled: receipts recorded while settlement was dry-run. */
    awaiting_settlement: U64String,
    awaiting_receipts: z.number().int().nonnegative(),
  }),
  periods: z.object({ today: PaidSchema, last_7d: PaidSchema, all: PaidSchema }),
  /** Not earned yet: results the market verified but has not paid, and results awaiting its verdict. */
  on_the_way: z.object({
    verified: OnTheWaySchema,
    pending: OnTheWaySchema,
    running: z.number().int().nonnegative(),
  }),
  /** Jobs that will not be paid: rejected results and lost jobs (all time, this market). */
  not_paid: z.object({ rejected: z.number().int().nonnegative(), lost: z.number().int().nonnegative() }),
  /** Per UTC day, the last `days` days oldest first, today last, days without receipts as zeros. */
  days: z.array(z.object({ day: Day, receipts: z.number().int().nonnegative(), paid: U64String, settled: U64String })),
  /** Mean size (bytes), run time (ms) and offer (micro-CPC) of this node's recent finished jobs, for the estimate; nulls: none yet. */
  recent_jobs: z.object({
    bytes: z.number().nonnegative().nullable(),
    ms: z.number().nonnegative().nullable(),
    offer: U64String.nullable(),
    /** Jobs that reached this node per hour over the last hour (null with fewer than 3). */
    arrivals_per_hour: z.number().nonnegative().nullable(),
  }),
});
export type EarningsSummary = z.infer<typeof EarningsSummarySchema>;

/**
 * What the market's balance endpoint says this node's account there holds, against the sum of
 * the receipts the node holds from that market, and why they differ.
 */
export const MarketReconciliationSchema = z.object({
  market_id: z.string().nullable(),
  practice: z.boolean(),
  address: z.string(),
  /** Sum of this node's receipts from the market (micro-CPC) and how many. */
  receipts_total: U64String,
  receipts: z.number().int().nonnegative(),
  /** The market's `GET /balances/{address}` answer (micro-CPC); null when not asked or unreachable. */
  market_balance: U64String.nullable(),
  /** market_balance − receipts_total; null when the market was not read. */
  difference: I64String.nullable(),
  /**
   * matched; market_more (receipts still on their way); market_less (the market paid less than
   * its receipts say: a problem); unreachable; not_joined (no market to ask).
   */
  status: z.enum(['matched', 'market_more', 'market_less', 'unreachable', 'not_joined']),
  /** True when the provider should act (the market under-pays). */
  problem: z.boolean(),
  /** One line: what the comparison found and why. */
  explanation: z.string(),
  checked_at: z.number().int(),
});
export type MarketReconciliationInfo = z.infer<typeof MarketReconciliationSchema>;

export const CourierRowSchema = z.object({
  id: z.string(),
  bundle_hash: z.string(),
  bytes: z.number().int().nonnegative(),
  sender: z.string(),
  created_at: z.number(),
  status: z.string(),
  attempts: z.number().int().nonnegative(),
  last_error: z.string().nullable(),
  reward: U64String.nullable(),
});
export const CourierListSchema = z.object({
  rows: z.array(CourierRowSchema),
  counts: z.record(z.string(), z.number().int()),
});
export type CourierListInfo = z.infer<typeof CourierListSchema>;

/** A courier flush's outcome (credits as decimal strings). */
export const FlushSummarySchema = z.object({
  pending_before: z.number().int(),
  accepted: z.number().int(),
  duplicate: z.number().int(),
  rejected: z.number().int(),
  reward: U64String,
  reward_pending: U64String,
  unanswered: z.number().int(),
  held_back: z.number().int(),
  failed: z.number().int(),
  attempts: z.number().int(),
  error: z.string().optional(),
  pending_after: z.number().int(),
});
export type FlushSummaryInfo = z.infer<typeof FlushSummarySchema>;

export const BenchmarkSchema = z.object({
  cpu_mbps: z.number().nonnegative(),
  gpu_mbps: z.number().nonnegative().nullable(),
  bytes: z.number().int().positive(),
});
export type BenchmarkInfo = z.infer<typeof BenchmarkSchema>;

const settingsFields = {
  /** The market to join: one URL, or (an array) several instances of it; null: none. */
  market_url: MarketUrlsSchema.nullable(),
  threads: z.number().int().min(1).max(1024).nullable(),
  gpu_enabled: z.boolean(),
  idle_only: z.boolean(),
  pause_on_battery: z.boolean(),
  /** Hours (0–23, local time) when providing is allowed; empty: always. */
  schedule_hours: z.array(z.number().int().min(0).max(23)).max(24),
  /** The lowest offer per job this node takes (micro-CPC), raised and lowered only by the user; null: every offer. */
  ask: U64String.nullable(),
  /** Days (0 Sunday – 6 Saturday, local time) when the schedule's hours apply; empty: every day. A window over midnight belongs to the day it starts on. */
  schedule_days: z.array(z.number().int().min(0).max(6)).max(7),
  /** Providing is paused until this time (ms since the epoch; "pause for 1 hour"); null: no such pause. */
  paused_until: z.number().int().nonnegative().nullable(),
  /** Desktop / browser notifications (stopped earning, an error, a settlement done); opt-in. */
  notifications: z.boolean(),
  close_to_tray: z.boolean(),
  start_on_login: z.boolean(),
};

/** Every user setting. Stored behind the SettingsStore interface; `parseSettings` fills in defaults. */
export const SettingsSchema = z.object(settingsFields).strict();
export type Settings = z.infer<typeof SettingsSchema>;

/** A change to some settings: only the keys given (no defaults, so a patch never resets the others). */
export const SettingsPatchSchema = z.object(settingsFields).partial().strict();

export const DEFAULT_SETTINGS: Settings = {
  market_url: null,
  threads: null,
  gpu_enabled: true,
  idle_only: false,
  pause_on_battery: true,
  schedule_hours: [],
  ask: null,
  schedule_days: [],
  paused_until: null,
  notifications: false,
  close_to_tray: true,
  start_on_login: false,
};

/** Stored settings (possibly from an older version, missing keys) with the defaults filled in. */
export function parseSettings(raw: unknown): ReturnType<typeof SettingsSchema.safeParse> {
  return SettingsSchema.safeParse(raw !== null && typeof raw === 'object' ? { ...DEFAULT_SETTINGS, ...raw } : raw);
}

/**
 * What a Diagnostics line's button does: open a screen (and focus one of its fields, by element
 * id), or run the fix itself (resume providing; clear the ask so every offer is taken).
 */
export const DiagnosticActionSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('open'),
    label: z.string(),
    screen: z.enum(['dashboard', 'join', 'jobs', 'settlement', 'settings', 'logs']),
    field: z.string().nullable(),
  }),
  z.object({ kind: z.literal('run'), label: z.string(), fix: z.enum(['resume', 'take_every_offer']) }),
]);
export type DiagnosticAction = z.infer<typeof DiagnosticActionSchema>;

/**
 * One Diagnostics line. `problem`: the user must act and can (red, always with an action);
 * `info`: a normal state said as information (no GPU, practice, paused by the schedule); `ok`.
 */
export const DiagnosticCheckSchema = z.object({
  id: z.string(),
  severity: z.enum(['ok', 'info', 'problem']),
  label: z.string(),
  /** What to do (problem) or what it means (info); null when the label says it all. */
  detail: z.string().nullable(),
  action: DiagnosticActionSchema.nullable(),
});
export type DiagnosticCheck = z.infer<typeof DiagnosticCheckSchema>;

export const DiagnosticsSchema = z.object({
  checks: z.array(DiagnosticCheckSchema),
  data_dir: z.string(),
});
export type DiagnosticsInfo = z.infer<typeof DiagnosticsSchema>;

export const LogLineSchema = z.object({
  time: z.number(),
  level: z.enum(['debug', 'info', 'warn', 'error']),
  msg: z.string(),
  module: z.string().nullable(),
  fields: z.record(z.string(), z.unknown()),
});
export type LogLine = z.infer<typeof LogLineSchema>;

const none = z.tuple([]);

/** Base64 length of the largest bundle a page may send (MAX_COURIER_BUNDLE_BYTES bytes). */
export const MAX_COURIER_SEND_BASE64 = 4 * Math.ceil(MAX_COURIER_BUNDLE_BYTES / 3);

/** The largest call frame the contract carries (a courier:send of the largest bundle, plus its fields). */
export const MAX_CONTRACT_FRAME_BYTES = MAX_COURIER_SEND_BASE64 + (64 << 10);

/**
 * courier:send carries the bundle's bytes — a file the user picked in a native dialog (desktop)
 * or uploaded (headless) — and its name for display, never a path: a page (or a compromised
 * renderer) must not be able to make the node read a file of its choosing. The node applies
 * its own `courier_max_bundle_bytes` after decoding. `tessera courier send PATH` reads a path
 * the user typed, through the courier service, not through this contract.
 */
export const CourierSendSchema = z
  .object({
    name: z.string().min(1).max(255),
    data_base64: z
      .string()
      .max(MAX_COURIER_SEND_BASE64, `a bundle can be at most ${MAX_COURIER_BUNDLE_BYTES} bytes`)
      .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
      .refine((s) => s.length % 4 === 0, 'must be padded base64'),
    sender: z.string().min(1).max(200),
  })
  .strict();

/**
 * The app contract: every channel a UI may call, with its argument schema and result schema.
 * Main-process handlers, the preload bridge and both UI clients all derive from it.
 */
export const contract = {
  'app:info': { args: none, result: AppInfoSchema },
  'node:info': { args: none, result: NodeInfoSchema },
  'node:status': { args: none, result: NodeStatusSchema },
  'node:join': { args: z.tuple([MarketTargetSchema]), result: NodeStatusSchema },
  'node:leave': { args: none, result: NodeStatusSchema },
  'node:pause': { args: none, result: NodeStatusSchema },
  'node:resume': { args: none, result: NodeStatusSchema },
  'jobs:list': { args: z.tuple([JobsQuerySchema]), result: JobsPageSchema },
  'jobs:workloads': { args: none, result: z.array(z.string()).max(1000) },
  'earnings:summary': {
    args: z.tuple([z.object({ days: z.number().int().min(1).max(3650).default(30) }).strict()]),
    result: EarningsSummarySchema,
  },
  'earnings:reconciliation': { args: none, result: MarketReconciliationSchema },
  'settlement:status': { args: none, result: SettlementStatusSchema },
  'settlement:set-mode': { args: z.tuple([z.enum(['dry_run', 'real'])]), result: SettlementStatusSchema },
  'courier:list': {
    args: z.tuple([
      z
        .object({ pending_only: z.boolean().default(false), limit: z.number().int().min(1).max(10_000).default(500) })
        .strict(),
    ]),
    result: CourierListSchema,
  },
  'courier:send': { args: z.tuple([CourierSendSchema]), result: CourierRowSchema },
  'courier:flush': { args: none, result: FlushSummarySchema },
  'pricing:bands': { args: none, result: PricingInfoSchema },
  'gpu:capabilities': { args: none, result: GpuCapabilitiesSchema },
  'gpu:benchmark': { args: none, result: BenchmarkSchema },
  'settings:get': { args: none, result: SettingsSchema },
  'settings:set': { args: z.tuple([SettingsPatchSchema]), result: SettingsSchema },
  'diagnostics:report': { args: none, result: DiagnosticsSchema },
  'logs:recent': {
    args: z.tuple([z.object({ limit: z.number().int().min(1).max(5000).default(200) }).strict()]),
    result: z.array(LogLineSchema),
  },
} as const satisfies Record<Channel, { args: z.ZodType; result: z.ZodType }>;

/** Server → UI pushes, each with its payload schema. */
export const events = {
  'node:status': NodeStatusSchema,
  'job:progress': z.object({ job_id: z.string(), done: z.number().nonnegative(), total: z.number().positive() }),
  'job:finished': JobRowSchema,
  'earnings:changed': z.object({ credits_today: U64String }),
  'courier:flush-progress': z.object({ done: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  'gpu:capabilities-changed': GpuCapabilitiesSchema,
  'log:line': LogLineSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type Contract = typeof contract;
export type ChannelArgs<C extends Channel> = z.input<Contract[C]['args']>;
export type ChannelParsedArgs<C extends Channel> = z.output<Contract[C]['args']>;
export type ChannelResult<C extends Channel> = z.infer<Contract[C]['result']>;
export type EventPayload<E extends EventName> = z.infer<(typeof events)[E]>;

/**
 * Error codes that cross the boundary to a UI. Any other failure is reported as INTERNAL
 * (and logged with its stack on the node side).
 */
export const PUBLIC_ERROR_CODES = [
  'INTERNAL',
  'UNKNOWN_CHANNEL',
  'BAD_ARGUMENTS',
  'BAD_FRAME',
  'UNTRUSTED_SENDER',
  'TRANSPORT_CLOSED',
  'NOT_JOINED',
  'ALREADY_JOINED',
  'PRACTICE_UNAVAILABLE',
  'BAD_SETTINGS',
  'BAD_MARKET_URL',
  'MARKET_UNREACHABLE',
  'NO_GPU',
  'SETTLEMENT',
  'COURIER_RETRY',
  'BUNDLE',
  'FILE_NOT_REGULAR',
  'FILE_UNREADABLE',
  'FILE_TOO_LARGE',
  'RECEIPT_INVALID',
  'RECEIPT_CONFLICT',
  'LEDGER_OVERFLOW',
  'INVALID_AMOUNT',
  // Storage problems a person must act on (StorageError in src/main/db/errors.ts): the UI shows the code and its one-line advice.
  'DB_DAMAGED',
  'DB_FOREIGN',
  'DB_LOCKED',
  'DB_PERMISSION',
  'DB_IO',
  'DB_FULL',
  'DISK_FULL',
  'DB_READONLY',
  'DB_UNREADABLE',
  'DB_TOO_NEW',
  'DB_OUTDATED',
  'MIGRATION_EDITED',
  'DATA_DIR',
  'NO_DATA_DIR',
  'LEDGER_MISSING',
] as const;
export type PublicErrorCode = (typeof PUBLIC_ERROR_CODES)[number];
const publicCodes = new Set<string>(PUBLIC_ERROR_CODES);

/** Errors crossing a boundary: a stable code and a one-line message. */
export interface ContractError {
  code: PublicErrorCode;
  message: string;
}

/** The result envelope every transport answers a call with. */
export type CallEnvelope<T = unknown> = { ok: true; result: T } | { ok: false; error: ContractError };
export const CallEnvelopeSchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) }),
]);

/** A failed contract call on the UI side: keeps the stable code. */
export class ContractCallError extends Error {
  constructor(
    readonly code: PublicErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ContractCallError';
  }
}

/** Turns a received envelope into the result, or throws ContractCallError with its code (unknown codes read as INTERNAL). */
export function unwrapEnvelope<T>(raw: unknown): T {
  const env = CallEnvelopeSchema.safeParse(raw);
  if (!env.success) throw new ContractCallError('BAD_FRAME', 'the node answered with a malformed envelope');
  if (env.data.ok) return env.data.result as T;
  const code = publicCodes.has(env.data.error.code) ? (env.data.error.code as PublicErrorCode) : 'INTERNAL';
  throw new ContractCallError(code, env.data.error.message);
}

/** Handlers for every channel, as the node implements them (arguments already parsed). */
export type ContractHandlers = {
  [C in Channel]: (...args: ChannelParsedArgs<C>) => ChannelResult<C> | Promise<ChannelResult<C>>;
};

/** The API object the preload exposes as `window.tessera` (and the WebSocket client implements). */
export interface TesseraApi {
  call<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/**
 * What the preload exposes as `window.tessera`: the contract's two verbs, with `call` answering the
 * main process's envelope as it is. Errors thrown across contextBridge lose every property but the
 * message, so the envelope crosses instead and `bridgeApi` decodes it on the renderer's side.
 */
export interface TesseraBridge {
  call(channel: Channel, args: unknown[]): Promise<unknown>;
  on(event: EventName, listener: (payload: unknown) => void): () => void;
}

/** The renderer's TesseraApi over the preload's bridge: an IPC failure throws the same ContractCallError (code + message) as the WebSocket client. */
export function bridgeApi(bridge: TesseraBridge): TesseraApi {
  return {
    async call<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>> {
      return unwrapEnvelope<ChannelResult<C>>(await bridge.call(channel, args));
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
      return bridge.on(event, listener as (payload: unknown) => void);
    },
  };
}

/** Maps any thrown value to a public error: a declared code passes with its first message line; anything else is INTERNAL. */
export function toContractError(err: unknown, onInternal?: (err: unknown) => void): ContractError {
  const code =
    typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : undefined;
  if (code !== undefined && publicCodes.has(code) && code !== 'INTERNAL' && err instanceof Error)
    return { code: code as PublicErrorCode, message: err.message.split('\n')[0] ?? '' };
  onInternal?.(err);
  return { code: 'INTERNAL', message: 'internal error in the Tessera node (details are in its log)' };
}

/** Options for `dispatchContractCall`. */
export interface DispatchOptions {
  /** Sees every failure that became INTERNAL (log it with its stack). */
  onInternal?: (err: unknown, channel: string) => void;
}

/**
 * Validates and runs one contract call: schema-parse the arguments, call the handler,
 * schema-parse the result. Every outcome is an envelope; failures carry a public code.
 */
export async function dispatchContractCall(
  handlers: ContractHandlers,
  channel: unknown,
  args: unknown,
  options: DispatchOptions = {},
): Promise<CallEnvelope> {
  if (typeof channel !== 'string' || !Object.hasOwn(contract, channel))
    return {
      ok: false,
      error: { code: 'UNKNOWN_CHANNEL', message: `unknown channel "${String(channel).slice(0, 80)}"` },
    };
  const c = channel as Channel;
  const parsedArgs = contract[c].args.safeParse(args);
  if (!parsedArgs.success) {
    const issue = parsedArgs.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    return {
      ok: false,
      error: { code: 'BAD_ARGUMENTS', message: `${c}: ${issue?.message ?? 'invalid arguments'}${where}` },
    };
  }
  try {
    const handler = handlers[c] as (...a: unknown[]) => unknown;
    const result = await handler(...(parsedArgs.data as unknown[]));
    return { ok: true, result: contract[c].result.parse(result) };
  } catch (err) {
    return { ok: false, error: toContractError(err, (e) => options.onInternal?.(e, c)) };
  }
}
