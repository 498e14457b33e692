import Store from 'electron-store';
import { TesseraError } from '../../core/errors.js';
import { parseSettings, type Settings } from '../../shared/contract.js';
import { MemorySettingsStore, type SettingsStore } from '../api/settings-store.js';

/**
 * The desktop app's settings, kept by electron-store in `<cwd>/settings.json` (the same flat
 * JSON the other stores write, so a data dir moves between hosts). Patches are validated by
 * the shared schema before anything is written.
 */
export class ElectronStoreSettingsStore implements SettingsStore {
  private readonly store: Store<Settings>;
  private current: Settings;

  constructor(
    cwd: string,
    /** Runs after every accepted change (the host applies start-on-login, the policy reads on its tick). */
    private readonly onDidChange?: (settings: Settings) => void,
  ) {
    this.store = new Store<Settings>({ name: 'settings', cwd, clearInvalidConfig: false });
    const parsed = parseSettings(this.store.store);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TesseraError(
        'BAD_SETTINGS',
        `${this.store.path}: setting ${issue?.path.join('.') || '?'} ${issue?.message ?? 'is invalid'}; fix or delete the file`,
      );
    }
    this.current = parsed.data;
  }

  get(): Settings {
    return this.current;
  }

  set(patch: Partial<Settings>): Settings {
    // The memory store applies the same patch rules (strict keys, one-line errors naming the field).
    const next = new MemorySettingsStore(this.current).set(patch);
    this.store.store = next;
    this.current = next;
    this.onDidChange?.(next);
    return next;
  }
}

/** Small desktop-only facts that are not settings (a notice already shown). */
export class DesktopState {
  private readonly store: Store<{ close_to_tray_notice_shown: boolean }>;
  constructor(cwd: string) {
    this.store = new Store({ name: 'desktop-state', cwd, defaults: { close_to_tray_notice_shown: false } });
  }
  get closeToTrayNoticeShown(): boolean {
    return this.store.get('close_to_tray_notice_shown') === true;
  }
  markCloseToTrayNoticeShown(): void {
    this.store.set('close_to_tray_notice_shown', true);
  }
}
