import { TesseraError } from '../errors.js';

/** Micro-CPC per CPC: amounts carry at most six decimals. */
export const MICRO_PER_CPC = 1_000_000n;
/** Decimals an amount may carry. */
export const AMOUNT_DECIMALS = 6;
/** Largest amount the market holds (fits a PostgreSQL BIGINT with room for sums): 10^12 CPC. */
export const MAX_AMOUNT_MICRO = 10n ** 18n;

const AMOUNT_RE = /^(0|[1-9]\d{0,12})(?:\.(\d+))?$/;

/** An amount that is not a decimal CPC string; `field` names the request field. */
export class AmountError extends TesseraError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('INVALID_AMOUNT', `${field}: ${message}`);
    this.name = 'AmountError';
  }
}

/**
 * Parses a decimal CPC string ("10.0", "0.000001") into integer micro-CPC. Rejects signs,
 * exponents, more than six decimals, empty parts and values above MAX_AMOUNT_MICRO.
 */
export function parseAmount(text: string, field = 'amount'): bigint {
  const m = AMOUNT_RE.exec(text);
  if (!m)
    throw new AmountError(
      field,
      `"${clip(text)}" is not a decimal CPC amount (digits with an optional point, e.g. "10.0" or "0.000001")`,
    );
  const frac = m[2] ?? '';
  if (frac.length > AMOUNT_DECIMALS)
    throw new AmountError(
      field,
      `"${clip(text)}" has ${frac.length} decimals; amounts carry at most ${AMOUNT_DECIMALS} (1 micro-CPC = 0.000001)`,
    );
  const micro = BigInt(m[1] as string) * MICRO_PER_CPC + BigInt(frac.padEnd(AMOUNT_DECIMALS, '0') || '0');
  if (micro > MAX_AMOUNT_MICRO)
    throw new AmountError(field, `"${clip(text)}" exceeds the largest amount, ${formatAmount(MAX_AMOUNT_MICRO)} CPC`);
  return micro;
}

/** Formats micro-CPC as a decimal CPC string with at least one decimal ("10.0", "0.000001"). */
export function formatAmount(micro: bigint): string {
  const neg = micro < 0n;
  const abs = neg ? -micro : micro;
  const whole = abs / MICRO_PER_CPC;
  const frac = (abs % MICRO_PER_CPC).toString().padStart(AMOUNT_DECIMALS, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}.${frac === '' ? '0' : frac}`;
}

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
