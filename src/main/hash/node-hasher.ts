import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Blake3Hasher, IncrementalHash, Sha256 } from '../../core/hash/hasher.js';
import { silentLogger, type Logger } from '../log.js';

interface NativeBlake3 {
  blake3(input: Uint8Array): Buffer;
  Blake3Hasher: new () => { update(input: Uint8Array): unknown; digestBuffer(): Buffer };
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
    create(): IncrementalHash {
      const h = new mod.Blake3Hasher();
      return {
        update: (d) => void h.update(d),
        digest: () => new Uint8Array(h.digestBuffer()),
      };
    },
  };
}

/** The WebAssembly BLAKE3 (hash-wasm), the fallback when the native binding is unavailable. */
export async function loadWasmBlake3(): Promise<Blake3Hasher> {
  const { createBLAKE3 } = await import('hash-wasm');
  // One WASM instance serves every stream: each stream keeps its own saved state and loads
  // it around each update, so interleaved streams never see each other's bytes.
  const instance = await createBLAKE3();
  const initial = instance.init().save();
  return {
    implementation: 'wasm',
    hash: (data) => instance.init().update(data).digest('binary'),
    create(): IncrementalHash {
      let state = initial;
      return {
        update: (d) => {
          state = instance.load(state).update(d).save();
        },
        digest: () => instance.load(state).digest('binary'),
      };
    },
  };
}

/** SHA-256 through node:crypto. */
export const nodeSha256: Sha256 = (data) => new Uint8Array(createHash('sha256').update(data).digest());
