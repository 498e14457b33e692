import { describe, expect, it } from 'vitest';
import { checkPackaging } from '../../scripts/check-packaging.mjs';

describe('electron-builder.yml', () => {
  it('parses, targets AppImage, deb, dmg and nsis, unpacks the native modules, and names icons that exist', () => {
    expect(checkPackaging(null)).toEqual([]);
  });
});
