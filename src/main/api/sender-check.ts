/** What the Electron host knows about an IPC message's sender (extracted so the rule runs under plain Node). */
export interface IpcSenderFacts {
  /** The sender's webContents is the main window's. */
  isMainWindow: boolean;
  /** The sending frame is the main window's top frame (not an iframe). */
  isTopFrame: boolean;
  /** The sending frame's URL, or null when the frame is gone. */
  frameUrl: string | null;
}

/** Where the app's own page lives: the dev server's origin, or the built renderer file. */
export type AppPageLocation = { devServer: string } | { fileUrl: string };

/** True when `url` is the app's own page: the same dev-server origin, or exactly the built file (hash and query ignored). */
export function isAppPage(url: string, page: AppPageLocation): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if ('devServer' in page) {
    let dev: URL;
    try {
      dev = new URL(page.devServer);
    } catch {
      return false;
    }
    return parsed.origin === dev.origin && parsed.origin !== 'null';
  }
  if (parsed.protocol !== 'file:') return false;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}` === page.fileUrl.split(/[?#]/)[0];
}

/** Only the main window's own top frame, showing the app's own page, may call the contract. */
export function isTrustedSender(facts: IpcSenderFacts, page: AppPageLocation): boolean {
  return facts.isMainWindow && facts.isTopFrame && facts.frameUrl !== null && isAppPage(facts.frameUrl, page);
}
