import { join } from 'node:path';
import { BrowserWindow, type WebPreferences } from 'electron';

/** The main window's web preferences: the renderer is a sandboxed web page with the preload's two verbs and nothing else. */
export function mainWindowWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

export interface MainWindowOptions {
  preload: string;
  icon: string;
  /** The dev server's URL while developing, else the built page's file. */
  page: { url: string } | { file: string };
  show: boolean;
}

/** The hardened main window: no navigation away (a link, a dropped file), no pop-ups. */
export function createMainWindow(o: MainWindowOptions): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 900,
    minHeight: 600,
    title: 'Tessera',
    icon: o.icon,
    show: false,
    webPreferences: mainWindowWebPreferences(o.preload),
  });
  if (o.show) win.once('ready-to-show', () => win.show());
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  if ('url' in o.page) void win.loadURL(o.page.url);
  else void win.loadFile(o.page.file);
  return win;
}

/** Where the built renderer's page is, relative to out/main. */
export function builtPage(here: string): string {
  return join(here, '../renderer/index.html');
}
