import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Verifies an Ed25519 signature made by `nodeId` (hex raw public key). */
export function verifyNodeSignature(nodeId: string, data: Uint8Array, signatureHex: string): boolean {
  return nodeSignatureVerifier(nodeId)?.(data, signatureHex) ?? false;
}

/**
 * A verifier for signatures made by `nodeId` (hex raw public key), with the key parsed once — for
 * a peer whose many messages are checked (parsing the key costs about as much as a verification).
 * Null when `nodeId` is not 64 lower-case hex characters.
 */
export function nodeSignatureVerifier(nodeId: string): ((data: Uint8Array, signatureHex: string) => boolean) | null {
  if (!/^[0-9a-f]{64}$/.test(nodeId)) return null;
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(nodeId, 'hex')]);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch {
    return null;
  }
  return (data, signatureHex) =>
    /^[0-9a-f]{128}$/.test(signatureHex) && verify(null, data, key, Buffer.from(signatureHex, 'hex'));
}
