import { createPrivateKey, createPublicKey } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError, errorMessage } from '../../core/errors.js';
import { IDENTITY_FILE, SEALED_IDENTITY_FILE } from '../identity.js';

export { SEALED_IDENTITY_FILE };
const FORMAT = 'tessera-sealed-key/1';

/**
 * Encrypts strings with a secret the OS keeps (Electron's safeStorage satisfies it). Tests
 * pass a fake. `backend` names where the secret lives; 'basic_text' (Linux without a keyring)
 * means a hard-coded password, i.e. no real protection.
 */
export interface KeySealer {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(sealed: Buffer): string;
  backend(): string;
}

/** Backends whose "encryption" is not protection: treated as plain text. */
const PLAIN_TEXT_BACKENDS = new Set(['basic_text', 'unknown']);

/** How the provider key is stored now. */
export interface KeyStorageState {
  mode: 'sealed' | 'plain' | 'none';
  /** The keychain backend that sealed it (sealed), or that was found lacking (plain); null when unknown. */
  backend: string | null;
}

interface SealedFile {
  format: typeof FORMAT;
  backend: string;
  node_id: string;
  data: string;
}

function readIfExists(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TesseraError(
      'KEY_UNREADABLE',
      `cannot read ${path} (${(err as Error).message}): check the data folder's permissions`,
    );
  }
}

function parseSealed(path: string, raw: Buffer): SealedFile {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    v = undefined;
  }
  const f = v as Partial<SealedFile> | undefined;
  if (
    !f ||
    f.format !== FORMAT ||
    typeof f.backend !== 'string' ||
    typeof f.node_id !== 'string' ||
    typeof f.data !== 'string'
  ) {
    throw new TesseraError(
      'KEY_SEALED_INVALID',
      `${path} is not a sealed provider key: restore it from a backup or move it away`,
    );
  }
  return f as SealedFile;
}

/** The node id (hex raw Ed25519 public key) of a PEM private key. */
function nodeIdOf(pem: string, path: string): string {
  try {
    const der = createPublicKey(createPrivateKey(pem)).export({ format: 'der', type: 'spki' });
    return der.subarray(der.length - 32).toString('hex');
  } catch (err) {
    throw new TesseraError(
      'KEY_INVALID',
      `${path} is not a valid provider key (${(err as Error).message}): restore it from a backup`,
    );
  }
}

function writePrivate(path: string, data: string | Buffer, exclusive: boolean): void {
  const fd = openSync(path, exclusive ? 'wx' : 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** True when this sealer protects the key for real (an OS keychain, not a built-in password). */
export function sealerProtects(sealer: KeySealer | undefined): sealer is KeySealer {
  return sealer !== undefined && sealer.isEncryptionAvailable() && !PLAIN_TEXT_BACKENDS.has(sealer.backend());
}

function backendOf(sealer: KeySealer | undefined): string | null {
  return sealer !== undefined && sealer.isEncryptionAvailable() ? sealer.backend() : null;
}

/** How the key in `dataDir` is stored, from the files alone (diagnostics use this in every host). */
export function keyStorageState(dataDir: string): KeyStorageState {
  const plain = readIfExists(join(dataDir, IDENTITY_FILE));
  const sealedPath = join(dataDir, SEALED_IDENTITY_FILE);
  const sealed = readIfExists(sealedPath);
  if (plain !== undefined) return { mode: 'plain', backend: null };
  if (sealed !== undefined) {
    try {
      return { mode: 'sealed', backend: parseSealed(sealedPath, sealed).backend };
    } catch {
      return { mode: 'sealed', backend: null };
    }
  }
  return { mode: 'none', backend: null };
}

/**
 * Before the node opens its data dir: puts the sealed key back as identity.pem (mode 0600) so
 * the ledger loads it, for the moment until `sealKey` runs. Refuses when both files exist with
 * different keys (another program made a new key here), and when the key is sealed but the
 * keychain is not available now (a new key would lose the provider's address).
 */
export function unsealForStart(dataDir: string, sealer: KeySealer | undefined): KeyStorageState {
  const plainPath = join(dataDir, IDENTITY_FILE);
  const sealedPath = join(dataDir, SEALED_IDENTITY_FILE);
  const sealedRaw = readIfExists(sealedPath);
  if (sealedRaw === undefined) return keyStorageState(dataDir);
  const sealed = parseSealed(sealedPath, sealedRaw);
  const plain = readIfExists(plainPath);
  if (plain !== undefined) {
    if (nodeIdOf(plain.toString('utf8'), plainPath) !== sealed.node_id) {
      throw new TesseraError(
        'KEY_CONFLICT',
        `${plainPath} and ${sealedPath} hold different provider keys: move one of them out of the data folder (keep the one whose address holds your earnings)`,
      );
    }
    return { mode: 'plain', backend: sealed.backend };
  }
  if (!sealer || !sealer.isEncryptionAvailable()) {
    throw new TesseraError(
      'KEY_SEALED',
      `the provider key ${sealedPath} is sealed with the OS keychain (${sealed.backend}), which is not available now: unlock the keychain (log in to the desktop session) and start Tessera again`,
    );
  }
  let pem: string;
  try {
    pem = sealer.decryptString(Buffer.from(sealed.data, 'base64'));
  } catch (err) {
    throw new TesseraError(
      'KEY_SEALED',
      `cannot unseal the provider key ${sealedPath} with the OS keychain (${errorMessage(err)}): unlock the keychain, or restore identity.pem from a backup`,
    );
  }
  if (nodeIdOf(pem, sealedPath) !== sealed.node_id)
    throw new TesseraError(
      'KEY_SEALED_INVALID',
      `${sealedPath} unseals to a different key than it names: restore identity.pem from a backup`,
    );
  writePrivate(plainPath, pem, true);
  return { mode: 'plain', backend: sealed.backend };
}

/**
 * After the node has loaded its key: seals identity.pem with the OS keychain and removes the
 * plain file — only where the sealer protects for real. Otherwise the key stays a plain 0600
 * file and the result says so (the Diagnostics screen warns). The sealed copy is written,
 * read back and checked before the plain file is removed.
 */
export function sealKey(dataDir: string, sealer: KeySealer | undefined): KeyStorageState {
  const plainPath = join(dataDir, IDENTITY_FILE);
  const sealedPath = join(dataDir, SEALED_IDENTITY_FILE);
  const plain = readIfExists(plainPath);
  if (plain === undefined) return keyStorageState(dataDir);
  if (!sealerProtects(sealer)) return { mode: 'plain', backend: backendOf(sealer) };
  const pem = plain.toString('utf8');
  const file: SealedFile = {
    format: FORMAT,
    backend: sealer.backend(),
    node_id: nodeIdOf(pem, plainPath),
    data: sealer.encryptString(pem).toString('base64'),
  };
  const tmp = `${sealedPath}.tmp-${process.pid}`;
  writePrivate(tmp, `${JSON.stringify(file)}\n`, false);
  renameSync(tmp, sealedPath);
  const back = parseSealed(sealedPath, readFileSync(sealedPath));
  if (sealer.decryptString(Buffer.from(back.data, 'base64')) !== pem) {
    throw new TesseraError(
      'KEY_SEALED_INVALID',
      `the OS keychain did not give back the provider key sealed in ${sealedPath}: the plain key ${plainPath} was kept`,
    );
  }
  unlinkSync(plainPath);
  return { mode: 'sealed', backend: file.backend };
}
