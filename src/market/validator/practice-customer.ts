import type { CustomerService } from '../services/customer-service.js';
import type { TaskService } from '../services/task-service.js';
import { createTaskBody } from '../http/task-schemas.js';
import type { CustomerRecord } from '../store/customers-repo.js';

/** Name of the in-process customer of the embedded practice market. */
export const PRACTICE_CUSTOMER = 'practice-customer';

/** Small tasks of every type, posted in turn. */
const PRACTICE_TASKS = [
  {
    challenge_type: 'inference',
    payload: { model_id: 'practice-model', prompt: 'Write one line about compute markets.', max_tokens: 32 },
    reward: '0.1',
  },
  {
    challenge_type: 'training',
    payload: {
      model_architecture: 'practice-net',
      dataset_url: 'https://example.org/practice-data',
      epochs: 1,
      batch_size: 8,
    },
    reward: '0.2',
  },
  {
    challenge_type: 'rendering',
    payload: { scene_file: 'https://example.org/practice.blend', resolution: '320x240', frames: 4 },
    reward: '0.15',
  },
  { challenge_type: 'synthetic', payload: { matrix_size: 32, iterations: 1 }, reward: '0.05' },
] as const;

export interface PracticeCustomerDeps {
  customers: CustomerService;
  tasks: TaskService;
  /** ms between tasks (default 2000). */
  intervalMs?: number;
  /** Told after each task is posted (give it the validator's `kick`, so the task is split and dispatched at once). */
  onDidPost?: () => void;
  onError?: (err: unknown) => void;
}

/**
 * The practice market's customer: in-process, so it needs no API key (the one exception to
 * bearer authentication, and only on the embedded practice market). Funded automatically;
 * posts one small task of each type in turn at a gentle rate.
 */
export async function startPracticeCustomer(deps: PracticeCustomerDeps): Promise<{ stop(): void; posted(): number }> {
  const existing = (await deps.customers.list()).find((c) => c.name === PRACTICE_CUSTOMER);
  const customer: CustomerRecord = existing ?? (await deps.customers.add(PRACTICE_CUSTOMER)).customer;
  let n = 0;
  const tick = async () => {
    if ((await deps.customers.balance(customer.customerId)) < 10_000_000n)
      await deps.customers.fund(PRACTICE_CUSTOMER, 1_000_000_000n);
    const body = createTaskBody.parse(PRACTICE_TASKS[n % PRACTICE_TASKS.length]);
    await deps.tasks.create(customer, body);
    n++;
    deps.onDidPost?.();
  };
  await tick();
  const timer = setInterval(() => void tick().catch((err: unknown) => deps.onError?.(err)), deps.intervalMs ?? 2000);
  timer.unref();
  return { stop: () => clearInterval(timer), posted: () => n };
}
