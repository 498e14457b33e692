import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Notification,
  powerMonitor,
  safeStorage,
  type IpcMainInvokeEvent,
} from 'electron';
import {
  dispatchContractCall,
  IPC_CALL_CHANNEL,
  IPC_EVENT_CHANNEL,
  type ContractHandlers,
  type Settings,
} from '../../shared/contract.js';
import { errorMessage } from '../../core/errors.js';
import type { AppService } from '../api/app-service.js';
import { LogBuffer } from '../api/log-buffer.js';
import { isTrustedSender, type AppPageLocation } from '../api/sender-check.js';
import { systemClock as clock } from '../../node/clock.js';
import { DisposableStore } from '../../node/lifecycle.js';
import { createLogger, errorFields } from '../../node/log.js';
import { sealKey, unsealForStart, type KeySealer } from '../services/key-seal.js';
import { startAppHost } from '../../hosts/app-host.js';
import { applyLinuxAutostart } from './autostart.js';
import { openGpuWindowChannel } from './gpu-window.js';
import { builtPage, createMainWindow, mainWindowWebPreferences } from './main-window.js';
import { hardenAllWebContents, hardenDefaultSession } from './security.js';
import { DesktopState, ElectronStoreSettingsStore } from './settings-store.js';
import { electronTray, notify, TrayService } from './tray.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const preloadPath = join(here, '../preload/index.cjs');
const logger = createLogger('desktop');

/** Everything the running app holds; undefined before start-up and after shutdown. */
interface Running {
  app: AppService;
  tray: TrayService | undefined;
  state: DesktopState;
  /** Owns the app host, the IPC handler, the event forwarding, the power listeners and the tray: `dispose()` is the shutdown. */
  store: DisposableStore;
}
let running: Running | undefined;
let mainWindow: BrowserWindow | undefined;
let quitting = false;

/** resources/ beside the app: inside the package's resources folder once packaged. */
function iconDir(): string {
  return app.isPackaged ? join(process.resourcesPath, 'resources') : join(app.getAppPath(), 'resources');
}

/** The app's own page: the built renderer file, or the dev server while developing. */
function appPage(): AppPageLocation {
  const dev = process.env.ELECTRON_RENDERER_URL;
  return dev ? { devServer: dev } : { fileUrl: pathToFileURL(builtPage(here)).href };
}

/** Electron's safeStorage as the key sealer; the backend name says whether it protects anything. */
const safeStorageSealer: KeySealer = {
  isEncryptionAvailable: () => safeStorage.isEncryptionAvailable(),
  encryptString: (plain) => safeStorage.encryptString(plain),
  decryptString: (sealed) => safeStorage.decryptString(sealed),
  backend: () =>
    process.platform === 'linux'
      ? safeStorage.getSelectedStorageBackend()
      : process.platform === 'darwin'
        ? 'keychain'
        : process.platform === 'win32'
          ? 'dpapi'
          : 'unknown',
};

function showWindow(): void {
  if (!mainWindow || mainWindow.isDestroyed()) {
    openWindow(true);
    return;
  }
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.show();
  mainWindow.focus();
}

function openWindow(show: boolean): BrowserWindow {
  const dev = process.env.ELECTRON_RENDERER_URL;
  const win = createMainWindow({
    preload: preloadPath,
    icon: join(iconDir(), 'icon.png'),
    page: dev ? { url: dev } : { file: builtPage(here) },
    show,
  });
  // Closing the window keeps the node running in the tray when close_to_tray is on (a one-time notice says so).
  win.on('close', (event) => {
    const r = running;
    if (quitting || !r || !r.tray || !r.app.settings.get().close_to_tray) return;
    event.preventDefault();
    win.hide();
    if (!r.state.closeToTrayNoticeShown) {
      r.state.markCloseToTrayNoticeShown();
      if (Notification.isSupported())
        new Notification({
          title: 'Tessera is still running',
          body: 'It keeps providing from the tray icon. Quit from the tray menu; turn off "close to tray" in Settings.',
        }).show();
    }
  });
  // The hidden compute window stays open, so 'window-all-closed' never fires: closing the
  // main window (without close-to-tray) is what quits, except on macOS.
  win.on('closed', () => {
    mainWindow = undefined;
    if (!quitting && process.platform !== 'darwin' && !(running?.tray && running.app.settings.get().close_to_tray))
      app.quit();
  });
  mainWindow = win;
  return win;
}

