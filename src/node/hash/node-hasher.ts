import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { BLAKE3_KEY_BYTES, type Blake3Hasher, type IncrementalHash, type Sha256 } from '../../core/hash/hasher.js';
import { silentLogger, type Logger } from '../log.js';

interface NativeHashState {
  update(input: Uint8Array): unknown;
  digestBuffer(): Buffer;
}

interface NativeBlake3 {
  blake3(input: Uint8Array): Buffer;
  Blake3Hasher: { new (): NativeHashState; newKeyed(key: Buffer): NativeHashState };
}

let cached: Promise<Blake3Hasher> | undefined;
let warned = false;

/**
 * Loads the fastest BLAKE3 available: the prebuilt N-API binding (@napi-rs/blake-hash, the
 * same binary works in Electron's main process), else hash-wasm, logging the fallback once.
 * Set TESSERA_BLAKE3=wasm to force the fallback.
 */
export function loadBlake3(logger: Logger = silentLogger): Promise<Blake3Hasher> {
  cached ??= load(logger);
  return cached;
}

async function load(logger: Logger): Promise<Blake3Hasher> {
  if (process.env.TESSERA_BLAKE3 !== 'wasm') {
    try {
      return loadNativeBlake3();
    } catch (err) {
      if (!warned) {
        warned = true;
        logger.warn('native BLAKE3 binding unavailable, using the WebAssembly fallback', { error: String(err) });
      }
    }
  }
  return loadWasmBlake3();
}

/** The N-API BLAKE3 (@napi-rs/blake-hash); throws when the binding cannot load. */
export function loadNativeBlake3(): Blake3Hasher {
  const mod = createRequire(import.meta.url)('@napi-rs/blake-hash') as NativeBlake3;
  return {
    implementation: 'native',
    hash: (data) => new Uint8Array(mod.blake3(data)),
    create: () => nativeStream(new mod.Blake3Hasher()),
    keyed(key, data) {
      const h = mod.Blake3Hasher.newKeyed(keyBuffer(key));
      h.update(data);
      return new Uint8Array(h.digestBuffer());
    },
    createKeyed: (key) => nativeStream(mod.Blake3Hasher.newKeyed(keyBuffer(key))),
  };
}

function nativeStream(h: NativeHashState): IncrementalHash {
  return {
    update: (d) => void h.update(d),
    digest: () => new Uint8Array(h.digestBuffer()),
  };
}

/** A BLAKE3 key as a Buffer; throws a RangeError for any length but 32 (a caller's bug). */
function keyBuffer(key: Uint8Array): Buffer {
  if (key.length !== BLAKE3_KEY_BYTES)
    throw new RangeError(`a BLAKE3 key is ${BLAKE3_KEY_BYTES} bytes, got ${key.length}`);
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength);
}

/** The WebAssembly BLAKE3 (hash-wasm), the fallback when the native binding is unavailable. */
export async function loadWasmBlake3(): Promise<Blake3Hasher> {
  const { createBLAKE3 } = await import('hash-wasm');
  // One WASM instance serves every stream: each stream keeps its own saved state and loads
  // it around each update, so interleaved streams never see each other's bytes.
  const instance = await createBLAKE3();
  const initial = instance.init().save();
  const keyedInitial = await keyedStateFactory(createBLAKE3);
  const stream = (start: Uint8Array): IncrementalHash => {
    let state = start;
    return {
      update: (d) => {
        state = instance.load(state).update(d).save();
      },
      digest: () => instance.load(state).digest('binary'),
    };
  };
  return {
    implementation: 'wasm',
    hash: (data) => instance.init().update(data).digest('binary'),
    create: () => stream(initial),
    keyed(key, data) {
      return instance.load(keyedInitial(key)).update(data).digest('binary');
    },
    createKeyed: (key) => stream(keyedInitial(key)),
  };
}

/** Offsets of the key words (`key`, then the first chunk's chaining value) in hash-wasm's saved BLAKE3 state. */
const WASM_KEY_OFFSETS = [4, 36] as const;

/**
 * hash-wasm fixes the key when an instance is created (asynchronously), but the port makes
 * keyed streams synchronously. A keyed BLAKE3 state before any input is the key itself, twice
 * (the hasher's key and the first chunk's chaining value), so one saved template state with the
 * key bytes replaced is a fresh keyed state for any key. The layout is checked here once,
 * against real instances with two other keys, so a hash-wasm release with another layout
 * fails at load instead of giving wrong digests.
 */
async function keyedStateFactory(
  createBLAKE3: typeof import('hash-wasm').createBLAKE3,
): Promise<(key: Uint8Array) => Uint8Array> {
  const templateKey = Uint8Array.from({ length: BLAKE3_KEY_BYTES }, (_, i) => (i * 7 + 3) & 0xff);
  const template = (await createBLAKE3(256, templateKey)).init().save();
  for (const off of WASM_KEY_OFFSETS) {
    if (!template.subarray(off, off + BLAKE3_KEY_BYTES).every((b, i) => b === templateKey[i])) {
      throw new Error(
        'hash-wasm BLAKE3 keeps its keyed state in an unexpected layout; keyed mode is unavailable in the WebAssembly fallback',
      );
    }
  }
  const make = (key: Uint8Array): Uint8Array => {
    if (key.length !== BLAKE3_KEY_BYTES)
      throw new RangeError(`a BLAKE3 key is ${BLAKE3_KEY_BYTES} bytes, got ${key.length}`);
    const state = template.slice();
    for (const off of WASM_KEY_OFFSETS) state.set(key, off);
    return state;
  };
  const probeKey = Uint8Array.from({ length: BLAKE3_KEY_BYTES }, (_, i) => 255 - i);
  const probeData = Uint8Array.from({ length: 1500 }, (_, i) => i % 251);
  const real = await createBLAKE3(256, probeKey);
  const expected = real.init().update(probeData).digest('binary');
  const patched = real.load(make(probeKey)).update(probeData).digest('binary');
  if (!expected.every((b, i) => b === patched[i])) {
    throw new Error(
      'hash-wasm BLAKE3 keyed state could not be rebuilt for a new key; keyed mode is unavailable in the WebAssembly fallback',
    );
  }
  return make;
}

/** SHA-256 through node:crypto. */
export const nodeSha256: Sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());
