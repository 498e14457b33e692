import { parseArgs } from 'node:util';
import { openLedger } from '../../main/node-context.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';

export const metricsUsage = 'tessera metrics [--data-dir DIR] [--url http://127.0.0.1:PORT/metrics]';

/** `tessera metrics`: prints the node's Prometheus metrics once (from a running node with --url, else from the data dir). */
export async function metricsCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { 'data-dir': { type: 'string' }, url: { type: 'string' } }, allowPositionals: true, strict: true });
  if (positionals.length > 0) throw new CliError(`metrics takes no arguments (got "${positionals[0]}")`);
  if (values.url) {
    let res: Response;
    try {
      res = await fetch(values.url, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw new CliError(`cannot reach ${values.url}: ${(err as Error).message}`);
    }
    if (!res.ok) throw new CliError(`${values.url} answered HTTP ${res.status}`);
    io.stdout(await res.text());
    return 0;
  }
  const ctx = await openLedger(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
  try {
    io.stdout(await ctx.registry.metrics());
    return 0;
  } finally {
    ctx.close();
  }
}
