import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { _electron as electron } from '@playwright/test';
import { describe, expect, it } from 'vitest';
import { root } from '../cli/run.js';
import { tempDir } from '../helpers.js';

/** The Electron binary, when the install downloaded it (it cannot be where downloads are blocked). */
function electronBinary(): string | undefined {
  const pathFile = join(root, 'node_modules/electron/path.txt');
  if (!existsSync(pathFile)) return undefined;
  const bin = join(root, 'node_modules/electron/dist', readFileSync(pathFile, 'utf8').trim());
  return existsSync(bin) ? bin : undefined;
}

const binary = electronBinary();

describe('desktop app (Electron)', () => {
  // Where the install skipped the Electron download (ELECTRON_SKIP_BINARY_DOWNLOAD, as in CI
  // here), there is no binary to launch; everything else is covered by the headless and Node tests.
  it.skipIf(!binary)('opens the Tessera window with its version, settlement mode and GPU line (skipped: no Electron binary installed)', { timeout: 180_000 }, async () => {
    execFileSync(process.execPath, [join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'ignore' });
    const userData = tempDir();
    const app = await electron.launch({
      executablePath: binary as string,
      args: [join(root, 'out/main/index.js'), '--no-sandbox'],
      env: { ...process.env, TESSERA_DATA_DIR: userData },
    });
    try {
      const page = await app.firstWindow();
      await expect.poll(() => page.title()).toBe('Tessera');
      await expect.poll(async () => page.locator('main').innerText(), { timeout: 30_000 }).toMatch(/Version \d+\.\d+\.\d+/);
      await expect.poll(async () => page.locator('main').innerText(), { timeout: 30_000 }).toMatch(/Settlement: dry-run/);
      // The renderer gets the contract's verbs only, never ipcRenderer or Node.
      expect(await page.evaluate(() => Object.keys((globalThis as unknown as { tessera: object }).tessera).sort())).toEqual(['call', 'on']);
      expect(await page.evaluate(() => typeof (globalThis as { require?: unknown }).require)).toBe('undefined');
    } finally {
      await app.close();
    }
    expect(existsSync(join(userData, 'ledger.db'))).toBe(true);
  });
});
