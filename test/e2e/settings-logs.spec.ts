import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, openScreen, root, test } from './fixtures.js';

test('Settings: the version, unsaved changes kept across screens, schedule days, and pause for 1 hour', async ({
  app: page,
}) => {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  await openScreen(page, 'Settings');
  await expect(page.getByTestId('app-version')).toContainText(`Tessera ${version}`);

  // An unsaved change survives a trip to another screen, and says it is unsaved.
  await page.getByLabel('Worker threads').fill('3');
  // Today and tomorrow (local time, as the node reads it), so the saved schedule lets the node work now.
  const names = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const day = new Date().getDay();
  const [today, tomorrow] = [names[day] as string, names[(day + 1) % 7] as string];
  await page.getByRole('checkbox', { name: today, exact: true }).check();
  await page.getByRole('checkbox', { name: tomorrow, exact: true }).check();
  await expect(page.getByTestId('unsaved')).toHaveText('Unsaved changes.');
  await openScreen(page, 'Jobs');
  await openScreen(page, 'Settings');
  await expect(page.getByLabel('Worker threads')).toHaveValue('3');
  await expect(page.getByTestId('unsaved')).toContainText('Unsaved changes');
  await expect(page.locator('#s-hours-help')).toContainText(/Provides .*, all day/);
  await expect(page.locator('#s-hours-help')).toContainText(today);
  await expect(page.locator('#s-hours-help')).toContainText(tomorrow);

  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByRole('status', { name: 'Save result' })).toHaveText('Saved.');
  await expect(page.getByTestId('unsaved')).toHaveCount(0);

  // Pause for 1 hour: the node pauses at once, and resumes when asked (once it has joined the practice market).
  const pill = page.getByRole('status', { name: 'Node status' });
  await expect(pill).toHaveText(/^(Earning|Connected)/, { timeout: 90_000 });
  await page.getByRole('button', { name: 'Pause for 1 hour' }).click();
  await expect(page.getByText(/^Paused until \d\d:\d\d\.$/)).toBeVisible();
  await expect(pill).toHaveText(/^Paused/);
  await page.getByRole('button', { name: 'Resume now' }).click();
  await expect(page.getByRole('button', { name: 'Pause for 1 hour' })).toBeVisible();
  await expect(pill).not.toHaveText(/^Paused/);
});

test('Logs: job and node lines, a search box, and a button that copies the lines shown', async ({
  app: page,
  context,
}) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await openScreen(page, 'Logs');
  const box = page.getByRole('log', { name: 'Log lines' });
  await expect(box).toContainText('job verified: ', { timeout: 120_000 });
  await expect(box).toContainText(/GPU|WebGPU/);

  await page.getByLabel('Search').fill('job verified');
  await expect(box.locator('.logline').first()).toContainText('job verified');
  for (const text of await box.locator('.logline').allInnerTexts()) expect(text).toContain('job verified');

  await page.getByRole('button', { name: 'Copy lines' }).click();
  await expect(page.getByText('Copied', { exact: true })).toBeVisible();
  type WithClipboard = { navigator: { clipboard: { readText(): Promise<string> } } };
  const copied = await page.evaluate(() => (globalThis as unknown as WithClipboard).navigator.clipboard.readText());
  expect(copied.split('\n').length).toBeGreaterThan(0);
  for (const line of copied.split('\n'))
    expect(line).toMatch(/^\d{4}-\d\d-\d\d.* INFO jobs job verified: .* on the \w+/);

  await page.getByLabel('Search').fill('no such words anywhere');
  await expect(page.getByText('No log lines match this search')).toBeVisible();
});
