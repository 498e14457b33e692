/**
 * Polls until `pred` holds (or throws after `ms`). The last resort: prefer awaiting a signal the
 * code emits (a frame, an event, a `…Now()` pass the test runs itself). Use it where the thing
 * waited for happens in another process or over a socket with nothing to await.
 */
export async function until<T>(
  what: string,
  fn: () => Promise<T> | T,
  pred: (v: T) => boolean,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await fn();
    if (pred(last)) return last;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(
    `timed out waiting for ${what}; last value ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`,
  );
}
