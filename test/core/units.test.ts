import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/core/hex.js';
import { formatBytes, parseSize } from '../../src/core/units.js';

describe('units and hex', () => {
  it('parses sizes with binary and decimal units', () => {
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('1MiB')).toBe(1 << 20);
    expect(parseSize('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseSize('1MB')).toBe(1_000_000);
    expect(() => parseSize('12 parsecs', '--size')).toThrow(/--size "12 parsecs" is not a size/);
    expect(() => parseSize('0.5B')).toThrow(/whole number/);
  });

  it('formats sizes for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
  });

  it('round-trips hex and encodes UTF-8 like the platform', () => {
    const bytes = new Uint8Array([0, 1, 0xab, 0xff]);
    expect(toHex(bytes)).toBe('0001abff');
    expect(fromHex('0001ABff')).toEqual(bytes);
    expect(() => fromHex('abc', 'block hash')).toThrow(/block hash is not valid hex/);
    for (const s of ['', 'ascii', 'héllo', '日本', '🚀x'])
      expect(utf8(s)).toEqual(new Uint8Array(Buffer.from(s, 'utf8')));
  });
});
