import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDENTITY_FILE, NodeIdentity } from '../../src/main/identity.js';
import {
  keyStorageState,
  SEALED_IDENTITY_FILE,
  sealKey,
  unsealForStart,
  type KeySealer,
} from '../../src/main/services/key-seal.js';
import { diagnose, keyStorageCheck } from '../../src/main/api/diagnostics.js';
import { tempDir } from '../support/temp-dir.js';
import { testAppNode } from './api/fixtures.js';

/** A keychain stand-in: AES-256-GCM under a secret only it holds; availability and backend can be switched. */
class FakeSealer implements KeySealer {
  available = true;
  name = 'gnome_libsecret';
  encrypted = 0;
  constructor(private readonly secret = randomBytes(32)) {}
  isEncryptionAvailable(): boolean {
    return this.available;
  }
  backend(): string {
    return this.name;
  }
  encryptString(plain: string): Buffer {
    this.encrypted++;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.secret, iv);
    const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]);
  }
  decryptString(sealed: Buffer): string {
    const d = createDecipheriv('aes-256-gcm', this.secret, sealed.subarray(0, 12));
    d.setAuthTag(sealed.subarray(12, 28));
    return Buffer.concat([d.update(sealed.subarray(28)), d.final()]).toString('utf8');
  }
}

const plainPath = (dir: string) => join(dir, IDENTITY_FILE);
const sealedPath = (dir: string) => join(dir, SEALED_IDENTITY_FILE);

describe('provider key sealing', () => {
  it('seals identity.pem with the keychain, removes the plain file, and unseals the same key at the next start', () => {
    const dir = tempDir();
    const id = NodeIdentity.loadOrCreate(dir);
    const pem = readFileSync(plainPath(dir), 'utf8');
    const sealer = new FakeSealer();

    expect(sealKey(dir, sealer)).toEqual({ mode: 'sealed', backend: 'gnome_libsecret' });
    expect(existsSync(plainPath(dir))).toBe(false);
    const sealedText = readFileSync(sealedPath(dir), 'utf8');
    expect(sealedText).not.toContain('PRIVATE KEY');
    expect(sealedText).not.toContain(pem.split('\n')[1]);
    if (process.platform !== 'win32') expect(statSync(sealedPath(dir)).mode & 0o777).toBe(0o600);
    expect(keyStorageState(dir)).toEqual({ mode: 'sealed', backend: 'gnome_libsecret' });

    unsealForStart(dir, sealer);
    expect(readFileSync(plainPath(dir), 'utf8')).toBe(pem);
    if (process.platform !== 'win32') expect(statSync(plainPath(dir)).mode & 0o777).toBe(0o600);
    expect(NodeIdentity.load(dir)?.nodeId).toBe(id.nodeId);
  });

  it('leaves the key as a plain file when only the basic_text backend exists, and diagnostics say so', () => {
    const dir = tempDir();
    NodeIdentity.loadOrCreate(dir);
    const sealer = new FakeSealer();
    sealer.name = 'basic_text';
    expect(sealKey(dir, sealer)).toEqual({ mode: 'plain', backend: 'basic_text' });
    expect(sealer.encrypted).toBe(0);
    expect(existsSync(plainPath(dir))).toBe(true);
    expect(existsSync(sealedPath(dir))).toBe(false);
    // Information, not a red line: no button in the app can add a keychain.
    const check = keyStorageCheck(keyStorageState(dir), false);
    expect(check).toMatchObject({ id: 'key_storage', severity: 'info', action: null });
    expect(check.label).toContain('identity.pem');
    expect(check.detail).toMatch(/keychain/);
    expect(keyStorageCheck(keyStorageState(dir), true).detail).toMatch(/^Headless mode has no OS keychain/);
  });

  it('leaves the key plain when encryption is not available at all', () => {
    const dir = tempDir();
    NodeIdentity.loadOrCreate(dir);
    const sealer = new FakeSealer();
    sealer.available = false;
    expect(sealKey(dir, sealer).mode).toBe('plain');
    expect(sealKey(dir, undefined).mode).toBe('plain');
    expect(existsSync(plainPath(dir))).toBe(true);
  });

  it('refuses to start when the key is sealed but the keychain is unavailable (no new key, no lost address)', () => {
    const dir = tempDir();
    NodeIdentity.loadOrCreate(dir);
    const sealer = new FakeSealer();
    sealKey(dir, sealer);
    sealer.available = false;
    expect(() => unsealForStart(dir, sealer)).toThrow(expect.objectContaining({ code: 'KEY_SEALED' }));
    expect(existsSync(plainPath(dir))).toBe(false);
    // A different keychain secret cannot open it either.
    expect(() => unsealForStart(dir, new FakeSealer())).toThrow(expect.objectContaining({ code: 'KEY_SEALED' }));
  });

  it('refuses when identity.pem and the sealed copy hold different keys', () => {
    const dir = tempDir();
    NodeIdentity.loadOrCreate(dir);
    const sealer = new FakeSealer();
    sealKey(dir, sealer);
    // Another program made a fresh key here while the sealed one was away.
    const other = tempDir();
    NodeIdentity.loadOrCreate(other);
    writeFileSync(plainPath(dir), readFileSync(plainPath(other)), { mode: 0o600 });
    expect(() => unsealForStart(dir, sealer)).toThrow(expect.objectContaining({ code: 'KEY_CONFLICT' }));
  });

  it('keeps the plain key when the keychain does not give the sealed key back', () => {
    const dir = tempDir();
    NodeIdentity.loadOrCreate(dir);
    const sealer = new FakeSealer();
    sealer.decryptString = () => 'not the key';
    expect(() => sealKey(dir, sealer)).toThrow(expect.objectContaining({ code: 'KEY_SEALED_INVALID' }));
    expect(existsSync(plainPath(dir))).toBe(true);
  });

  it('reports a fresh data dir as having no key yet (information)', () => {
    expect(keyStorageCheck(keyStorageState(tempDir()), false)).toMatchObject({ severity: 'info' });
  });

  it('shows in the Diagnostics report as key_storage: information while plain, ok once sealed', async () => {
    const node = await testAppNode();
    const dir = node.ledger.dataDir.root;
    expect(diagnose(node).checks.find((c) => c.id === 'key_storage')).toMatchObject({ severity: 'info' });
    sealKey(dir, new FakeSealer());
    expect(diagnose(node).checks.find((c) => c.id === 'key_storage')).toMatchObject({
      severity: 'ok',
      label: 'Provider key sealed by the OS keychain (gnome_libsecret)',
    });
  });
});
