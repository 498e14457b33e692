import { z } from 'zod';
import type { GpuAdapterInfo } from '../../core/workloads/gpu-adapter.js';

/**
 * Messages between the main process and a GPU compute host (the hidden compute page or the
 * Dawn worker). Both sides parse what they receive with these schemas.
 */

export const GpuAdapterInfoSchema = z.object({
  vendor: z.string(),
  architecture: z.string(),
  device: z.string(),
  description: z.string(),
  isFallbackAdapter: z.boolean(),
  featureLevel: z.enum(['core', 'compatibility']),
}) satisfies z.ZodType<GpuAdapterInfo>;

const id = z.number().int().nonnegative();
const Digest = z.string().regex(/^[0-9a-f]{64}$/);

/** Main → compute host. */
export const ComputeRequestSchema = z.discriminatedUnion('type', [
  /** Acquire an adapter and device and compile the kernel (again, if one is already running). */
  z.object({ type: z.literal('init'), maxSegmentBytes: z.number().int().positive().optional() }),
  /** BLAKE3 of `data`; with `key` (32 bytes) also keyed BLAKE3 under it, in the same pass. */
  z.object({
    type: z.literal('hash'),
    id,
    data: z.instanceof(Uint8Array),
    key: z
      .instanceof(Uint8Array)
      .refine((k) => k.length === 32, 'key must be 32 bytes')
      .optional(),
  }),
  /** Release the device; the host answers with `lost` (reason `destroyed`). */
  z.object({ type: z.literal('drop-device') }),
]);
export type ComputeRequest = z.infer<typeof ComputeRequestSchema>;

/** Why a hash request failed. */
export const ComputeFailureCodeSchema = z.enum(['DEVICE_LOST', 'KERNEL_ERROR', 'NOT_READY', 'BAD_REQUEST']);

/** Compute host → main. */
export const ComputeReplySchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), adapter: GpuAdapterInfoSchema, segmentBytes: z.number().int().positive() }),
  z.object({ type: z.literal('no-adapter'), message: z.string() }),
  /** `keyed` is present exactly when the request had a key. */
  z.object({ type: z.literal('hashed'), id, digest: Digest, keyed: Digest.optional() }),
  z.object({ type: z.literal('failed'), id: id.nullable(), code: ComputeFailureCodeSchema, message: z.string() }),
  /** The device was lost (or dropped on request); nothing runs until the next `init`. */
  z.object({ type: z.literal('lost'), reason: z.string(), message: z.string() }),
]);
export type ComputeReply = z.infer<typeof ComputeReplySchema>;
