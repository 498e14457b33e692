import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { applyLinuxAutostart } from '../../src/main/electron/autostart.js';
import { tempDir } from '../support/temp-dir.js';

describe('start on login (Linux autostart entry)', () => {
  it('writes an XDG autostart entry that starts the app hidden, and removes it when turned off', () => {
    const env = { XDG_CONFIG_HOME: tempDir() };
    const file = applyLinuxAutostart(true, '/opt/Tessera/My "Apps"/tessera', env);
    expect(file).toBe(`${env.XDG_CONFIG_HOME}/autostart/tessera.desktop`);
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')[0]).toBe('[Desktop Entry]');
    expect(text).toContain('Exec="/opt/Tessera/My \\"Apps\\"/tessera" --hidden\n');
    applyLinuxAutostart(false, '/opt/Tessera/tessera', env);
    expect(existsSync(file)).toBe(false);
    applyLinuxAutostart(false, '/opt/Tessera/tessera', env); // already off: no error
  });
});
