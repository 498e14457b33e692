/** Display formatting for the UI: pure functions, no DOM (tested under Node in test/renderer). */

const MICRO = 1_000_000n;

/**
 * Micro-CPC (a decimal integer string, possibly negative) as a CPC amount with exactly six
 * decimals: "12345" → "0.012345". Anything that is not an integer string reads as "—".
 */
export function formatCredits(micro: string | bigint | null | undefined): string {
  if (micro === null || micro === undefined) return '—';
  let v: bigint;
  if (typeof micro === 'bigint') v = micro;
  else if (/^-?\d{1,30}$/.test(micro)) v = BigInt(micro);
  else return '—';
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = (abs / MICRO).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (abs % MICRO).toString().padStart(6, '0');
  return `${neg ? '-' : ''}${whole}.${frac}`;
}

/** Like formatCredits but without thousands separators: the plain decimal a test or CSV reads. */
export function creditsDecimal(micro: string | bigint): string {
  return formatCredits(micro).replace(/,/g, '');
}

/** Micro-CPC as a float CPC, for charts only (never for sums shown as text). */
export function creditsToNumber(micro: string): number {
  return /^-?\d{1,30}$/.test(micro) ? Number(BigInt(micro)) / 1e6 : 0;
}

/** Sums micro-CPC strings exactly. */
export function sumCredits(values: readonly string[]): bigint {
  return values.reduce((a, v) => a + (/^-?\d{1,30}$/.test(v) ? BigInt(v) : 0n), 0n);
}

/** "just now", "42 s ago", "2 min ago", "3 h ago", "5 days ago" — or "in 2 min" for the future. */
export function relativeTime(at: number, now: number): string {
  const diff = now - at;
  const future = diff < 0;
  const s = Math.round(Math.abs(diff) / 1000);
  let text: string;
  if (s < 5) return future ? 'in a moment' : 'just now';
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.round(s / 60)} min`;
  else if (s < 86_400) text = `${Math.round(s / 3600)} h`;
  else {
    const d = Math.round(s / 86_400);
    text = `${d} ${d === 1 ? 'day' : 'days'}`;
  }
  return future ? `in ${text}` : `${text} ago`;
}

/** An absolute local time for a tooltip: "2026-12-02 14:03:07". */
export function absoluteTime(at: number): string {
  const d = new Date(at);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Milliseconds for people: "850 ms", "3.2 s", "4 min 05 s". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.round(ms / 1000);
  const m = Math.floor(total / 60);
  const s = total % 60;
  if (m < 60) return `${m} min ${String(s).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** A byte count: "512 B", "1.50 MiB" (the same wording as the CLI). */
export { formatBytes } from '../../../core/units.js';

/** A countdown: seconds left as "m:ss" (or "h:mm:ss"); never negative. */
export function formatCountdown(msLeft: number): string {
  const total = Math.max(0, Math.ceil(msLeft / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0
    ? `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`
    : `${m}:${String(s).padStart(2, '0')}`;
}

/** Throughput: "812.3 MB/s". */
export function formatMbps(mbps: number | null): string {
  if (mbps === null || !Number.isFinite(mbps)) return '—';
  return `${mbps >= 100 ? mbps.toFixed(0) : mbps.toFixed(1)} MB/s`;
}

/** A long identifier shortened in the middle: "tsr1qxy…9f3k". */
export function shortId(id: string, keep = 8): string {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`;
}
