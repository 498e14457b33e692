import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { TesseraError, errorMessage } from '../../core/errors.js';
import { DEFAULT_SETTINGS, parseSettings, SettingsPatchSchema, SettingsSchema, type Settings } from '../../shared/contract.js';

/** Where settings live: electron-store on the desktop, conf in headless mode, memory or a JSON file in tests. */
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

/** Settings in one JSON file, written atomically; a missing file means the defaults. */
export class JsonFileSettingsStore implements SettingsStore {
  private current: Settings;
  constructor(private readonly path: string) {
    let raw: unknown = {};
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new TesseraError('BAD_SETTINGS', `${path} is not valid settings JSON (${errorMessage(err)}): fix or delete it`);
    }
    const parsed = parseSettings(raw);
    if (!parsed.success) throw new TesseraError('BAD_SETTINGS', `${path}: setting ${parsed.error.issues[0]?.path.join('.') ?? '?'} ${parsed.error.issues[0]?.message ?? 'is invalid'}; fix or delete the file`);
    this.current = parsed.data;
  }
  get(): Settings {
    return this.current;
  }
  set(patch: Partial<Settings>): Settings {
    const next = merge(this.current, patch);
    const tmp = `${this.path}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.current = next;
    return next;
  }
}
