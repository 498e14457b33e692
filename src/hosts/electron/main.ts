import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, Notification, powerMonitor, safeStorage, type IpcMainInvokeEvent } from 'electron';
import { dispatchContractCall, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type ContractHandlers, type Settings } from '../../shared/contract.js';
import type { AppService } from '../../main/api/app-service.js';
import { createHostAppNode } from '../host-node.js';
import { createAppHandlers } from '../../main/api/index.js';
import { LogBuffer } from '../../main/api/log-buffer.js';
import { isTrustedSender, type AppPageLocation } from '../../main/api/sender-check.js';
import { createLogger } from '../../node/log.js';
import { startNodeServices, type NodeServices } from '../../main/node-services.js';
import { DigestPool } from '../../node/digest/digest-pool.js';
import { sealKey, unsealForStart, type KeySealer } from '../../main/services/key-seal.js';
import { ProvidePolicyController } from '../../main/services/provide-policy.js';
import { applyLinuxAutostart } from './autostart.js';
import { openGpuWindowChannel } from './gpu-window.js';
import { builtPage, createMainWindow, mainWindowWebPreferences } from './main-window.js';
import { hardenAllWebContents, hardenDefaultSession } from './security.js';
import { DesktopState, ElectronStoreSettingsStore } from './settings-store.js';
import { electronTray, notify, TrayService } from './tray.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const preloadPath = join(here, '../preload/index.cjs');
const logger = createLogger();
const clock = { now: () => Date.now() };

/** Everything the running app holds; undefined before start-up and after shutdown. */
interface Running {
  node: NodeServices;
  app: AppService;
  handlers: ContractHandlers;
  digester: DigestPool;
  policy: ProvidePolicyController;
  tray: TrayService | undefined;
  state: DesktopState;
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
  backend: () => (process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : process.platform === 'darwin' ? 'keychain' : process.platform === 'win32' ? 'dpapi' : 'unknown'),
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
  const win = createMainWindow({ preload: preloadPath, icon: join(iconDir(), 'icon.png'), page: dev ? { url: dev } : { file: builtPage(here) }, show });
  // Closing the window keeps the node running in the tray when close_to_tray is on (a one-time notice says so).
  win.on('close', (event) => {
    const r = running;
    if (quitting || !r || !r.tray || !r.app.settings.get().close_to_tray) return;
    event.preventDefault();
    win.hide();
    if (!r.state.closeToTrayNoticeShown) {
      r.state.markCloseToTrayNoticeShown();
      if (Notification.isSupported()) new Notification({ title: 'Tessera is still running', body: 'It keeps providing from the tray icon. Quit from the tray menu; turn off "close to tray" in Settings.' }).show();
    }
  });
  // The hidden compute window stays open, so 'window-all-closed' never fires: closing the
  // main window (without close-to-tray) is what quits, except on macOS.
  win.on('closed', () => {
    mainWindow = undefined;
    if (!quitting && process.platform !== 'darwin' && !(running?.tray && running.app.settings.get().close_to_tray)) app.quit();
  });
  mainWindow = win;
  return win;
}

/** Only the main window's own top frame, showing the app's own page, may call the contract. */
function fromMainWindow(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  const win = mainWindow;
  return isTrustedSender({ isMainWindow: win !== undefined && !win.isDestroyed() && event.sender === win.webContents, isTopFrame: win !== undefined && !win.isDestroyed() && frame !== null && frame === win.webContents.mainFrame, frameUrl: frame?.url ?? null }, appPage());
}

