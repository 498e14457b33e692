import { TesseraError } from '../../core/errors.js';
import { DEFAULT_SETTINGS, SettingsPatchSchema, SettingsSchema, type Settings } from '../../shared/contract.js';

/** Where settings live: electron-store on the desktop, conf in headless mode, memory in tests. */
export interface SettingsStore {
  get(): Settings;
  /** Validates and merges a patch; returns the settings now stored. */
  set(patch: Partial<Settings>): Settings;
}

function merge(current: Settings, patch: unknown): Settings {
  const p = SettingsPatchSchema.safeParse(patch);
  if (!p.success) {
    const issue = p.error.issues[0];
    throw new TesseraError('BAD_SETTINGS', `setting ${issue?.path.join('.') || '?'}: ${issue?.message ?? 'invalid'}`);
  }
  return SettingsSchema.parse({ ...current, ...p.data });
}

/** Settings in memory (tests, a node without a data dir). */
export class MemorySettingsStore implements SettingsStore {
  private current: Settings;
  constructor(initial: Partial<Settings> = {}) {
    this.current = SettingsSchema.parse({ ...DEFAULT_SETTINGS, ...initial });
  }
  get(): Settings {
    return this.current;
  }
  set(patch: Partial<Settings>): Settings {
    this.current = merge(this.current, patch);
    return this.current;
  }
}
