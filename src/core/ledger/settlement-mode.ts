/** Longest delay `arm` accepts: ten years, in seconds. */
export const MAX_ARM_DELAY_SECONDS = 10 * 365 * 24 * 3600;

/** Settlement modes: DryRun records receipts only; Armed becomes Real at activate_at; Real moves credits. */
export type SettlementMode = { kind: 'dry_run' } | { kind: 'armed'; activate_at: number } | { kind: 'real' };

export type SettlementModeName = SettlementMode['kind'];

/** The mode in force at `now`: an Armed mode whose time has come is Real. */
export function effectiveMode(mode: SettlementMode, now: number): SettlementMode {
  return mode.kind === 'armed' && now >= mode.activate_at ? { kind: 'real' } : mode;
}

/** Serialises a mode for the settings table. */
export function encodeMode(mode: SettlementMode): string {
  if (mode.kind !== 'armed') return mode.kind;
  if (!Number.isSafeInteger(mode.activate_at) || mode.activate_at < 0)
    throw new Error('armed activate_at must be a whole number of ms');
  return `armed:${mode.activate_at}`;
}

/** Parses a stored mode; unknown text is reported, never guessed. */
export function decodeMode(text: string): SettlementMode {
  if (text === 'dry_run' || text === 'real') return { kind: text };
  const m = /^armed:(\d{1,15})$/.exec(text);
  if (m) return { kind: 'armed', activate_at: Number(m[1]) };
  throw new Error(`stored settlement mode "${text}" is not recognised`);
}

/** Human label used by the CLI and UI. */
export function describeMode(mode: SettlementMode, now: number): string {
  if (mode.kind === 'armed') {
    const secs = Math.max(0, Math.ceil((mode.activate_at - now) / 1000));
    return `armed (real in ${secs}s)`;
  }
  return mode.kind === 'dry_run' ? 'dry-run' : 'real';
}
