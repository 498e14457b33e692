import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { dispatchContractCall, IPC_CALL_CHANNEL, IPC_EVENT_CHANNEL, type ContractHandlers } from '../../shared/contract.js';
import { AppNode } from '../api/app-node.js';
import { createAppHandlers } from '../api/index.js';
import { isTrustedSender, type AppPageLocation } from '../api/sender-check.js';
import { JsonFileSettingsStore } from '../api/settings-store.js';
import { createLogger } from '../log.js';
import { pricingBands, startNode, type RunningNode } from '../node.js';
import { openGpuWindowChannel } from './gpu-window.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const logger = createLogger();
let mainWindow: BrowserWindow | undefined;
let node: RunningNode | undefined;
let appNode: AppNode | undefined;

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    title: 'Tessera',
    show: false,
    webPreferences: {
      preload: join(here, '../preload/index.cjs'),
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
    },
  });
  win.once('ready-to-show', () => win.show());
  // The window shows only the app: no navigation away (a link, a dropped file) and no pop-ups.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  // The hidden compute window stays open, so 'window-all-closed' never fires: closing the
  // main window is what quits (except on macOS, where the app stays in the dock).
  win.on('closed', () => {
    mainWindow = undefined;
    if (process.platform !== 'darwin') app.quit();
  });
  mainWindow = win;
  if (process.env.ELECTRON_RENDERER_URL) void win.loadURL(process.env.ELECTRON_RENDERER_URL);
  else void win.loadFile(join(here, '../renderer/index.html'));
  return win;
}

/** The app's own page: the built renderer file, or the dev server while developing. */
function appPage(): AppPageLocation {
  const dev = process.env.ELECTRON_RENDERER_URL;
  return dev ? { devServer: dev } : { fileUrl: pathToFileURL(join(here, '../renderer/index.html')).href };
}

/** Only the main window's own top frame, showing the app's own page, may call the contract. */
function fromMainWindow(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  const win = mainWindow;
  return isTrustedSender({ isMainWindow: win !== undefined && event.sender === win.webContents, isTopFrame: win !== undefined && frame !== null && frame === win.webContents.mainFrame, frameUrl: frame?.url ?? null }, appPage());
}

/** Serves the merged handler table on one IPC channel (sender check, then schema, then call) and forwards node events to the window. */
function registerIpc(handlers: ContractHandlers, events: AppNode['events']): void {
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

void app.whenReady().then(async () => {
  let started: RunningNode;
  try {
    // The desktop app keeps its node data (ledger, courier bundles, config.toml) in userData
    // unless TESSERA_DATA_DIR points elsewhere; GPU hashing runs in the hidden compute window.
    const dataDir = process.env.TESSERA_DATA_DIR ?? app.getPath('userData');
    started = await startNode({ dataDir, logger, openGpuHost: openGpuWindowChannel });
  } catch (err) {
    dialog.showErrorBox('Tessera cannot start', err instanceof Error ? err.message : String(err));
    app.exit(2);
    return;
  }
  node = started;
  appNode = new AppNode({
    ledger: started.ledger,
    settings: new JsonFileSettingsStore(join(started.ledger.dataDir.root, 'settings.json')),
    clock: { now: () => Date.now() },
    info: { name: app.getName(), version: app.getVersion(), platform: process.platform },
    logger,
    gpu: () => started.gpu?.capabilities() ?? { hardware_gpu: false, adapter: null },
    pricing: () => pricingBands(started),
  });
  registerIpc(createAppHandlers(appNode), appNode.events);
  createWindow();
  app.on('activate', () => {
    if (!mainWindow) createWindow();
  });
});

// Save the price board and close the ledger before the process ends.
app.on('will-quit', (event) => {
  if (!node) return;
  event.preventDefault();
  const closing = node;
  const closingApp = appNode;
  node = undefined;
  appNode = undefined;
  void (closingApp?.close() ?? Promise.resolve())
    .catch((err: unknown) => logger.error('could not leave the market cleanly', { error: String(err) }))
    .then(() => closing.close())
    .finally(() => app.quit());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
