import { basename, dirname, join, resolve } from 'node:path';
import { createLogger, silentLogger } from '../../main/log.js';
import { loadBlake3, nodeSha256 } from '../../main/hash/node-hasher.js';
import { startProviderNode } from '../../main/services/provider-service.js';
import { createMarketServer } from '../../market/market-server.js';
import { openMarketStore } from '../../market/store/market-store.js';
import { attachValidator } from '../../market/validator/attach.js';
import { startPracticeCustomer } from '../../market/validator/practice-customer.js';
import { defineCommand } from '../command-spec.js';
import { parsePositiveInt } from '../errors.js';
import type { CliIo } from '../io.js';
import { runUntilSignal } from './provide.js';

export const DEFAULT_PRACTICE_DIR = 'practice-data';

export const practiceSpec = defineCommand({
  name: 'practice',
  summary: 'a local PRACTICE market with a practice customer and provider node(s), to see jobs, proofs and earnings in seconds',
  options: {
    providers: { type: 'string', valueName: 'N', description: 'provider nodes to run (default 1)' },
    'data-dir': { type: 'string', valueName: 'DIR', description: `the (first) provider's data directory, as for tessera provide (default ./${DEFAULT_PRACTICE_DIR}); the practice market lives beside it in DIR-market` },
  },
  notes: [
    'Everything runs in this process on 127.0.0.1: a market on the embedded store, a customer that posts small tasks of every type every 2 s (funded automatically; in-process, so it needs no API key), and the provider node(s).',
    'It is a practice market: the credits are local and not real. `tessera earnings --data-dir DIR` reads the provider while it runs.',
  ],
});

const clock = { now: () => Date.now() };

/** `tessera practice`: market + practice customer + provider node(s) in one process. */
export async function practiceCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = practiceSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const count = parsePositiveInt(parsed.values.providers, '--providers', 16) ?? 1;
  const dir = resolve(parsed.values['data-dir'] ?? DEFAULT_PRACTICE_DIR);
  const marketDir = join(dirname(dir), `${basename(dir)}-market`);
  const blake3 = await loadBlake3();
  const store = await openMarketStore({ dataDir: marketDir });
  const logger = io.isTty ? silentLogger : createLogger((l) => io.stderr(l), { practice: true });
  const server = await createMarketServer({ store, clock, blake3, dataDir: marketDir, processMetrics: false });
  const validator = await attachValidator({
    app: server.app,
    store,
    clock,
    blake3,
    sha256: nodeSha256,
    dataDir: marketDir,
    config: { practice: true, batchMs: 10_000 },
    marketId: 'tessera-practice-market',
    onError: (what, err) => logger.error('practice market error', { what, error: err instanceof Error ? err.message : String(err) }),
  });
  const url = await server.listen('127.0.0.1', 0);
  io.stderr(`PRACTICE MARKET (local, not real credits) on ${url}; its data: ${marketDir}\n`);
  const customer = await startPracticeCustomer({ customers: server.customers, tasks: server.tasks, onDidPost: () => validator.kick(), onError: (err) => logger.error('practice customer failed to post', { error: String(err) }) });
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const dataDir = i === 0 ? dir : `${dir}-provider-${i + 1}`;
    nodes.push(await startProviderNode({ market: url, dataDir, threads: 1, ask: 0n, logger }));
    io.stderr(`practice provider ${i + 1}: data in ${dataDir}\n`);
  }
  return runUntilSignal(io, nodes, async () => {
    customer.stop();
    await validator.close();
    await server.close();
    await store.close();
  });
}
