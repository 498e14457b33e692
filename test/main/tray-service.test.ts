import { describe, expect, it } from 'vitest';
import type { AppProvider } from '../../src/main/api/app-service.js';
import { createAppHandlers } from '../../src/main/api/index.js';
import type { ProviderStatus } from '../../src/main/services/provider-service.js';
import { TrayService, type NativeTray, type NativeTrayMenuItem } from '../../src/main/tray-service.js';
import { providerStatus } from '../support/provider-status.js';
import { testAppNode } from './api/fixtures.js';

/** A native tray that records what the service drew. */
class FakeTray implements NativeTray {
  images: string[] = [];
  tooltip = '';
  items: readonly NativeTrayMenuItem[] = [];
  menus = 0;
  clickListeners: (() => void)[] = [];
  destroyed = 0;
  constructor(readonly initialImage: string) {}
  setImage(path: string): void {
    this.images.push(path);
  }
  setToolTip(text: string): void {
    this.tooltip = text;
  }
  setContextMenu(items: readonly NativeTrayMenuItem[]): void {
    this.items = items;
    this.menus++;
  }
  on(_event: 'click', listener: () => void): void {
    this.clickListeners.push(listener);
  }
  destroy(): void {
    this.destroyed++;
  }
  labels(): [string, boolean][] {
    return this.items.flatMap((i) => (i.type === 'normal' ? [[i.label, i.enabled] as [string, boolean]] : []));
  }
  click(label: string): void {
    const item = this.items.find((i) => i.type === 'normal' && i.label === label);
    if (!item || item.type !== 'normal' || !item.click)
      throw new Error(`no clickable item "${label}" in ${JSON.stringify(this.labels())}`);
    item.click();
  }
}

