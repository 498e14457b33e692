/**
 * Playwright fixtures for the end-to-end specs: every test gets its own temp data dir, a
 * running `tessera headless` (the BUILT CLI, `npm run build` first) and a page opened at the
 * URL it printed; `cli` runs other `tessera` commands (`courier send`, `market`, …).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test as base, expect, type Page, type TestInfo } from '@playwright/test';
import {
  root,
  spawnTessera,
  startHeadless,
  STOP_TIMEOUT_MS,
  tail,
  type HeadlessNode,
  type HeadlessOptions,
  type ProcessHandle,
} from './tessera-process.js';

export { expect };
export {
  contractClient,
  freePort,
  root,
  type HeadlessNode,
  type HeadlessOptions,
  type ProcessHandle,
} from './tessera-process.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Cli {
  /** Runs `tessera ARGS` to completion. */
  run(args: string[], opts?: { timeoutMs?: number }): Promise<CliResult>;
  /** Starts a long-running `tessera ARGS` (stopped after the test if still running). */
  spawn(args: string[]): ProcessHandle;
}

interface Fixtures {
  /** A fresh temp data dir for this test, removed afterwards. */
  dataDir: string;
  /** Makes another fresh temp dir (e.g. a separate market's data dir), removed afterwards. */
  makeTempDir: (prefix?: string) => string;
  cli: Cli;
  /** Starts `tessera headless` (stopped after the test; the test fails unless it exits 0 on SIGTERM). */
  launchHeadless: (opts?: HeadlessOptions) => Promise<HeadlessNode>;
  /** Options for the `node` fixture (set with test.use). */
  headlessOptions: HeadlessOptions;
  /** A running headless node with this test's data dir (Playwright's own `headless` is the browser option). */
  node: HeadlessNode;
  /** `page`, opened at the node's URL, with the app shell (nav "Main") shown. */
  app: Page;
}

interface WorkerFixtures {
  /** Fails fast, once per worker, when the build the specs drive is missing. */
  built: void;
}

async function attachLog(testInfo: TestInfo, name: string, p: ProcessHandle): Promise<void> {
  const file = testInfo.outputPath(`${name.replace(/[^a-z0-9]+/gi, '-')}.log`);
  writeFileSync(file, `--- stdout\n${p.stdout()}\n--- stderr\n${p.stderr()}`);
  await testInfo.attach(name, { path: file, contentType: 'text/plain' });
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  built: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      for (const f of ['out/cli/tessera.js', 'out/renderer/index.html']) {
        if (!existsSync(join(root, f)))
          throw new Error(`${f} is missing: run \`npm run build\` before the end-to-end tests`);
      }
      await use();
    },
    { scope: 'worker', auto: true },
  ],

  // eslint-disable-next-line no-empty-pattern
  makeTempDir: async ({}, use) => {
    const dirs: string[] = [];
    await use((prefix = 'tessera-e2e-') => {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    });
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  },

  dataDir: async ({ makeTempDir }, use) => {
    await use(makeTempDir('tessera-e2e-node-'));
  },

  // eslint-disable-next-line no-empty-pattern
  cli: async ({}, use, testInfo) => {
    const spawned: { args: string[]; p: ProcessHandle }[] = [];
    const cli: Cli = {
      async run(args, opts = {}) {
        const p = spawnTessera(args);
        const timeoutMs = opts.timeoutMs ?? 60_000;
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([
          p.exited(),
          new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (r === 'timeout') {
          await p.stop();
          throw new Error(
            `tessera ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${tail(p.stderr())}`,
          );
        }
        // Let the pipes drain after the exit event.
        await new Promise((resolve) => setImmediate(resolve));
        return { code: r, stdout: p.stdout(), stderr: p.stderr() };
      },
      spawn(args) {
        const p = spawnTessera(args);
        spawned.push({ args, p });
        return p;
      },
    };
    await use(cli);
    for (const { args, p } of spawned) {
      await p.stop();
      if (testInfo.status !== testInfo.expectedStatus) await attachLog(testInfo, `tessera ${args[0]} output`, p);
    }
  },

  launchHeadless: async ({ dataDir }, use, testInfo) => {
    const nodes: HeadlessNode[] = [];
    await use(async (opts = {}) => {
      const node = await startHeadless(opts.dataDir ?? dataDir, opts);
      nodes.push(node);
      return node;
    });
    const problems: string[] = [];
    for (const node of nodes) {
      const { code, killed } = await node.stop();
      await attachLog(testInfo, 'tessera headless output', node);
      if (killed) problems.push(`tessera headless did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM (killed)`);
      else if (code !== 0)
        problems.push(`tessera headless exited ${code} on SIGTERM, expected 0; stderr: ${tail(node.stderr())}`);
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
  },

  headlessOptions: [{ join: true }, { option: true }],

  node: async ({ launchHeadless, headlessOptions }, use) => {
    await use(await launchHeadless(headlessOptions));
  },

  app: async ({ page, node }, use, testInfo) => {
    const pageErrors: string[] = [];
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(node.url);
    await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
    await use(page);
    if (consoleErrors.length > 0)
      await testInfo.attach('console errors', { body: consoleErrors.join('\n'), contentType: 'text/plain' });
    expect(pageErrors, 'uncaught errors in the page').toEqual([]);
  },
});

/** Opens a screen through the main navigation and waits for its heading. */
export async function openScreen(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name, exact: true })).toBeVisible();
}

/** Text of a `data-testid` element parsed as a number (NaN when it is not one). */
export async function numberOf(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).first().innerText()).trim();
  return Number(text.replace(/[^\d.-]/g, ''));
}
