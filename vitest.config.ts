import { defineConfig } from 'vitest/config';

/**
 * Three projects, each runnable alone (`npm run test:unit`, `test:integration`, `test:e2e`):
 *
 * - unit: pure logic and small files in a temp dir — no sockets, no child processes, no worker
 *   pools, no databases. The edit loop; it should stay under 10 s.
 * - integration: real SQLite files, PGlite/PostgreSQL, sockets on 127.0.0.1, worker threads,
 *   a market in the test process.
 * - e2e: whole processes — the loop tests and the `tessera` CLI run as a child process.
 *
 * Playwright runs test/e2e/*.spec.ts (see playwright.config.ts).
 */
const unit = [
  'test/layering.test.ts',
  'test/core/**/*.test.ts',
  'test/shared/**/*.test.ts',
  'test/renderer/**/*.test.ts',
  'test/node/keyed-hasher.test.ts',
  'test/node/lifecycle.test.ts',
  'test/node/result-signing.test.ts',
  'test/main/api/contract.test.ts',
  'test/main/api/sender-check.test.ts',
  'test/main/atomic-file.test.ts',
  'test/main/market-endpoints.test.ts',
  'test/main/config-market-url.test.ts',
  'test/main/autostart.test.ts',
  'test/main/metrics.test.ts',
  'test/main/packaging.test.ts',
  'test/main/tray-menu.test.ts',
  'test/main/pricing/admission-service.test.ts',
  'test/main/pricing/config.test.ts',
  'test/main/pricing/price-board-service.test.ts',
  'test/hosts/headless/conf-settings-store.test.ts',
];

const e2e = ['test/e2e/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/hosts/headless/headless-cli.test.ts'];

export default defineConfig({
  test: {
    environment: 'node',
    pool: 'forks',
    projects: [
      {
        extends: true,
        // Pure tests share workers: no fresh process (or module graph) per file.
        test: {
          name: 'unit',
          include: unit,
          pool: 'threads',
          isolate: false,
          testTimeout: 10_000,
          hookTimeout: 10_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...unit, ...e2e],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: { name: 'e2e', include: e2e, testTimeout: 60_000, hookTimeout: 60_000 },
      },
    ],
  },
});
