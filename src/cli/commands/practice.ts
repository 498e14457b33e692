import { basename, dirname, join, resolve } from 'node:path';
import { jsonLineSink, silentLogger, sinkLogger } from '../../node/log.js';
import { openDawnChannel } from '../../main/gpu/dawn-host.js';
import { startLocalMarket } from '../../market/local-market.js';
import { defineCommand } from '../command-spec.js';
import { parsePositiveInt } from '../errors.js';
import type { CliIo } from '../io.js';
import { runUntilSignal, startProvider } from './provide.js';
import { systemClock as clock } from '../../node/clock.js';

export const DEFAULT_PRACTICE_DIR = 'practice-data';

export const practiceSpec = defineCommand({
  name: 'practice',
  summary:
    'a local PRACTICE market with a practice customer and provider node(s), to see jobs, proofs and earnings in seconds',
  options: {
    providers: { type: 'string', valueName: 'N', description: 'provider nodes to run (default 1)' },
    'data-dir': {
      type: 'string',
      valueName: 'DIR',
      description: `the (first) provider's data directory, as for tessera provide (default ./${DEFAULT_PRACTICE_DIR}); the practice market lives beside it in DIR-market`,
    },
  },
  notes: [
    'Everything runs in this process on 127.0.0.1: a market on the embedded store, a customer that posts small tasks of every type every 2 s (funded automatically; in-process, so it needs no API key), and the provider node(s).',
    'It is a practice market: the credits are local and not real. `tessera earnings --data-dir DIR` reads the provider while it runs.',
  ],
});

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
  const logger = io.isTty
    ? silentLogger
    : sinkLogger(
        jsonLineSink((l) => io.stderr(l)),
        { module: 'practice' },
      );
  const market = await startLocalMarket({ dataDir: marketDir, clock, logger });
  const url = market.url;
  io.stderr(`PRACTICE MARKET (local, not real credits) on ${url}; its data: ${marketDir}\n`);
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const dataDir = i === 0 ? dir : `${dir}-provider-${i + 1}`;
    // One /metrics endpoint (config.toml's port) for the first provider; the others would collide on it.
    nodes.push(
      await startProvider({
        market: url,
        dataDir,
        threads: 1,
        ask: 0n,
        logger,
        openGpuHost: () => openDawnChannel(),
        metricsPort: i === 0 ? null : 0,
      }),
    );
    io.stderr(`practice provider ${i + 1}: data in ${dataDir}\n`);
  }
  return runUntilSignal(io, nodes, () => market.close());
}
