import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests: the built `tessera headless` (run `npm run build` first) driven through
 * Debian's Chromium. Playwright runs test/e2e/*.spec.ts; vitest runs *.test.ts — kept apart.
 */
export default defineConfig({
  testDir: 'test/e2e',
  testMatch: '*.spec.ts',
  outputDir: 'test-results',
  // Two cores: one spec file per worker, two at a time; each test owns its node and data dir.
  workers: Number(process.env.TESSERA_E2E_WORKERS ?? 2),
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['html', { outputFolder: 'playwright-report', open: 'never' }]],
  use: {
    viewport: { width: 1280, height: 800 },
    screenshot: 'on',
    trace: 'retain-on-failure',
    actionTimeout: 15_000,
    navigationTimeout: 60_000,
  },
  projects: [
    {
      // The UI through `tessera headless` in Debian's Chromium.
      name: 'chromium',
      testIgnore: 'electron.spec.ts',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env.TESSERA_CHROMIUM ?? '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
    // The desktop app via _electron.launch (skipped, with the reason, where the Electron binary is absent).
    { name: 'electron', testMatch: 'electron.spec.ts' },
  ],
});
