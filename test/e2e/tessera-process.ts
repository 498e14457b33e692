/**
 * Starting the built `tessera` CLI as a child process (`npm run build` first): the headless
 * node with its URL, other commands, and the app contract over the node's WebSocket. Shared
 * by the Playwright fixtures and bench/ui.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { WsContractClient } from '../../src/shared/ws-contract-client.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const cliBin = join(root, 'bin/tessera.js');

/** The line `tessera headless` prints on stdout (ui-contract.md). */
export const HEADLESS_URL = /(http:\/\/[^\s]+\/\?token=[0-9a-f]{64})/;

export const START_TIMEOUT_MS = 45_000;
export const STOP_TIMEOUT_MS = 20_000;

/** What a spawned `tessera` process wrote so far, and how it ended. */
export interface ProcessHandle {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout (rejects when the process exits first or after `timeoutMs`). */
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (null when killed by a signal). */
  exited(): Promise<number | null>;
  /** SIGTERM, then wait for the exit; SIGKILL after the stop timeout. Returns the exit code and whether it had to be killed. */
  stop(): Promise<{ code: number | null; killed: boolean }>;
}

export interface HeadlessNode extends ProcessHandle {
  /** The ready-to-open URL with the token. */
  readonly url: string;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
  readonly token: string;
  readonly dataDir: string;
}

export interface HeadlessOptions {
  /** Join the market at start (default true); false passes --no-join. */
  join?: boolean;
  /** --market URL instead of the in-process practice market. */
  market?: string;
  /** Default: the test's own data dir. */
  dataDir?: string;
}

/** A TCP port that was free a moment ago (for commands whose --port does not take 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export function tail(text: string, n = 2000): string {
  return text.length > n ? `…${text.slice(-n)}` : text;
}

/** Spawns the built CLI (`node bin/tessera.js ARGS`) and records its output. */
export function spawnTessera(args: string[], env: NodeJS.ProcessEnv = {}): ProcessHandle {
  const child = spawn(process.execPath, [cliBin, ...args], {
    cwd: root,
    env: { ...process.env, TESSERA_MARKET_URL: '', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exit = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });
  let stopping: Promise<{ code: number | null; killed: boolean }> | undefined;
  const handle: ProcessHandle = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitForStdout(re, timeoutMs = START_TIMEOUT_MS) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            done();
            resolve(m);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(
              `tessera ${args.join(' ')}: no line matching ${re} on stdout within ${timeoutMs} ms; stderr: ${tail(err)}`,
            ),
          );
        }, timeoutMs);
        const onExit = (code: number | null) => {
          // Output may still be buffered: look once more before giving up.
          setImmediate(() => {
            const m = out.match(re);
            done();
            if (m) resolve(m);
            else
              reject(
                new Error(`tessera ${args.join(' ')} exited (${code}) before printing ${re}; stderr: ${tail(err)}`),
              );
          });
        };
        const done = () => {
          clearTimeout(timer);
          child.stdout?.off('data', check);
          child.off('exit', onExit);
        };
        child.stdout?.on('data', check);
        child.once('exit', onExit);
        check();
      });
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, killed: false };
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>(
          (resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)),
        );
        const r = await Promise.race([exit, timedOut]);
        clearTimeout(timer);
        if (r !== 'timeout') return { code: r, killed: false };
        child.kill('SIGKILL');
        return { code: await exit, killed: true };
      })();
      return stopping;
    },
  };
  return handle;
}

/** Starts `tessera headless --port 0` and waits for the URL line. */
export async function startHeadless(dataDir: string, opts: HeadlessOptions = {}): Promise<HeadlessNode> {
  const args = ['headless', '--port', '0', '--data-dir', dataDir];
  if (opts.join === false) args.push('--no-join');
  if (opts.market) args.push('--market', opts.market);
  const p = spawnTessera(args);
  let url: string;
  try {
    url = (await p.waitForStdout(HEADLESS_URL))[1] as string;
  } catch (e) {
    await p.stop();
    throw e;
  }
  const u = new URL(url);
  return Object.assign(p, { url, origin: u.origin, token: u.searchParams.get('token') ?? '', dataDir });
}

/** The app contract over the node's WebSocket, from Node (with the token and the page's own Origin). */
export async function contractClient(node: Pick<HeadlessNode, 'origin' | 'token'>): Promise<WsContractClient> {
  const socket = new WebSocket(`${node.origin.replace(/^http/, 'ws')}/api?token=${node.token}`, {
    headers: { Origin: node.origin },
  });
  const client = new WsContractClient(socket as unknown as ConstructorParameters<typeof WsContractClient>[0]);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return client;
}