/** Serves the merged handler table on one IPC channel (sender check, then schema, then call) and forwards node events to the window. */
function registerIpc(handlers: ContractHandlers, events: AppService['events']): void {
  ipcMain.handle(IPC_CALL_CHANNEL, async (event, channel: unknown, args: unknown) => {
    if (!fromMainWindow(event)) return { ok: false, error: { code: 'UNTRUSTED_SENDER', message: 'calls are accepted only from the Tessera window' } };
    return dispatchContractCall(handlers, channel, args, {
      onInternal: (err, c) => logger.error('contract call failed', { channel: c, error: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined }),
    });
  });
  events.onDidEmit((name, payload) => {
    if (mainWindow && !mainWindow.isDestroyed()) mainWindow.webContents.send(IPC_EVENT_CHANNEL, name, payload);
  });
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
      logger.warn('could not update the autostart entry', { error: err instanceof Error ? err.message : String(err) });
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
  const node = await startNodeServices({ dataDir, logger, openGpuHost: openGpuWindowChannel });
  try {
    await startApp(node);
  } catch (err) {
    // Close the ledger and services that did start before the error dialog ends the process.
    await node.close().catch(() => undefined);
    throw err;
  }
}

/** Everything above the node: key sealing, settings, the AppService and its IPC, the provide policy, the tray, the window. */
async function startApp(node: NodeServices): Promise<void> {
  try {
    const keyState = sealKey(node.ledger.dataDir.root, safeStorageSealer);
    if (keyState.mode === 'plain') logger.warn('provider key stored as a plain file: no OS keychain to seal it', { backend: keyState.backend });
  } catch (err) {
    logger.warn('provider key left as a plain file', { error: err instanceof Error ? err.message : String(err) });
  }
  const settings = new ElectronStoreSettingsStore(node.ledger.dataDir.root, applyLoginItem);
  applyLoginItem(settings.get());
  const logs = new LogBuffer(2000, clock.now);
  const { app: appNode, digester } = createHostAppNode({
    node,
    settings,
    clock,
    logs,
    logger,
    info: { name: app.getName(), version: app.getVersion(), platform: process.platform },
    headless: false,
  });
  const handlers = createAppHandlers(appNode);
  registerIpc(handlers, appNode.events);

  // Provide only when idle / on mains power / inside the schedule, as the settings say.
  const policy = new ProvidePolicyController({
    target: appNode,
    settings: () => settings.get(),
    observe: () => ({ idleSeconds: powerMonitor.getSystemIdleTime(), onBattery: powerMonitor.isOnBatteryPower() }),
    clock,
    logger,
  });
  const tickNow = () => void policy.tick().catch((err: unknown) => logger.error('provide policy tick failed', { error: String(err) }));
  powerMonitor.on('on-battery', tickNow);
  powerMonitor.on('on-ac', tickNow);
  await policy.tick();
  policy.start(5_000);

  running = { node, app: appNode, handlers, digester, policy, tray: undefined, state: new DesktopState(node.ledger.dataDir.root) };
  try {
    running.tray = new TrayService({ node: appNode, handlers, iconDir: iconDir(), createTray: electronTray, notify, onOpen: showWindow, onQuit: () => app.quit() });
  } catch (err) {
    // Some Linux desktops have no status area: the app still runs, closing the window quits.
    logger.warn('no system tray available', { error: err instanceof Error ? err.message : String(err) });
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

/**
 * Stops in order: the policy and the tray, then the node leaves the market (stops taking
 * jobs; jobs in flight finish or are reported within the drain timeout) and the practice
 * market closes, then the digest workers, then the node itself (saves the price board, stops
 * the runner and the GPU host, closes the ledger). A failed step is logged; the rest still run.
 */
async function shutdown(r: Running): Promise<void> {
  const steps: [string, () => unknown][] = [
    ['provide policy', () => r.policy.stop()],
    ['tray', () => r.tray?.dispose()],
    ['leave market', () => r.app.close()],
    ['digest workers', () => r.digester.close()],
    ['node services and ledger', () => r.node.close()],
  ];
  for (const [name, step] of steps) {
    try {
      await step();
    } catch (err) {
      logger.error('shutdown step failed', { step: name, error: err instanceof Error ? err.message : String(err) });
    }
  }
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
      dialog.showErrorBox('Tessera cannot start', err instanceof Error ? err.message : String(err));
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
    void shutdown(r).finally(() => app.quit());
  });

  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin' && !running?.tray) app.quit();
  });
}
