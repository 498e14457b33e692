import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfSettingsStore } from '../../../src/hosts/headless/conf-settings-store.js';
import { DEFAULT_SETTINGS } from '../../../src/shared/contract.js';
import { tempDir } from '../../support/temp-dir.js';

describe('ConfSettingsStore (headless settings in conf)', () => {
  it('starts with the defaults, keeps a patch across instances in DATA_DIR/settings.json (0600)', () => {
    const dir = tempDir('tessera-conf-');
    const a = new ConfSettingsStore(dir);
    expect(a.get()).toEqual(DEFAULT_SETTINGS);
    const next = a.set({ threads: 3, schedule_hours: [1, 2] });
    expect(next).toEqual({ ...DEFAULT_SETTINGS, threads: 3, schedule_hours: [1, 2] });
    const file = join(dir, 'settings.json');
    expect(a.path).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(next);
    expect(new ConfSettingsStore(dir).get()).toEqual(next);
  });

  it('refuses a bad patch with BAD_SETTINGS naming the setting, and writes nothing', () => {
    const dir = tempDir('tessera-conf-');
    const s = new ConfSettingsStore(dir);
    expect(() => s.set({ threads: 0 })).toThrow(
      expect.objectContaining({ code: 'BAD_SETTINGS', message: expect.stringMatching(/^setting threads: /) }),
    );
    expect(() => s.set({ bogus: true } as never)).toThrow(expect.objectContaining({ code: 'BAD_SETTINGS' }));
    expect(s.get()).toEqual(DEFAULT_SETTINGS);
    expect(new ConfSettingsStore(dir).get()).toEqual(DEFAULT_SETTINGS);
  });

  it('a damaged file is one BAD_SETTINGS line naming the file', () => {
    const dir = tempDir('tessera-conf-');
    const file = join(dir, 'settings.json');
    writeFileSync(file, '{"threads": 2,');
    let err: unknown;
    try {
      new ConfSettingsStore(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'BAD_SETTINGS' });
    const message = (err as Error).message;
    expect(message).toContain(file);
    expect(message).toMatch(/fix or delete it$/);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('a file with a bad value is BAD_SETTINGS naming the file and the setting; missing keys take the defaults', () => {
    const dir = tempDir('tessera-conf-');
    const file = join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify({ schedule_hours: [25] }));
    expect(() => new ConfSettingsStore(dir)).toThrow(
      expect.objectContaining({
        code: 'BAD_SETTINGS',
        message: expect.stringMatching(
          new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: setting schedule_hours\\.0 `),
        ),
      }),
    );
    writeFileSync(file, JSON.stringify({ threads: 4 }));
    expect(new ConfSettingsStore(dir).get()).toEqual({ ...DEFAULT_SETTINGS, threads: 4 });
  });
});
