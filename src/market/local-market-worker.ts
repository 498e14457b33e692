/**
 * The practice market in its own thread: its embedded store (PGlite, WebAssembly) starts and
 * runs here, so the node's thread — the UI's socket, the provider — never waits on it.
 * Messages: parent → {type: 'close'}; worker → progress | ready {url} | failed {code, message} | log | closed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../core/errors.js';
import { systemClock } from '../node/clock.js';
import { errorFields, type Logger } from '../node/log.js';
import { startLocalMarket, type LocalMarket } from './local-market.js';
import type { LocalMarketThreadOptions, LocalMarketWorkerMessage } from './local-market-thread.js';

const port = parentPort;
if (!port) throw new Error('local-market-worker must run in a worker thread');
const post = (m: LocalMarketWorkerMessage) => port.postMessage(m);
const logger: Logger = {
  log: (level, msg, fields) => post({ type: 'log', level, msg, fields: fields ?? {} }),
  info: (msg, fields) => post({ type: 'log', level: 'info', msg, fields: fields ?? {} }),
  warn: (msg, fields) => post({ type: 'log', level: 'warn', msg, fields: fields ?? {} }),
  error: (msg, fields) => post({ type: 'log', level: 'error', msg, fields: fields ?? {} }),
};

let market: LocalMarket | undefined;
let closing = false;
const started = startLocalMarket({
  ...(workerData as LocalMarketThreadOptions),
  clock: systemClock,
  logger,
  onProgress: (progress) => post({ type: 'progress', progress }),
}).then(
  (m) => {
    market = m;
    if (closing) return;
    post({ type: 'ready', url: m.url });
  },
  (err: unknown) =>
    post({
      type: 'failed',
      code:
        (err as { code?: unknown }).code === undefined
          ? 'PRACTICE_UNAVAILABLE'
          : String((err as { code: unknown }).code),
      message: errorMessage(err),
    }),
);

port.on('message', (m: { type?: unknown }) => {
  if (m.type !== 'close') return;
  closing = true;
  void started
    .then(() => market?.close())
    .catch((err: unknown) =>
      post({ type: 'log', level: 'error', msg: 'practice market did not close cleanly', fields: errorFields(err) }),
    )
    .finally(() => {
      post({ type: 'closed' });
      port.close();
    });
});