/** A provider whose status the test sets; `change` reports it as the real one does. */
class FakeProvider implements AppProvider {
  s: ProviderStatus = providerStatus({ address: 'tsr1x' });
  private readonly listeners = new Set<(s: ProviderStatus) => void>();
  start(): void {}
  status(): ProviderStatus {
    return this.s;
  }
  onDidChange(listener: (s: ProviderStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async drain(): Promise<void> {}
  currentAsk(): bigint {
    return 0n;
  }
  change(patch: Partial<ProviderStatus>): void {
    this.s = { ...this.s, ...patch };
    for (const l of [...this.listeners]) l(this.s);
  }
}

async function setup() {
  const provider = new FakeProvider();
  const node = await testAppNode({ createProvider: () => provider });
  // Counts the service's subscriptions to the node's events that are still live.
  const listening = { count: 0 };
  const subscribe = node.events.onDidEmit.bind(node.events);
  node.events.onDidEmit = (listener) => {
    const off = subscribe(listener);
    listening.count++;
    return () => {
      listening.count--;
      return off();
    };
  };
  const trays: FakeTray[] = [];
  const notes: { title: string; body: string }[] = [];
  const calls = { open: 0, quit: 0 };
  const service = new TrayService({
    node,
    handlers: createAppHandlers(node),
    iconDir: '/icons',
    createTray: (icon) => {
      const t = new FakeTray(icon);
      trays.push(t);
      return t;
    },
    notify: (n) => notes.push(n),
    onOpen: () => calls.open++,
    onQuit: () => calls.quit++,
  });
  const tray = trays[0];
  if (!tray || trays.length !== 1) throw new Error('the service should create exactly one native tray');
  return { node, service, tray, notes, calls, provider, listening };
}

describe('TrayService with a fake native tray', () => {
  it('draws the menu for the state at start: offline icon, the status line, Flush, Pause, Open, Quit', async () => {
    const { service, tray } = await setup();
    expect(tray.initialImage).toBe('/icons/tray-offline.png');
    expect(tray.images).toEqual(['/icons/tray-offline.png']);
    expect(tray.items[1]).toEqual({ type: 'separator' });
    expect(tray.labels()).toEqual([
      ['Not joined: join a market to start earning', false],
      ['Flush courier receipts', false],
      ['Pause providing', false],
      ['Open Tessera', true],
      ['Quit', true],
    ]);
    expect(tray.tooltip).toBe('Tessera — Not joined: join a market to start earning');
    expect(service.menu()?.status).toBe('offline');
  });

  it('redraws after each node:status event: joined and connected, earning, paused (icon, line, Resume)', async () => {
    const { node, tray, provider } = await setup();
    await node.join({ kind: 'url', url: 'http://127.0.0.1:9' }); // emits node:status
    expect(tray.images.at(-1)).toBe('/icons/tray-connected.png');
    expect(tray.labels()[0]?.[0]).toBe('Connected, waiting for jobs · 0.0 CPC today');
    expect(tray.labels()[2]).toEqual(['Pause providing', true]);
    provider.change({ running: 2, creditsToday: 1_500_000n }); // the provider's change becomes node:status
    expect(tray.images.at(-1)).toBe('/icons/tray-earning.png');
    expect(tray.labels()[0]?.[0]).toBe('Earning: 2 jobs running · 1.5 CPC today');
    const drawn = tray.menus;
    await node.pause('on battery');
    expect(tray.menus).toBeGreaterThan(drawn);
    expect(tray.images.at(-1)).toBe('/icons/tray-paused.png');
    expect(tray.labels()[0]?.[0]).toBe('Paused (on battery) · 1.5 CPC today');
    expect(tray.labels()[2]).toEqual(['Resume providing', true]);
    // The icon is set only when the status changes.
    expect(tray.images).toEqual([
      '/icons/tray-offline.png',
      '/icons/tray-connected.png',
      '/icons/tray-earning.png',
      '/icons/tray-paused.png',
    ]);
  });

  it('a finished job keeps the word Earning between jobs, as in the window', async () => {
    const { node, tray } = await setup();
    await node.join({ kind: 'url', url: 'http://127.0.0.1:9' });
    node.events.emit('job:finished', {
      market_id: 'm',
      task_id: 't',
      job_id: 'j',
      workload: 'synthetic',
      bytes: 1,
      proof: null,
      backend: null,
      duration_ms: 1,
      status: 'accepted',
      code: null,
      credits: '1',
      offer: '1',
      paid: true,
      settled: false,
      started_at: 0,
      finished_at: 1,
    });
    expect(tray.labels()[0]?.[0]).toBe('Earning: between jobs · 0.0 CPC today');
    expect(tray.images.at(-1)).toBe('/icons/tray-earning.png');
  });

  it('forwards clicks: Pause and Resume call the node, Open and Quit the host, the icon click opens', async () => {
    const { node, tray, calls } = await setup();
    await node.join({ kind: 'url', url: 'http://127.0.0.1:9' });
    await node.pause();
    tray.click('Resume providing');
    await vitestUntil(() => !node.status().paused);
    tray.click('Pause providing');
    await vitestUntil(() => node.status().paused);
    expect(node.status().pause_reason).toBe('paused by you');
    tray.click('Open Tessera');
    tray.click('Quit');
    for (const l of tray.clickListeners) l();
    expect(calls).toEqual({ open: 2, quit: 1 });
  });

  it('flush runs courier:flush through the contract and notifies its outcome', async () => {
    const { service, notes } = await setup();
    const note = await service.flush();
    expect(note.title).toBe('Courier flush failed');
    expect(note.body).toMatch(/no market to flush courier receipts to/);
    expect(notes).toEqual([note]);
  });

  it('dispose removes its listener from the node and destroys the native tray, once', async () => {
    const { node, service, tray, listening } = await setup();
    expect(listening.count).toBe(1);
    await service.dispose();
    expect(listening.count).toBe(0);
    expect(tray.destroyed).toBe(1);
    const drawn = tray.menus;
    await node.pause();
    expect(tray.menus).toBe(drawn);
    await service.dispose();
    expect(tray.destroyed).toBe(1);
  });
});

/** Waits for a click's async handler (the node's pause/resume) to have run. */
async function vitestUntil(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setImmediate(r));
  expect(ok()).toBe(true);
}