/** Only the main window's own top frame, showing the app's own page, may call the contract. */
function fromMainWindow(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  const win = mainWindow;
  return isTrustedSender(
    {
      isMainWindow: win !== undefined && !win.isDestroyed() && event.sender === win.webContents,
      isTopFrame: win !== undefined && !win.isDestroyed() && frame !== null && frame === win.webContents.mainFrame,
      frameUrl: frame?.url ?? null,
    },
    appPage(),
  );
}

/**
 * Serves the merged handler table on one IPC channel (sender check, then schema, then call)
 * and forwards node events to the window, until `store` is disposed (it removes the handler
 * and the forwarding).
 */
function registerIpc(store: DisposableStore, handlers: ContractHandlers, events: AppService['events']): void {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, channel: unknown, args: unknown) => {
    if (!fromMainWindow(event))
      return {
        ok: false,
        error: { code: 'UNTRUSTED_SENDER', message: 'calls are accepted only from the Tessera window' },
      };
    return dispatchContractCall(handlers, channel, args, {
      onInternal: (err, c) => logger.error('contract call failed', { channel: c, ...errorFields(err) }),
    });
  });
  store.add(() => ipcMain.removeHandler(IPC_CALL_CHANNEL), 'IPC handler');
  store.add(
    events.onDidEmit((name, payload) => {
      if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(IPC_EVENT_CHANNEL, name, payload);
    }),
    'event forwarding',
  );
}

/** Ticks `policy` when the power source changes, until `store` is disposed. */
function watchPower(store: DisposableStore, tick: () => void): void {
  powerMonitor.on('on-battery', tick);
  store.add(() => powerMonitor.off('on-battery', tick), 'powerMonitor on-battery');
  powerMonitor.on('on-ac', tick);
  store.add(() => powerMonitor.off('on-ac', tick), 'powerMonitor on-ac');
}

/** Start on login follows the setting: login items on Windows and macOS, an XDG autostart entry on Linux. */
function applyLoginItem(settings: Settings): void {
  if (process.platform === 'win32' || process.platform === 'darwin') {
    app.setLoginItemSettings({ openAtLogin: settings.start_on_login, args: ['--hidden'] });
    return;
  }
  // Only a packaged app has a stable program to start; a development run leaves the entry alone.
  if (process.platform === 'linux' && app.isPackaged) {
    try {
      applyLinuxAutostart(settings.start_on_login, process.env.APPIMAGE ?? app.getPath('exe'));
    } catch (err) {
      logger.warn('could not update the autostart entry', { error: errorMessage(err) });
    }
  }
}

async function start(): Promise<void> {
  const page = appPage();
  hardenDefaultSession(page);
  // The desktop app keeps its node data (ledger, courier bundles, config.toml, settings) in
  // userData unless TESSERA_DATA_DIR points elsewhere; GPU hashing runs in the hidden compute window.
  const dataDir = resolve(process.env.TESSERA_DATA_DIR ?? app.getPath('userData'));
  mkdirSync(dataDir, { recursive: true });
  unsealForStart(dataDir, safeStorageSealer);
  const store = new DisposableStore('desktop app', logger);
  try {
    await startApp(store, dataDir);
  } catch (err) {
    // Close the ledger and services that did start before the error dialog ends the process.
    await store.dispose().catch(() => undefined);
    throw err;
  }
}

