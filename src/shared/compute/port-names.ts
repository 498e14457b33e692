/**
 * Names used to hand the hidden compute page its MessagePort. Dependency-free, so the
 * sandboxed compute preload can bundle them.
 */

/** IPC message (main → compute preload) that carries the port. */
export const COMPUTE_PORT_CHANNEL = 'compute:port';

/** window.postMessage payload (compute preload → page's main world) that carries the port. */
export const COMPUTE_PORT_MESSAGE = 'tessera:compute-port';
