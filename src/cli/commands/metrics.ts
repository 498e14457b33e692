import { openLedger } from '../../main/ledger.js';
import { defineCommand } from '../command-spec.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';
import { errorMessage } from '../../core/errors.js';

/** The most a metrics answer may be; a node's registry is a few KiB, so this is generous. */
export const MAX_METRICS_BYTES = 16 << 20;
const DEFAULT_TIMEOUT_SECONDS = 10;
const MAX_TIMEOUT_SECONDS = 3600;

export const metricsSpec = defineCommand({
  name: 'metrics',
  summary: "print the node's Prometheus metrics once (from a running node with --url, else from the data dir)",
  options: {
    'data-dir': { type: 'string', valueName: 'DIR', description: "the node's data directory (default ./node-data)" },
    url: {
      type: 'string',
      valueName: 'URL',
      description: "a running node's endpoint, e.g. http://127.0.0.1:9464/metrics",
    },
    timeout: {
      type: 'string',
      valueName: 'SECONDS',
      description: `with --url: give up after this long, headers and body together (default ${DEFAULT_TIMEOUT_SECONDS})`,
    },
  },
  notes: [
    `With --url, the answer must be text (text/plain or application/openmetrics-text, valid UTF-8) and at most ${MAX_METRICS_BYTES >> 20} MiB; ` +
      'anything else, a timeout or a connection dropped mid-answer is one line on stderr and exit status 1.',
  ],
});

/** `tessera metrics`: prints the node's Prometheus metrics once (from a running node with --url, else from the data dir). */
export async function metricsCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = metricsSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { values } = parsed;
  if (values.timeout !== undefined && values.url === undefined) throw new CliError('--timeout applies only with --url');
  if (values.url !== undefined && values['data-dir'] !== undefined)
    throw new CliError('give either --url or --data-dir, not both');
  if (values.url !== undefined) {
    const timeout = parseSeconds(values.timeout, '--timeout') ?? DEFAULT_TIMEOUT_SECONDS;
    io.stdout(await fetchMetricsText(values.url, { timeoutMs: timeout * 1000, maxBytes: MAX_METRICS_BYTES }));
    return 0;
  }
  const ctx = await openLedger({ ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}), readonly: true }); // inspection never writes
  try {
    io.stdout(await ctx.registry.metrics());
    return 0;
  } finally {
    ctx.close();
  }
}

function parseSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0 || Number(value) > MAX_TIMEOUT_SECONDS) {
    throw new CliError(
      `${flag} must be a number of seconds above 0 and at most ${MAX_TIMEOUT_SECONDS}, got "${value}"`,
    );
  }
  return Number(value);
}

/** Content types a metrics endpoint answers with (Prometheus text format, OpenMetrics). */
const TEXT_TYPES = /^(text\/[\w.+-]+|application\/openmetrics-text)\s*(;|$)/i;

/**
 * GETs a metrics page as text, bounded in time and size. Every failure is a one-line CliError
 * (exit status 1) naming the URL: unreachable, timed out, dropped mid-body, too large, not
 * text (by content type, by invalid UTF-8 or by control bytes).
 */
export async function fetchMetricsText(url: string, limits: { timeoutMs: number; maxBytes: number }): Promise<string> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CliError(`--url "${url}" is not a URL (expected e.g. http://127.0.0.1:9464/metrics)`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:')
    throw new CliError(`--url must be an http:// or https:// URL, got "${url}"`);
  const fail = (what: string) => new CliError(`${url}: ${what}`, 1, 'METRICS_FETCH');
  const signal = AbortSignal.timeout(limits.timeoutMs);
  const timedOut = () => fail(`no complete answer within ${limits.timeoutMs / 1000} s (see --timeout)`);
  let res: Response;
  try {
    res = await fetch(target, { signal, redirect: 'error' });
  } catch (err) {
    if (signal.aborted) throw timedOut();
    throw fail(`cannot reach it (${networkReason(err)})`);
  }
  const body = res.body;
  const reader = body?.getReader();
  try {
    if (!res.ok) throw fail(`answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    const type = res.headers.get('content-type');
    if (type !== null && !TEXT_TYPES.test(type))
      throw fail(`answered ${type.split(';')[0]}, not text; is this a metrics endpoint?`);
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > limits.maxBytes)
      throw fail(`the answer is ${declared} bytes, over the ${limits.maxBytes >> 20} MiB limit`);
    const chunks: Uint8Array[] = [];
    let total = 0;
    if (reader) {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (signal.aborted) throw timedOut();
          throw fail(`the connection dropped while the answer was being read (${networkReason(err)})`);
        }
        if (chunk.done) break;
        total += chunk.value.length;
        if (total > limits.maxBytes) throw fail(`the answer is over the ${limits.maxBytes >> 20} MiB limit`);
        chunks.push(chunk.value);
      }
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
    } catch {
      throw fail('the answer is not UTF-8 text; is this a metrics endpoint?');
    }
    // Prometheus text has no control characters besides tab and newline; anything else is binary.
    // eslint-disable-next-line no-control-regex -- matching control bytes is the point
    if (/[\0-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text))
      throw fail('the answer holds binary (control) bytes, not metrics text');
    return text;
  } finally {
    await reader?.cancel().catch(() => undefined);
  }
}

/** The system error under a fetch failure (ECONNREFUSED, "other side closed", …), in a few words. */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  if (typeof cause?.message === 'string') return cause.message;
  return errorMessage(err);
}
