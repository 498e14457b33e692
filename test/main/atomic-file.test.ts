import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempPrefix, writeFileAtomic, type AtomicFileSystem } from '../../src/main/services/atomic-file.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * A file-system port that performs every call on the real file system and records it, with
 * the temp file's random name replaced by TMP, so the order of durable operations can be
 * asserted exactly.
 */
function recordingFs(target: string, failWrite = false) {
  const ops: string[] = [];
  const name = (p: string) => (p.includes(tempPrefix(target)) ? 'TMP' : p);
  const fs: AtomicFileSystem = {
    async mkdir(path, options) {
      const created = await nodeFs.mkdir(path, options);
      ops.push(`mkdir ${name(path)}`);
      return created;
    },
    async open(path, flags, mode) {
      const fh = await nodeFs.open(path, flags, mode);
      ops.push(`open ${name(path)}`);
      return {
        async writeFile(data) {
          if (failWrite) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          await fh.writeFile(data);
          ops.push(`write ${name(path)}`);
        },
        async sync() {
          await fh.sync();
          ops.push(`fsync ${name(path)}`);
        },
        async close() {
          await fh.close();
          ops.push(`close ${name(path)}`);
        },
      };
    },
    async rename(from, to) {
      await nodeFs.rename(from, to);
      ops.push(`rename ${name(from)} -> ${name(to)}`);
    },
    async unlink(path) {
      await nodeFs.unlink(path);
      ops.push(`unlink ${name(path)}`);
    },
  };
  return { fs, ops };
}

describe('writeFileAtomic: the order of durable operations', () => {
  it('writes the temp file, fsyncs it, renames it over the target, then fsyncs the directory', async () => {
    const dir = tempDir();
    const path = join(dir, 'board.bin');
    writeFileSync(path, 'old');
    const { fs, ops } = recordingFs(path);
    await writeFileAtomic(path, new TextEncoder().encode('new'), { fs });
    expect(ops).toEqual([
      `mkdir ${dir}`,
      'open TMP',
      'write TMP',
      'fsync TMP',
      'close TMP',
      `rename TMP -> ${path}`,
      `open ${dir}`,
      `fsync ${dir}`,
      `close ${dir}`,
    ]);
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['board.bin']);
  });

  it('fsyncs the parent of every directory it creates before the file goes in', async () => {
    const root = tempDir();
    const path = join(root, 'a', 'b', 'board.bin');
    const { fs, ops } = recordingFs(path);
    await writeFileAtomic(path, Uint8Array.of(1, 2, 3), { fs });
    const a = join(root, 'a');
    const b = join(a, 'b');
    expect(ops).toEqual([
      `mkdir ${b}`,
      `open ${a}`, // b's entry in a
      `fsync ${a}`,
      `close ${a}`,
      `open ${root}`, // a's entry in root
      `fsync ${root}`,
      `close ${root}`,
      'open TMP',
      'write TMP',
      'fsync TMP',
      'close TMP',
      `rename TMP -> ${path}`,
      `open ${b}`,
      `fsync ${b}`,
      `close ${b}`,
    ]);
    expect(Array.from(readFileSync(path))).toEqual([1, 2, 3]);
  });

  it('leaves the old file and no temp file when the write fails, and never renames', async () => {
    const dir = tempDir();
    const path = join(dir, 'board.bin');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, 'old');
    const { fs, ops } = recordingFs(path, true);
    await expect(writeFileAtomic(path, Uint8Array.of(9), { fs })).rejects.toThrow(/ENOSPC/);
    expect(ops).toEqual([`mkdir ${dir}`, 'open TMP', 'close TMP', 'unlink TMP']);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['board.bin']);
    expect(existsSync(path)).toBe(true);
  });
});
