import Conf from 'conf';
import { errorMessage, TesseraError } from '../../core/errors.js';
import { parseSettings, SettingsPatchSchema, SettingsSchema, type Settings } from '../../shared/contract.js';
import type { SettingsStore } from '../../main/api/settings-store.js';

/** The settings file in the data dir (the desktop app's electron-store uses the same name). */
export const SETTINGS_FILE = 'settings.json';

/**
 * Settings in headless mode: `conf` (the library electron-store wraps) keeps them in
 * `DATA_DIR/settings.json`, written atomically with mode 0600; the zod schema of the contract
 * validates them on read (missing keys take the defaults) and every patch before it is written.
 * A damaged file is one BAD_SETTINGS line naming it.
 */
export class ConfSettingsStore implements SettingsStore {
  private readonly conf: Conf<Record<string, unknown>>;
  private current: Settings;

  constructor(dataDir: string) {
    const path = `${dataDir}/${SETTINGS_FILE}`;
    try {
      this.conf = new Conf<Record<string, unknown>>({
        cwd: dataDir,
        configName: 'settings',
        configFileMode: 0o600,
        accessPropertiesByDotNotation: false,
        clearInvalidConfig: false,
      });
    } catch (err) {
      throw new TesseraError(
        'BAD_SETTINGS',
        `${path} is not valid settings JSON (${firstLine(err)}): fix or delete it`,
      );
    }
    this.current = this.read();
  }

  /** Where the settings are stored. */
  get path(): string {
    return this.conf.path;
  }

  get(): Settings {
    return this.current;
  }

  set(patch: Partial<Settings>): Settings {
    const p = SettingsPatchSchema.safeParse(patch);
    if (!p.success) {
      const issue = p.error.issues[0];
      throw new TesseraError('BAD_SETTINGS', `setting ${issue?.path.join('.') || '?'}: ${issue?.message ?? 'invalid'}`);
    }
    const next = SettingsSchema.parse({ ...this.current, ...p.data });
    this.conf.store = next;
    this.current = next;
    return next;
  }

  private read(): Settings {
    let raw: unknown;
    try {
      raw = this.conf.store;
    } catch (err) {
      throw new TesseraError(
        'BAD_SETTINGS',
        `${this.conf.path} is not valid settings JSON (${firstLine(err)}): fix or delete it`,
      );
    }
    const parsed = parseSettings(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new TesseraError(
        'BAD_SETTINGS',
        `${this.conf.path}: setting ${issue?.path.join('.') || '?'} ${issue?.message ?? 'is invalid'}; fix or delete the file`,
      );
    }
    return parsed.data;
  }
}

function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0] ?? '';
}
