import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/core/hex.js';
import { StorageError } from '../../src/main/db/errors.js';
import { openLedger } from '../../src/main/ledger.js';
import { runDoctor } from '../../src/main/doctor.js';
import { BundleStore, type BundleWrite } from '../../src/main/services/bundle-store.js';
import { loadNativeBlake3 } from '../../src/node/hash/node-hasher.js';
import { tempDir } from '../support/temp-dir.js';
import { pseudoRandomBytes } from '../support/data.js';

const blake3 = loadNativeBlake3();
const SIZE = 307_200;

/** A disk that takes `capacity` bytes in all, in writes of at most `chunk`, then fails with ENOSPC. */
function fillingDisk(capacity: number, chunk = 1 << 20): BundleWrite {
  let used = 0;
  return (fd, buf, off, len) => {
    const n = Math.min(len, chunk, capacity - used);
    if (n <= 0)
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
        errno: -28,
        syscall: 'write',
      });
    used += n;
    return writeSync(fd, buf, off, n);
  };
}

/** Every file under the store (temp files included). */
function filesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('bundle store writes', () => {
  it('short writes are continued until every byte is written; the bundle verifies', () => {
    const dir = join(tempDir(), 'bundles');
    const data = pseudoRandomBytes(SIZE, 0x5107);
    const store = new BundleStore(dir, blake3, {
      write: (fd, buf, off, len) => writeSync(fd, buf, off, Math.min(len, 4093)),
    });
    const { hash, bytes } = store.putBytes(data, 1 << 20);
    expect([hash, bytes]).toEqual([toHex(blake3.hash(data)), SIZE]);
    expect(Buffer.compare(store.get(hash), Buffer.from(data))).toBe(0);
  });

  it('a full disk mid-bundle (225,280 of 307,200 bytes) is DISK_FULL in one line, keeps nothing, and the next send after space is freed stores the whole bundle', () => {
    const root = tempDir();
    const dir = join(root, 'bundles');
    const file = join(root, 'carried.bin');
    const data = pseudoRandomBytes(SIZE, 0xd15c);
    writeFileSync(file, data);
    const full = new BundleStore(dir, blake3, { write: fillingDisk(225_280, 65_536) });
    let err: unknown;
    try {
      full.put(file, 1 << 20);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StorageError);
    expect(err).toMatchObject({
      code: 'DISK_FULL',
      message: `the disk holding ${dir} is full: free space and send again`,
    });
    expect(filesIn(dir)).toEqual([]);
    // Space freed: the same file is stored whole, not a truncated copy.
    const store = new BundleStore(dir, blake3);
    const { hash } = store.put(file, 1 << 20);
    expect(Buffer.compare(store.get(hash), Buffer.from(data))).toBe(0);
    expect(filesIn(dir)).toEqual([store.pathFor(hash)]);
  });

  it('EDQUOT is DISK_FULL too; a write that makes no progress is a one-line error, not a hang', () => {
    const dir = join(tempDir(), 'bundles');
    const quota = new BundleStore(dir, blake3, {
      write: () => {
        throw Object.assign(new Error('EDQUOT'), { code: 'EDQUOT' });
      },
    });
    expect(() => quota.putBytes(new Uint8Array(10), 100)).toThrow(
      expect.objectContaining({ code: 'DISK_FULL', message: expect.stringContaining('(disk quota reached)') }),
    );
    const stuck = new BundleStore(dir, blake3, { write: () => 0 });
    expect(() => stuck.putBytes(new Uint8Array(10), 100)).toThrow(
      expect.objectContaining({
        code: 'BUNDLE',
        message: expect.stringMatching(/the disk took 0 of the 10 bytes left/),
      }),
    );
    expect(filesIn(dir)).toEqual([]);
  });

  it('a write that claims more than it stored is caught by the read-back hash: nothing is kept', () => {
    const dir = join(tempDir(), 'bundles');
    const liar: BundleWrite = (fd, buf, off, len) => {
      writeSync(fd, buf, off, Math.max(1, len >> 1));
      return len;
    };
    const store = new BundleStore(dir, blake3, { write: liar });
    expect(() => store.putBytes(pseudoRandomBytes(SIZE, 7), 1 << 20)).toThrow(
      expect.objectContaining({ code: 'BUNDLE', message: expect.stringContaining('did not read back as written') }),
    );
    expect(filesIn(dir)).toEqual([]);
  });

  it('a truncated bundle already stored under the hash (left by an older version) is replaced, not reused', () => {
    const root = tempDir();
    const dir = join(root, 'bundles');
    const file = join(root, 'carried.bin');
    const data = pseudoRandomBytes(SIZE, 0x7c);
    writeFileSync(file, data);
    const store = new BundleStore(dir, blake3);
    const hash = toHex(blake3.hash(data));
    mkdirSync(join(dir, hash.slice(0, 2)), { recursive: true });
    writeFileSync(store.pathFor(hash), data.subarray(0, 225_280));
    expect(store.put(file, 1 << 20)).toEqual({ hash, bytes: SIZE });
    expect(readFileSync(store.pathFor(hash)).length).toBe(SIZE);
    expect(Buffer.compare(store.get(hash), Buffer.from(data))).toBe(0);
  });
});

describe('tessera doctor and bundles', () => {
  it('re-hashes every stored bundle: a truncated one is reported by hash, with a missing bundle of a pending receipt', async () => {
    const root = tempDir();
    const dd = join(root, 'node');
    const files = [0, 1].map((i) => {
      const f = join(root, `b${i}.bin`);
      writeFileSync(f, pseudoRandomBytes(50_000 + i, 0xb0 + i));
      return f;
    });
    const ctx = await openLedger({ dataDir: dd });
    const [a, b] = files.map((f) => ctx.courier.send(f, 'alice'));
    ctx.close();
    const healthy = await runDoctor(dd, { blake3 });
    expect(healthy.healthy).toBe(true);
    expect(healthy.checks.find((c) => c.name === 'bundles')).toEqual({
      name: 'bundles',
      ok: true,
      detail: '2 courier bundles verified',
    });

    const store = new BundleStore(join(dd, 'bundles'), blake3);
    const pathA = store.pathFor(a?.bundle_hash as string);
    writeFileSync(pathA, readFileSync(pathA).subarray(0, 10_000));
    const damaged = await runDoctor(dd, { blake3 });
    expect(damaged.healthy).toBe(false);
    expect(damaged.checks.find((c) => c.name === 'bundles')).toMatchObject({
      ok: false,
      detail: expect.stringContaining(
        `1 courier bundle damaged or missing: ${a?.bundle_hash} (its BLAKE3 no longer matches`,
      ),
    });
    expect(damaged.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['bundles']);

    rmSync(store.pathFor(b?.bundle_hash as string));
    const missing = await runDoctor(dd, { blake3 });
    expect(missing.checks.find((c) => c.name === 'bundles')?.detail).toContain(
      `${b?.bundle_hash} (missing; pending receipt ${b?.id} needs it)`,
    );
  });
});
