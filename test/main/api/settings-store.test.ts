import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonFileSettingsStore } from '../../../src/main/api/settings-store.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/contract.js';
import { tempDir } from '../../support/temp-dir.js';

describe('JsonFileSettingsStore', () => {
  it('starts from the defaults, persists a patch (0600) and reads it back in a new instance', () => {
    const path = join(tempDir(), 'settings.json');
    expect(new JsonFileSettingsStore(path).get()).toEqual(DEFAULT_SETTINGS);
    new JsonFileSettingsStore(path).set({ idle_only: true, schedule_hours: [22, 23] });
    expect(new JsonFileSettingsStore(path).get()).toEqual({ ...DEFAULT_SETTINGS, idle_only: true, schedule_hours: [22, 23] });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('fills in keys an older file lacks, and refuses a bad file or a bad patch with a one-line BAD_SETTINGS', () => {
    const path = join(tempDir(), 'settings.json');
    writeFileSync(path, JSON.stringify({ close_to_tray: false }));
    const store = new JsonFileSettingsStore(path);
    expect(store.get()).toEqual({ ...DEFAULT_SETTINGS, close_to_tray: false });
    expect(() => store.set({ threads: 0 })).toThrow(expect.objectContaining({ code: 'BAD_SETTINGS', message: expect.stringMatching(/^setting threads: /) }));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ close_to_tray: false });
    writeFileSync(path, '{"threads": "many"}');
    expect(() => new JsonFileSettingsStore(path)).toThrow(expect.objectContaining({ code: 'BAD_SETTINGS', message: expect.stringContaining(`${path}: setting threads`) }));
    writeFileSync(path, '{oops');
    expect(() => new JsonFileSettingsStore(path)).toThrow(expect.objectContaining({ code: 'BAD_SETTINGS', message: expect.not.stringContaining('\n') }));
  });
});
