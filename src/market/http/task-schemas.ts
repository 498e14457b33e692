import { z } from 'zod';
import { AmountError, parseAmount } from '../../core/market/amount.js';
import { MAX_MATRIX_SIZE } from '../../core/workloads/synthetic.js';
import { CHALLENGE_TYPES, PUBLIC_STATUSES, TASK_VERIFICATIONS } from '../store/tasks-repo.js';

/**
 * Request schemas of the task API (document 002's fields). One schema validates and types each
 * route through fastify-type-provider-zod; unknown fields are refused so a typo names itself.
 */

/**
 * A string of at most `max` characters (JavaScript string length: UTF-16 code units, so a
 * character outside the BMP counts 2). Each check has its own message: a schema-level `error`
 * would also answer a too-long string with "must be a string".
 */
const boundedString = (max: number, o: { nonEmpty?: boolean } = {}) => {
  const s = z.string({ error: 'must be a string' });
  return (o.nonEmpty ? s.min(1, 'must not be empty') : s).max(max, {
    error: (iss) =>
      `is too long: ${typeof iss.input === 'string' ? `${iss.input.length} characters` : 'too many characters'}, the limit is ${max}`,
  });
};
const httpUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .max(2048, { error: (iss) => `is too long: ${String((iss.input as string).length)} characters, the limit is 2048` });
const count = (max: number) =>
  z
    .int({ error: `must be an integer from 1 to ${max}` })
    .min(1, `must be at least 1`)
    .max(max, `must be at most ${max}`);

/** Fields every payload may carry: the hardware it needs and its fee lane. */
const common = {
  gpu_required: z.boolean({ error: 'must be true or false' }).optional(),
  lane: z.enum(['consumer', 'industrial'], { error: 'must be "consumer" or "industrial"' }).optional(),
};

export const PAYLOAD_SCHEMAS = {
  inference: z.strictObject({
    model_id: boundedString(200, { nonEmpty: true }),
    prompt: boundedString(100_000),
    max_tokens: count(1_000_000),
    temperature: z.number({ error: 'must be a number from 0 to 2' }).min(0).max(2).optional(),
    ...common,
  }),
  training: z.strictObject({
    model_architecture: boundedString(200, { nonEmpty: true }),
    dataset_url: httpUrl,
    epochs: count(10_000),
    batch_size: count(65_536),
    ...common,
  }),
  rendering: z.strictObject({
    scene_file: httpUrl,
    resolution: z
      .string({ error: 'must be WIDTHxHEIGHT, e.g. "1920x1080"' })
      .regex(/^[1-9]\d{0,4}x[1-9]\d{0,4}$/, 'must be WIDTHxHEIGHT, e.g. "1920x1080"'),
    frames: count(100_000),
    ...common,
  }),
  synthetic: z.strictObject({
    /** Informational: the market draws the workload seed from its batch beacon and the worker address. */
    seed: z
      .string({ error: 'must be a hex string' })
      .regex(/^[0-9a-fA-F]{1,64}$/, 'must be 1 to 64 hex digits')
      .optional(),
    matrix_size: count(MAX_MATRIX_SIZE),
    iterations: count(10_000),
    ...common,
  }),
} as const;

/** A decimal CPC string parsed to micro-CPC; field-level errors name `reward`. */
const reward = z.string({ error: 'must be a decimal CPC string such as "10.0"' }).transform((text, ctx) => {
  try {
    const micro = parseAmount(text, 'reward');
    if (micro === 0n)
      ctx.addIssue({ code: 'custom', message: 'must be more than 0 (the smallest amount is "0.000001")' });
    return micro;
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: err instanceof AmountError ? err.message.replace(/^reward: /, '') : 'is not an amount',
    });
    return z.NEVER;
  }
});

const base = {
  reward,
  /** Unix seconds. */
  deadline: z.int({ error: 'must be a Unix time in whole seconds' }).min(1).max(100_000_000_000).optional(),
  /** "payload" (default): the canonical payload bytes are the input; "slices": upload slices, then submit. */
  input: z.enum(['payload', 'slices'], { error: 'must be "payload" or "slices"' }).default('payload'),
  /** How the result is checked (docs/market-api.md, "Verification"): "sampled" (default), "all" or "two_providers", priced. */
  verification: z.enum(TASK_VERIFICATIONS, { error: 'must be "sampled", "all" or "two_providers"' }).default('sampled'),
};

export const createTaskBody = z.discriminatedUnion(
  'challenge_type',
  CHALLENGE_TYPES.map((t) =>
    z.strictObject({ challenge_type: z.literal(t), payload: PAYLOAD_SCHEMAS[t], ...base }),
  ) as unknown as [
    z.ZodObject<
      { challenge_type: z.ZodLiteral<'inference'>; payload: (typeof PAYLOAD_SCHEMAS)['inference'] } & typeof base,
      z.core.$strict
    >,
    z.ZodObject<
      { challenge_type: z.ZodLiteral<'training'>; payload: (typeof PAYLOAD_SCHEMAS)['training'] } & typeof base,
      z.core.$strict
    >,
    z.ZodObject<
      { challenge_type: z.ZodLiteral<'rendering'>; payload: (typeof PAYLOAD_SCHEMAS)['rendering'] } & typeof base,
      z.core.$strict
    >,
    z.ZodObject<
      { challenge_type: z.ZodLiteral<'synthetic'>; payload: (typeof PAYLOAD_SCHEMAS)['synthetic'] } & typeof base,
      z.core.$strict
    >,
  ],
  { error: `must be one of ${CHALLENGE_TYPES.join(', ')}` },
);
export type CreateTaskBody = z.output<typeof createTaskBody>;

/** Page size cap of GET /tasks: a larger `limit` is served as this many. */
export const MAX_LIST_LIMIT = 100;
export const DEFAULT_LIST_LIMIT = 20;

const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, `must be a whole number from ${min}`)
    .transform(Number)
    .refine((n) => n >= min, `must be at least ${min}`)
    .transform((n) => Math.min(n, max));

export const listTasksQuery = z.strictObject({
  status: z.enum(PUBLIC_STATUSES, { error: `must be one of ${PUBLIC_STATUSES.join(', ')}` }).optional(),
  challenge_type: z.enum(CHALLENGE_TYPES, { error: `must be one of ${CHALLENGE_TYPES.join(', ')}` }).optional(),
  limit: queryInt(1, MAX_LIST_LIMIT).default(DEFAULT_LIST_LIMIT),
  offset: queryInt(0, 1_000_000_000).default(0),
});

export const taskParams = z.strictObject({ task_id: z.uuid({ error: 'must be a task UUID' }) });
export const sliceParams = z.strictObject({
  task_id: z.uuid({ error: 'must be a task UUID' }),
  n: z
    .string()
    .regex(/^(0|[1-9]\d{0,5})$/, 'must be a slice number 0, 1, 2, …')
    .transform(Number),
});
