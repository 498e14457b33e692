/**
 * Fault injection at transaction boundaries. Services that move credits or acknowledge
 * receipts call their `faults` hook with a point name between the statements of a
 * transaction and right after it commits; a test's hook throws there, or (in a child process)
 * kills the process, to prove every boundary leaves the ledger consistent. In production the
 * hook does nothing.
 */
export type Faults = (point: string) => void;

/** The production hook: no faults. */
export const noFaults: Faults = () => {};
