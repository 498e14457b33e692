import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { CHANNELS, dispatchContractCall, type ContractHandlers } from '../../shared/contract.js';
import { createLogger } from '../log.js';
import { pricingBands, startNode, type RunningNode } from '../node.js';
import { openGpuWindowChannel } from './gpu-window.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const logger = createLogger();
let mainWindow: BrowserWindow | undefined;
let node: RunningNode | undefined;

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
function isAppUrl(url: string): boolean {
  const dev = process.env.ELECTRON_RENDERER_URL;
  if (dev) return url.startsWith(dev);
  return url === pathToFileURL(join(here, '../renderer/index.html')).href;
}

/** Only the main window's own top frame, showing the app's own page, may call the contract. */
function fromMainWindow(event: IpcMainInvokeEvent): boolean {
  const frame = event.senderFrame;
  return mainWindow !== undefined && event.sender === mainWindow.webContents && frame === mainWindow.webContents.mainFrame && frame !== null && isAppUrl(frame.url.split('#')[0] ?? '');
}

function registerIpc(handlers: ContractHandlers): void {
  for (const channel of CHANNELS) {
    ipcMain.handle(channel, async (event, ...args: unknown[]) => {
      if (!fromMainWindow(event)) throw new Error('UNTRUSTED_SENDER: calls are accepted only from the Tessera window');
      const res = await dispatchContractCall(handlers, channel, args);
      if (!res.ok) throw new Error(`${res.error.code}: ${res.error.message}`);
      return res.result;
    });
  }
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
  registerIpc({
    'app:info': () => ({ name: app.getName(), version: app.getVersion(), platform: process.platform }),
    'gpu:capabilities': () => started.gpu?.capabilities() ?? { hardware_gpu: false, adapter: null },
    'settlement:status': () => started.ledger.settlement.status(),
    'pricing:bands': () => pricingBands(started),
  });
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
  node = undefined;
  void closing.close().finally(() => app.quit());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
