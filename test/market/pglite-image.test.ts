import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { unpackPgImage } from '../../src/market/store/pglite-image.js';
import { tempDir } from '../support/temp-dir.js';

/** A ustar archive of `entries` (files with contents, or directories when `data` is null). */
function tar(entries: { name: string; data: Buffer | null }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${(e.data?.length ?? 0).toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write(e.data ? '0' : '5', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    blocks.push(h);
    if (e.data) blocks.push(e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

describe('unpacking the prebuilt store image', () => {
  it('writes files and directories, zero runs as holes of the right size', async () => {
    const dir = tempDir('tessera-image-');
    const image = join(dir, 'image.tar.gz');
    const zeros = Buffer.alloc(200_000);
    writeFileSync(
      image,
      tar([
        { name: '/PG_VERSION', data: Buffer.from('17\n') },
        { name: '/base', data: null },
        { name: '/base/5/1259', data: Buffer.from('x'.repeat(9000)) },
        { name: '/pg_wal/000000010000000000000001', data: Buffer.concat([Buffer.from('head'), zeros]) },
      ]),
    );
    await unpackPgImage(image, join(dir, 'store'));
    expect(readFileSync(join(dir, 'store', 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(readFileSync(join(dir, 'store', 'base/5/1259'), 'utf8')).toBe('x'.repeat(9000));
    const wal = join(dir, 'store', 'pg_wal/000000010000000000000001');
    expect(statSync(wal).size).toBe(200_004);
    expect(readFileSync(wal).subarray(0, 4).toString()).toBe('head');
    expect(existsSync(join(dir, 'store.unpacking'))).toBe(false);
  });

  it('refuses an entry outside the store, a truncated archive, or one without PG_VERSION, in one line, leaving nothing', async () => {
    const dir = tempDir('tessera-image-bad-');
    const whole = gunzipSync(tar([{ name: '/PG_VERSION', data: Buffer.alloc(4096, 1) }]));
    const cases: [string, Buffer, RegExp][] = [
      ['outside', tar([{ name: '../evil', data: Buffer.from('x') }]), /entry \.\.\/evil points outside the store/],
      ['empty', tar([{ name: '/base', data: null }]), /it holds no PG_VERSION/],
      ['truncated', gzipSync(whole.subarray(0, 1500)), /the archive ends inside .*PG_VERSION/],
    ];
    for (const [name, bytes, message] of cases) {
      const image = join(dir, `${name}.tar.gz`);
      writeFileSync(image, bytes);
      const err = await unpackPgImage(image, join(dir, name)).catch((e: unknown) => e);
      expect(err, name).toMatchObject({ code: 'STORE_UNREADABLE', message: expect.stringMatching(message) });
      expect((err as Error).message, name).not.toContain('\n');
      expect(existsSync(join(dir, name)), name).toBe(false);
      expect(existsSync(join(dir, `${name}.unpacking`)), name).toBe(false);
    }
  });
});
