/**
 * Signature worker thread: verifies batches of Ed25519 signatures for the validator, so the
 * thread that serves the provider sockets and the store does not spend ~0.2 ms of each result on
 * it. Each provider's key is parsed once and kept (a bounded cache).
 */
import { parentPort } from 'node:worker_threads';
import { nodeSignatureVerifier } from '../../main/identity.js';
import type { SignatureRequest, SignatureResponse } from './signature-protocol.js';

const port = parentPort;
if (!port) throw new Error('signature-worker must run in a worker thread');

/** Parsed keys by hex public key; cleared when it outgrows a market's worth of providers. */
const MAX_KEYS = 4096;
const keys = new Map<string, ReturnType<typeof nodeSignatureVerifier>>();

function verifierOf(publicKeyHex: string): ReturnType<typeof nodeSignatureVerifier> {
  let v = keys.get(publicKeyHex);
  if (v === undefined) {
    if (keys.size >= MAX_KEYS) keys.clear();
    v = nodeSignatureVerifier(publicKeyHex);
    keys.set(publicKeyHex, v);
  }
  return v;
}

port.on('message', (req: SignatureRequest) => {
  let res: SignatureResponse;
  try {
    res = { id: req.id, ok: true, valid: req.items.map((it) => verifierOf(it.publicKey)?.(it.message, it.signature) ?? false) };
  } catch (err) {
    res = { id: req.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  port.postMessage(res);
});
