import type { Worker } from 'node:worker_threads';
import { TesseraError } from '../core/errors.js';
import { DisposableStore } from '../node/lifecycle.js';
import type { Logger, LogLevel } from '../node/log.js';
import { silentLogger } from '../node/log.js';
import { startSiblingWorker } from '../node/worker-entry.js';
import type { LocalMarketDeps, PracticeProgress } from './local-market.js';

/** What the thread is started with (plain data: it crosses to the worker). */
export type LocalMarketThreadOptions = Omit<LocalMarketDeps, 'clock' | 'logger' | 'blake3' | 'onProgress'>;

export type LocalMarketWorkerMessage =
  | { type: 'progress'; progress: PracticeProgress }
  | { type: 'ready'; url: string }
  | { type: 'failed'; code: string; message: string }
  | { type: 'log'; level: LogLevel; msg: string; fields: Record<string, unknown> }
  | { type: 'closed' };

/**
 * The practice market thread's V8 heap: a small young generation (V8 grows it to 16 MB
 * semi-spaces, ~40 MB of RSS the practice market's short-lived objects do not need) and a
 * generous old generation.
 */
const PRACTICE_THREAD_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 512 };

/** The practice market running in its own thread. */
export interface LocalMarketThread {
  url: string;
  /** Stops the market (customer, validator, server, store) and the thread; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Starts the practice market (startLocalMarket) in a worker thread, so its store's start-up
 * (several seconds of WebAssembly on the first run) and its work never block the caller's
 * event loop. Resolves once it listens; a failure to start rejects with its code and message.
 * `onProgress` hears each step of the start (store, migrations, server) as it begins.
 */
export function startLocalMarketThread(
  options: LocalMarketThreadOptions,
  logger: Logger = silentLogger,
  startTimeoutMs = 180_000,
  onProgress: (p: PracticeProgress) => void = () => undefined,
): Promise<LocalMarketThread> {
  const resources = new DisposableStore('practice market thread', logger);
  const worker = startSiblingWorker(import.meta.url, 'local-market-worker', options, PRACTICE_THREAD_LIMITS);
  let exited = false;
  worker.once('exit', () => (exited = true));
  resources.add(() => (exited ? undefined : stopWorker(worker)), 'worker thread');
  const close = (): Promise<void> => resources.dispose();
  return new Promise<LocalMarketThread>((resolve, reject) => {
    const timer = setTimeout(() => {
      void close();
      reject(
        new TesseraError(
          'PRACTICE_UNAVAILABLE',
          `the practice market did not start within ${Math.round(startTimeoutMs / 1000)} s; see the log`,
        ),
      );
    }, startTimeoutMs);
    timer.unref();
    resources.add(() => clearTimeout(timer), 'start timeout');
    worker.on('message', (m: LocalMarketWorkerMessage) => {
      if (m.type === 'log') logger.log(m.level, m.msg, { ...m.fields, practice_market: true });
      else if (m.type === 'progress') onProgress(m.progress);
      else if (m.type === 'ready') {
        clearTimeout(timer);
        resolve({ url: m.url, close });
      } else if (m.type === 'failed') {
        clearTimeout(timer);
        void close();
        reject(
          new TesseraError(
            'PRACTICE_UNAVAILABLE',
            `the practice market could not start: ${m.message.split('\n')[0] ?? ''}`,
          ),
        );
      }
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      logger.error('practice market thread failed', { error: err.message });
      reject(new TesseraError('PRACTICE_UNAVAILABLE', `the practice market stopped: ${err.message}`));
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      if (!resources.isDisposed)
        reject(
          new TesseraError(
            'PRACTICE_UNAVAILABLE',
            `the practice market thread exited (code ${code}) before it was ready`,
          ),
        );
    });
  });
}

/** Asks the market in `worker` to stop; a market that does not stop within `graceMs` is ended with its thread. */
function stopWorker(worker: Worker, graceMs = 15_000): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => void worker.terminate().then(done, done), graceMs);
    function done(): void {
      clearTimeout(timer);
      resolve();
    }
    worker.once('exit', done);
    worker.postMessage({ type: 'close' });
  });
}
