import { join } from 'node:path';
import { Menu, nativeImage, Notification, Tray, type MenuItemConstructorOptions } from 'electron';
import { dispatchContractCall, type ContractHandlers, type FlushSummaryInfo } from '../../shared/contract.js';
import type { AppService } from '../../main/api/app-service.js';
import { buildTrayMenu, flushNotification, type TrayAction, type TrayMenu } from '../../main/tray-menu.js';

export interface TrayServiceDeps {
  node: AppService;
  /** The merged contract handlers: the tray's flush is the same `courier:flush` the window calls. */
  handlers: ContractHandlers;
  /** resources/ (tray-<status>.png, with @2x beside each). */
  iconDir: string;
  onOpen(): void;
  onQuit(): void;
}

/**
 * The system tray as a state-driven service: node events and flushes update the state, one
 * render draws buildTrayMenu's output, clicks are forwarded by item id.
 */
export class TrayService {
  private readonly tray: Tray;
  private flushing = false;
  private lastMenu: TrayMenu | undefined;
  private readonly disposers: (() => void)[] = [];

  constructor(private readonly deps: TrayServiceDeps) {
    this.tray = new Tray(this.icon('offline'));
    this.tray.on('click', () => deps.onOpen());
    this.disposers.push(deps.node.events.onDidEmit((name) => {
      if (name === 'node:status' || name === 'courier:flush-progress' || name === 'job:finished') this.render();
    }));
    // Receipts added by another program (`tessera courier send`) show up within a few seconds.
    const refresh = setInterval(() => this.render(), 5_000);
    refresh.unref();
    this.disposers.push(() => clearInterval(refresh));
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
      note = env.ok ? flushNotification(env.result as FlushSummaryInfo) : { title: 'Courier flush failed', body: env.error.message };
    } finally {
      this.flushing = false;
      this.render();
    }
    if (Notification.isSupported()) new Notification({ title: note.title, body: note.body }).show();
    return note;
  }

  dispose(): void {
    for (const d of this.disposers.reverse()) d();
    this.disposers.length = 0;
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }

  private icon(status: TrayMenu['status']) {
    return nativeImage.createFromPath(join(this.deps.iconDir, `tray-${status}.png`));
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
    if (this.tray.isDestroyed()) return;
    const node = this.deps.node;
    const menu = buildTrayMenu({ node: node.status(), courierPending: node.ledger.courier.counts().pending, flushing: this.flushing });
    if (this.lastMenu?.status !== menu.status) this.tray.setImage(this.icon(menu.status));
    this.lastMenu = menu;
    this.tray.setToolTip(menu.tooltip);
    const template: MenuItemConstructorOptions[] = [
      { label: menu.statusLine, enabled: false },
      { type: 'separator' },
      ...menu.items.map((item): MenuItemConstructorOptions => ({
        label: item.label,
        enabled: item.enabled,
        click: () => {
          this.onAction(item.id).catch((err: unknown) => node.logger.error('tray action failed', { action: item.id, error: err instanceof Error ? err.message : String(err) }));
        },
      })),
    ];
    this.tray.setContextMenu(Menu.buildFromTemplate(template));
  }
}
