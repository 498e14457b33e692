import { describe, expect, it } from 'vitest';
import { DisposableStore, DisposeError } from '../../src/node/lifecycle.js';
import type { Logger, LogLevel } from '../../src/node/log.js';

function recordingLogger(): {
  logger: Logger;
  lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: LogLevel; msg: string; fields?: Record<string, unknown> }[] = [];
  const log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) =>
    lines.push({ level, msg, ...(fields ? { fields } : {}) });
  return {
    lines,
    logger: {
      log,
      info: (m, f) => log('info', m, f),
      warn: (m, f) => log('warn', m, f),
      error: (m, f) => log('error', m, f),
    },
  };
}

describe('DisposableStore', () => {
  it('add returns what it was given and dispose releases in reverse order (dispose, close and functions)', async () => {
    const order: string[] = [];
    const store = new DisposableStore('test');
    const a = store.add({ dispose: () => order.push('a') });
    store.add({ close: async () => order.push('b') });
    store.add(() => order.push('c'));
    expect(typeof a.dispose).toBe('function');
    await store.dispose();
    expect(order).toEqual(['c', 'b', 'a']);
  });

  it('attempts every release when some fail, logs each with its stack, and rethrows them together', async () => {
    const { logger, lines } = recordingLogger();
    const order: string[] = [];
    const store = new DisposableStore('node', logger);
    store.add(() => order.push('ledger'), 'ledger');
    store.add(() => {
      throw new Error('pool stuck');
    }, 'pool');
    store.add(async () => {
      order.push('socket');
      throw new Error('socket reset');
    }, 'socket');
    const err = await store.dispose().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DisposeError);
    expect((err as DisposeError).errors.map((e: Error) => e.message)).toEqual(['socket reset', 'pool stuck']);
    expect((err as DisposeError).message).toBe('node: 2 releases failed: socket reset; pool stuck');
    // The ledger (added first) was still released after two later releases failed.
    expect(order).toEqual(['socket', 'ledger']);
    expect(lines.filter((l) => l.level === 'error').map((l) => [l.fields?.resource, typeof l.fields?.stack])).toEqual([
      ['socket', 'string'],
      ['pool', 'string'],
    ]);
  });

  it('disposing twice releases once and returns the same promise', async () => {
    let n = 0;
    const store = new DisposableStore();
    store.add(async () => {
      n++;
    });
    const first = store.dispose();
    expect(store.dispose()).toBe(first);
    await first;
    await store.dispose();
    expect(n).toBe(1);
    expect(store.isDisposed).toBe(true);
  });

  it('a resource added after dispose is released at once', async () => {
    const { logger, lines } = recordingLogger();
    const store = new DisposableStore('late', logger);
    await store.dispose();
    let released = false;
    store.add(() => {
      released = true;
    }, 'timer');
    await Promise.resolve();
    expect(released).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(['resource added after its owner was disposed; released at once']);
  });
});
