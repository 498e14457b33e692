/**
 * Runs `fn` at once on the first call (leading edge: a first earning shows without waiting), then
 * folds the calls made within the next `ms` into one trailing run at its end, and so on while
 * calls keep coming. `cancel` drops a trailing run that is due.
 */
export function throttle(fn: () => void, ms: number): { call(): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pending = false;
  const tick = () => {
    if (!pending) {
      timer = null;
      return;
    }
    pending = false;
    fn();
    timer = setTimeout(tick, ms);
  };
  return {
    call() {
      if (timer) {
        pending = true;
        return;
      }
      fn();
      timer = setTimeout(tick, ms);
    },
    cancel() {
      if (timer) clearTimeout(timer);
      timer = null;
      pending = false;
    },
  };
}
