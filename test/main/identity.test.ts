import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { NodeIdentity, SEALED_IDENTITY_FILE } from '../../src/main/identity.js';
import { nodeSignatureVerifier, verifyNodeSignature } from '../../src/node/signing/node-signature.js';
import { ed25519SignerFromSeed } from '../../src/node/signing/result-signing.js';
import { root } from '../cli/run.js';
import { tempDir } from '../support/temp-dir.js';

const CHILDREN = 6;
const ROUNDS = 12;

interface Child {
  proc: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function startChild(): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/fixtures/identity-child.ts')], {
    cwd: root,
  });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  createInterface({ input: proc.stdout }).on('line', (l) => {
    const w = waiting.shift();
    if (w) w(l);
    else lines.push(l);
  });
  return {
    proc,
    next: () => {
      const l = lines.shift();
      return l !== undefined ? Promise.resolve(l) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

const children: Child[] = [];
afterAll(() => {
  for (const c of children) c.proc.stdin.end();
});

describe('NodeIdentity.loadOrCreate', () => {
  it(`${CHILDREN} processes doing a first start on one fresh data dir at once end with one node id, and every process holds it (${ROUNDS} rounds)`, async () => {
    for (let i = 0; i < CHILDREN; i++) children.push(startChild());
    expect(await Promise.all(children.map((c) => c.next()))).toEqual(Array(CHILDREN).fill('ready'));
    const base = tempDir();
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(base, `round-${round}`);
      mkdirSync(dir);
      for (const c of children) c.proc.stdin.write(`go ${dir}\n`);
      const answers = await Promise.all(children.map((c) => c.next()));
      const onDisk = NodeIdentity.load(dir)?.nodeId;
      expect(onDisk, `round ${round}`).toMatch(/^[0-9a-f]{64}$/);
      // Every process reports the id on disk, and its signatures verify under that id.
      expect(answers, `round ${round}`).toEqual(Array(CHILDREN).fill(`id ${onDisk} true`));
      // The losers' temp files are gone; the key is private to its owner.
      expect(readdirSync(dir), `round ${round}`).toEqual(['identity.pem']);
      expect(statSync(join(dir, 'identity.pem')).mode & 0o777).toBe(0o600);
    }
  }, 120_000);

  it('load never creates a key; loadOrCreate keeps an existing one', () => {
    const dir = tempDir();
    expect(NodeIdentity.load(dir)).toBeUndefined();
    expect(readdirSync(dir)).toEqual([]);
    const a = NodeIdentity.loadOrCreate(dir);
    expect(NodeIdentity.loadOrCreate(dir).nodeId).toBe(a.nodeId);
    expect(NodeIdentity.absent(dir).present).toBe(false);
    expect(() => NodeIdentity.absent(dir).sign(new Uint8Array(1))).toThrow(/no node identity at .*identity\.pem/);
  });

  it('refuses to make a new key beside a key the desktop app sealed, and leaves the folder as it was', () => {
    const dir = tempDir();
    writeFileSync(join(dir, SEALED_IDENTITY_FILE), '{"format":"tessera-sealed-key/1"}\n');
    expect(() => NodeIdentity.loadOrCreate(dir)).toThrow(
      expect.objectContaining({
        code: 'KEY_SEALED',
        message: expect.stringContaining('sealed by the Tessera desktop app'),
      }),
    );
    expect(readdirSync(dir)).toEqual([SEALED_IDENTITY_FILE]);
  });
});

describe('nodeSignatureVerifier (one parsed key for many messages)', () => {
  it('accepts the signer’s signatures and refuses another message, another key, a malformed signature and a malformed key', () => {
    const a = ed25519SignerFromSeed(new Uint8Array(32).fill(1));
    const b = ed25519SignerFromSeed(new Uint8Array(32).fill(2));
    const msg = new TextEncoder().encode('result bytes');
    const check = nodeSignatureVerifier(a.nodeId);
    expect(check).not.toBeNull();
    const sig = a.sign(msg);
    expect(check?.(msg, sig)).toBe(true);
    expect(check?.(new TextEncoder().encode('other bytes'), sig)).toBe(false);
    expect(check?.(msg, b.sign(msg))).toBe(false);
    expect(check?.(msg, sig.toUpperCase())).toBe(false);
    expect(check?.(msg, sig.slice(2))).toBe(false);
    for (const bad of ['', a.nodeId.toUpperCase(), a.nodeId.slice(2), `${a.nodeId}00`])
      expect(nodeSignatureVerifier(bad)).toBeNull();
    // The one-shot form agrees.
    expect([
      verifyNodeSignature(a.nodeId, msg, sig),
      verifyNodeSignature(b.nodeId, msg, sig),
      verifyNodeSignature('zz', msg, sig),
    ]).toEqual([true, false, false]);
  });
});
