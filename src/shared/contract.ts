import { z } from 'zod';
import type { Channel } from './channels.js';
import { GpuAdapterInfoSchema } from './compute/protocol.js';

export { CHANNELS, type Channel } from './channels.js';

/** What the app reports about itself. */
export const AppInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  platform: z.string(),
});
export type AppInfo = z.infer<typeof AppInfoSchema>;

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
  balances: z.array(z.object({ account: z.string(), balance: z.string().regex(/^-?\d+$/) })),
  receipts: z.object({ recorded: z.number().int(), applied: z.number().int(), archived: z.number().int() }),
});
export type SettlementStatusInfo = z.infer<typeof SettlementStatusSchema>;

const U64String = z.string().regex(/^\d{1,20}$/);

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

/**
 * The app contract: every channel a renderer may call, with its argument schema and result
 * type. Main-process handlers, the preload bridge and the renderer client all derive from it.
 */
export const contract = {
  'app:info': { args: z.tuple([]), result: AppInfoSchema },
  'gpu:capabilities': { args: z.tuple([]), result: GpuCapabilitiesSchema },
  'settlement:status': { args: z.tuple([]), result: SettlementStatusSchema },
  'pricing:bands': { args: z.tuple([]), result: PricingBandsSchema },
} as const satisfies Record<Channel, { args: z.ZodType; result: z.ZodType }>;

export type Contract = typeof contract;
export type ChannelArgs<C extends Channel> = z.infer<Contract[C]['args']>;
export type ChannelResult<C extends Channel> = z.infer<Contract[C]['result']>;

/** The API object the preload exposes as `window.tessera`. */
export type TesseraApi = {
  invoke<C extends Channel>(channel: C, ...args: ChannelArgs<C>): Promise<ChannelResult<C>>;
};

/** Errors crossing a boundary: a stable code and a one-line message. */
export interface ContractError {
  code: string;
  message: string;
}

/** Handlers for every channel, as the main process (or the headless bridge) implements them. */
export type ContractHandlers = {
  [C in Channel]: (...args: ChannelArgs<C>) => ChannelResult<C> | Promise<ChannelResult<C>>;
};

/**
 * Validates and runs one contract call: schema-parse the arguments, call the handler,
 * schema-parse the result. Failures become a ContractError with a stable code.
 */
export async function dispatchContractCall(handlers: ContractHandlers, channel: string, args: unknown[]): Promise<{ ok: true; result: unknown } | { ok: false; error: ContractError }> {
  if (!Object.hasOwn(contract, channel)) return { ok: false, error: { code: 'UNKNOWN_CHANNEL', message: `unknown channel "${channel}"` } };
  const c = channel as Channel;
  const parsedArgs = contract[c].args.safeParse(args);
  if (!parsedArgs.success) return { ok: false, error: { code: 'BAD_ARGUMENTS', message: `${c}: ${parsedArgs.error.issues[0]?.message ?? 'invalid arguments'}` } };
  try {
    const handler = handlers[c] as (...a: unknown[]) => unknown;
    const result = await handler(...(parsedArgs.data as unknown[]));
    return { ok: true, result: contract[c].result.parse(result) };
  } catch (err) {
    const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'INTERNAL';
    return { ok: false, error: { code, message: err instanceof Error ? err.message.split('\n')[0] ?? '' : String(err) } };
  }
}
