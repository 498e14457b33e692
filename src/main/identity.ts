import { randomBytes, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TesseraError } from '../core/errors.js';
import { StorageError } from './db/errors.js';

/** The identity file inside a data directory. */
export const IDENTITY_FILE = 'identity.pem';
/** The provider key sealed by the desktop app's OS keychain (src/main/services/key-seal.ts). */
export const SEALED_IDENTITY_FILE = `${IDENTITY_FILE}.sealed`;

/** The node's Ed25519 identity: signs results and courier receipts; public key = node id. */
export class NodeIdentity {
  private constructor(
    private readonly privateKey: KeyObject | undefined,
    /** hex of the raw 32-byte Ed25519 public key ('' when absent). */
    readonly nodeId: string,
    private readonly path: string,
  ) {}

  /**
   * Stands in for a key that does not exist, where one is not needed (inspecting a data dir
   * read-only): `present` is false and `sign` fails with a one-line error naming the file.
   */
  static absent(dataDir: string): NodeIdentity {
    return new NodeIdentity(undefined, '', join(dataDir, IDENTITY_FILE));
  }

  /** False for the stand-in from `absent`. */
  get present(): boolean {
    return this.privateKey !== undefined;
  }

  /**
   * Loads `<dataDir>/identity.pem`, creating it on first use. Creation is exclusive: the key is
   * written to a private temp file, fsynced, then hard-linked to its final name, which fails
   * if another process got there first — the loser drops its key and reads the winner's, so
   * every process started on one data dir signs with the same key.
   */
  static loadOrCreate(dataDir: string): NodeIdentity {
    const path = join(dataDir, IDENTITY_FILE);
    const existing = NodeIdentity.load(dataDir);
    if (existing) return existing;
    // A key sealed by the desktop app is this node's key: a new one here would give the node
    // another address (and the desktop app would refuse to start beside it).
    if (existsSync(join(dataDir, SEALED_IDENTITY_FILE))) {
      throw new TesseraError(
        'KEY_SEALED',
        `the provider key in ${dataDir} is sealed by the Tessera desktop app (${SEALED_IDENTITY_FILE}): only the desktop app can unseal it, so use this data folder through the desktop app (a new key here would give the node another address)`,
      );
    }
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    try {
      const fd = openSync(tmp, 'wx', 0o600);
      try {
        writeSync(fd, pem);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(tmp, path); // atomic and exclusive: EEXIST when another process won
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') {
          // Lost the race: the winner's complete key is in place.
        } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') {
          createExclusive(path, pem); // a file system without hard links
        } else throw err;
      }
      fsyncDir(dirname(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === undefined) throw err;
      throw new StorageError('DATA_DIR', `cannot create the node identity ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      try {
        unlinkSync(tmp);
      } catch {
        // never created, or already gone
      }
    }
    const key = NodeIdentity.load(dataDir);
    if (!key)
      throw new StorageError(
        'DATA_DIR',
        `the node identity ${path} disappeared while it was being created; start again`,
      );
    return key;
  }

  /** Loads `<dataDir>/identity.pem` without creating anything; undefined when there is none. */
  static load(dataDir: string): NodeIdentity | undefined {
    const path = join(dataDir, IDENTITY_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new StorageError('DATA_DIR', `cannot read the node identity ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(text);
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
    } catch (err) {
      throw new StorageError(
        'DATA_DIR',
        `${path} is not a valid node identity key (${(err as Error).message}); restore it from a backup`,
      );
    }
    return new NodeIdentity(key, publicKeyHex(createPublicKey(key)), path);
  }

  sign(data: Uint8Array): string {
    if (!this.privateKey)
      throw new StorageError(
        'DATA_DIR',
        `no node identity at ${this.path}; run a command that writes (not an inspection) to create one`,
      );
    return sign(null, data, this.privateKey).toString('hex');
  }
}

/** Fallback without hard links: O_EXCL create; a reader that races it may see a short file and fail loudly. */
function createExclusive(path: string, pem: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Makes the new directory entry durable (the link survives power loss). */
function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the file's own fsync still happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function publicKeyHex(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('hex');
}
