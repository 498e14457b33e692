import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { dispatchContractCall, type ContractHandlers, type FlushSummaryInfo } from '../shared/contract.js';
import { DisposableStore } from '../node/lifecycle.js';
import type { AppService } from './api/app-service.js';
import { buildTrayMenu, flushNotification, type TrayAction, type TrayMenu, type TrayStatus } from './tray-menu.js';

/** One entry of the tray's context menu, in the shape Electron's Menu.buildFromTemplate takes. */
export type NativeTrayMenuItem =
  { type: 'separator' } | { type: 'normal'; label: string; enabled: boolean; click?: () => void };

/** The native tray icon as the service drives it: the Electron host gives a real Tray, tests a fake. */
export interface NativeTray {
  /** Shows the image file at `path` (a PNG; the platform picks the @2x beside it). */
  setImage(path: string): void;
  setToolTip(text: string): void;
  setContextMenu(items: readonly NativeTrayMenuItem[]): void;
  on(event: 'click', listener: () => void): void;
  /** Removes the icon (and its listeners) from the system tray. */
  destroy(): void;
}

/** Creates the native tray showing the image at `iconPath`. */
export type NativeTrayFactory = (iconPath: string) => NativeTray;

export interface TrayServiceDeps {
  /** The part of the app the tray reads and drives. */
  node: Pick<AppService, 'status' | 'pause' | 'resume' | 'events' | 'clock' | 'logger' | 'ledger'>;
  /** The merged contract handlers: the tray's flush is the same `courier:flush` the window calls. */
  handlers: ContractHandlers;
  /** resources/ (tray-<status>.png, with @2x beside each). */
  iconDir: string;
  createTray: NativeTrayFactory;
  /** Shows a desktop notification (the flush's outcome). */
  notify(note: { title: string; body: string }): void;
  onOpen(): void;
  onQuit(): void;
  /** How often the menu is redrawn without an event (receipts another program adds); default 5 s. */
  refreshMs?: number;
}

/**
 * The system tray as a state-driven service (after Signal's SystemTrayService): node events
 * and flushes update the state, one private render draws buildTrayMenu's output through the
 * injected native tray, clicks are forwarded by item id. It owns its listeners, its timer and
 * the native tray; `dispose()` releases them.
 */
export class TrayService {
  private readonly tray: NativeTray;
  private readonly store = new DisposableStore('tray');
  private flushing = false;
  private lastJobAt: number | null = null;
  private lastMenu: TrayMenu | undefined;

  constructor(private readonly deps: TrayServiceDeps) {
    this.tray = deps.createTray(this.iconPath('offline'));
    this.store.add(() => this.tray.destroy(), 'native tray');
    this.tray.on('click', () => deps.onOpen());
    this.store.add(
      deps.node.events.onDidEmit((name) => {
        if (name === 'job:finished') this.lastJobAt = deps.node.clock.now();
        if (name === 'node:status' || name === 'courier:flush-progress' || name === 'job:finished') this.render();
      }),
      'node events',
    );
    // Receipts added by another program (`tessera courier send`) show up within a few seconds.
    const refresh = setInterval(() => this.render(), deps.refreshMs ?? 5_000);
    refresh.unref();
    this.store.add(() => clearInterval(refresh), 'refresh timer');
    this.render();
  }

  /** The menu drawn last (the e2e hook reads it). */
  menu(): TrayMenu | undefined {
    return this.lastMenu;
  }

  /** Runs the courier flush through the contract and shows the result as a notification. */
  async flush(): Promise<{ title: string; body: string }> {
    if (this.flushing) return { title: 'Courier flush already running', body: 'Wait for it to finish.' };
    this.flushing = true;
    this.render();
    let note: { title: string; body: string };
    try {
      const env = await dispatchContractCall(this.deps.handlers, 'courier:flush', []);
      note = env.ok
        ? flushNotification(env.result as FlushSummaryInfo)
        : { title: 'Courier flush failed', body: env.error.message };
    } finally {
      this.flushing = false;
      this.render();
    }
    if (!this.store.isDisposed) this.deps.notify(note);
    return note;
  }

  /** Stops listening and removes the tray icon. */
  dispose(): Promise<void> {
    return this.store.dispose();
  }

  private iconPath(status: TrayStatus): string {
    return join(this.deps.iconDir, `tray-${status}.png`);
  }

  private async onAction(id: TrayAction): Promise<void> {
    switch (id) {
      case 'flush':
        await this.flush();
        return;
      case 'pause':
        await this.deps.node.pause();
        return;
      case 'resume':
        await this.deps.node.resume();
        return;
      case 'open':
        this.deps.onOpen();
        return;
      case 'quit':
        this.deps.onQuit();
        return;
    }
  }

  private render(): void {
    if (this.store.isDisposed) return;
    const node = this.deps.node;
    const menu = buildTrayMenu({
      node: node.status(),
      courierPending: node.ledger.courier.counts().pending,
      flushing: this.flushing,
      lastJobAt: this.lastJobAt,
      now: node.clock.now(),
    });
    if (this.lastMenu?.status !== menu.status) this.tray.setImage(this.iconPath(menu.status));
    this.lastMenu = menu;
    this.tray.setToolTip(menu.tooltip);
    this.tray.setContextMenu([
      { type: 'normal', label: menu.statusLine, enabled: false },
      { type: 'separator' },
      ...menu.items.map((item): NativeTrayMenuItem => ({
        type: 'normal',
        label: item.label,
        enabled: item.enabled,
        click: () => {
          this.onAction(item.id).catch((err: unknown) =>
            node.logger.error('tray action failed', { action: item.id, error: errorMessage(err) }),
          );
        },
      })),
    ]);
  }
}
