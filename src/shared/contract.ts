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

/**
 * The app contract: every channel a renderer may call, with its argument schema and result
 * type. Main-process handlers, the preload bridge and the renderer client all derive from it.
 */
export const contract = {
  'app:info': { args: z.tuple([]), result: AppInfoSchema },
  'gpu:capabilities': { args: z.tuple([]), result: GpuCapabilitiesSchema },
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