/** Everything on the desktop: settings, the app host (node, AppService, provide policy), key sealing, IPC, the tray, the window. */
async function startApp(store: DisposableStore, dataDir: string): Promise<void> {
  const settings = new ElectronStoreSettingsStore(dataDir, applyLoginItem);
  applyLoginItem(settings.get());
  const host = store.add(
    await startAppHost({
      dataDir,
      settings,
      clock,
      logger,
      logs: new LogBuffer(2000, clock.now),
      info: { name: app.getName(), version: app.getVersion(), platform: process.platform },
      headless: false,
      openGpuHost: openGpuWindowChannel,
      metricsPort: null,
      practiceMarket: {},
      policy: {
        observe: () => ({ idleSeconds: powerMonitor.getSystemIdleTime(), onBattery: powerMonitor.isOnBatteryPower() }),
        intervalMs: 5_000,
      },
    }),
    'app host',
  );
  // After the ledger opened: on a first start that is what creates the provider key.
  try {
    const keyState = sealKey(dataDir, safeStorageSealer);
    if (keyState.mode === 'plain')
      logger.warn('provider key stored as a plain file: no OS keychain to seal it', { backend: keyState.backend });
  } catch (err) {
    logger.warn('provider key left as a plain file', { error: errorMessage(err) });
  }
  const { app: appNode, handlers, policy } = host;
  registerIpc(store, handlers, appNode.events);
  watchPower(
    store,
    () =>
      void policy
        .tick()
        .catch((err: unknown) => logger.error('provide policy tick failed', { error: errorMessage(err) })),
  );

  running = { app: appNode, tray: undefined, state: new DesktopState(dataDir), store };
  try {
    running.tray = new TrayService({
      node: appNode,
      handlers,
      iconDir: iconDir(),
      createTray: electronTray,
      notify,
      onOpen: showWindow,
      onQuit: () => app.quit(),
    });
    store.add(running.tray, 'tray');
  } catch (err) {
    // Some Linux desktops have no status area: the app still runs, closing the window quits.
    logger.warn('no system tray available', { error: errorMessage(err) });
  }
  if (process.env.TESSERA_E2E === '1') exposeTestHooks(running);

  const startHidden = process.argv.includes('--hidden') || app.getLoginItemSettings().wasOpenedAtLogin;
  openWindow(!startHidden || !running.tray);
}

/** Test-only (TESSERA_E2E=1, set by test/e2e/electron.spec.ts): lets the spec drive the tray and read the window's preferences from the main process. */
function exposeTestHooks(r: Running): void {
  Object.assign(globalThis, {
    __tesseraE2E: {
      webPreferences: () => mainWindowWebPreferences(preloadPath),
      trayMenu: () => r.tray?.menu(),
      trayFlush: () => r.tray?.flush(),
      windowCount: () => BrowserWindow.getAllWindows().length,
    },
  });
}

hardenAllWebContents();

// One running app per user: a second launch focuses the first one's window and exits.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (running) showWindow();
  });

  void app.whenReady().then(async () => {
    try {
      await start();
    } catch (err) {
      logger.error('could not start', errorFields(err));
      dialog.showErrorBox('Tessera cannot start', errorMessage(err));
      app.exit(2);
    }
  });

  app.on('activate', () => showWindow());

  app.on('before-quit', () => {
    quitting = true;
  });

  // Graceful shutdown before the process ends.
  app.on('will-quit', (event) => {
    const r = running;
    if (!r) return;
    event.preventDefault();
    running = undefined;
    // In reverse order of start: the tray, the power listeners, the IPC handler and event
    // forwarding, then the app host (the policy; leaving the market, where jobs in flight finish
    // or are reported; the practice market; the digest workers, the node services and the ledger).
    void r.store
      .dispose()
      .catch(() => undefined) // each failed release is logged by the store
      .finally(() => app.quit());
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin' && !running?.tray) app.quit();
  });
}
