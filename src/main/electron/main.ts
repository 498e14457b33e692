import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { contract, type AppInfo } from '../../shared/contract.js';
import { GpuHashService } from '../gpu/gpu-hash-service.js';
import { createLogger } from '../log.js';
import { createMetricsRegistry } from '../metrics.js';
import { openGpuWindowChannel } from './gpu-window.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const logger = createLogger();
const metrics = createMetricsRegistry();
let mainWindow: BrowserWindow | undefined;
let gpu: GpuHashService | undefined;

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

/** Only our own window's frames may call. */
function checkSender(event: IpcMainInvokeEvent): void {
  const url = event.senderFrame?.url ?? '';
  if (!url.startsWith('file://') && !(process.env.ELECTRON_RENDERER_URL && url.startsWith(process.env.ELECTRON_RENDERER_URL))) {
    throw new Error('unexpected sender');
  }
}

function registerIpc(): void {
  ipcMain.handle('app:info', (event) => {
    checkSender(event);
    const info: AppInfo = { name: app.getName(), version: app.getVersion(), platform: process.platform };
    return contract['app:info'].result.parse(info);
  });
  ipcMain.handle('gpu:capabilities', (event) => {
    checkSender(event);
    return contract['gpu:capabilities'].result.parse(gpu?.capabilities() ?? { hardware_gpu: false, adapter: null });
  });
}

void app.whenReady().then(() => {
  registerIpc();
  createWindow();
  // GPU hashing in the hidden compute window; the CPU takes every job until (and unless) it is ready.
  gpu = new GpuHashService({ openHost: openGpuWindowChannel, registry: metrics, logger });
  void gpu.start();
  app.on('activate', () => {
    if (!mainWindow) createWindow();
  });
});

app.on('before-quit', () => {
  void gpu?.close();
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
