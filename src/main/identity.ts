import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from './db/errors.js';

/** The node's Ed25519 identity: signs results and courier receipts; public key = node id. */
export class NodeIdentity {
  private constructor(
    private readonly privateKey: KeyObject,
    /** hex of the raw 32-byte Ed25519 public key. */
    readonly nodeId: string,
  ) {}

  /** Loads `<dataDir>/identity.pem`, creating it (mode 0600, written atomically) on first use. */
  static loadOrCreate(dataDir: string): NodeIdentity {
    const path = join(dataDir, 'identity.pem');
    if (!existsSync(path)) {
      const { privateKey } = generateKeyPairSync('ed25519');
      const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
      const tmp = `${path}.tmp-${process.pid}`;
      const fd = openSync(tmp, 'w', 0o600);
      writeSync(fd, pem);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, path);
    }
    let key: KeyObject;
    try {
      key = createPrivateKey(readFileSync(path, 'utf8'));
      if (key.asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
    } catch (err) {
      throw new StorageError('DATA_DIR', `${path} is not a valid node identity key (${(err as Error).message}); restore it from a backup`);
    }
    return new NodeIdentity(key, publicKeyHex(createPublicKey(key)));
  }

  sign(data: Uint8Array): string {
    return sign(null, data, this.privateKey).toString('hex');
  }
}

function publicKeyHex(key: KeyObject): string {
  const der = key.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32).toString('hex');
}

/** Verifies an Ed25519 signature made by `nodeId` (hex raw public key). */
export function verifyNodeSignature(nodeId: string, data: Uint8Array, signatureHex: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(nodeId) || !/^[0-9a-f]{128}$/.test(signatureHex)) return false;
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(nodeId, 'hex')]);
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  return verify(null, data, key, Buffer.from(signatureHex, 'hex'));
}
