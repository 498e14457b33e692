import { afterEach, describe, expect, it } from 'vitest';
import {
  childLogger,
  createLogger,
  errorFields,
  jsonLineSink,
  setLogSink,
  sinkLogger,
  type LogRecord,
} from '../../src/node/log.js';

let restore: (() => void) | undefined;
afterEach(() => restore?.());

describe('module loggers', () => {
  it('createLogger(module) writes to the process sink set after it was created, message first, module on every line', () => {
    const log = createLogger('courier');
    const lines: LogRecord[] = [];
    restore = setLogSink((r) => lines.push(r));
    log.warn('flush failed', { attempt: 2 });
    expect(lines).toHaveLength(1);
    expect(Object.keys(lines[0] as LogRecord)[0]).toBe('msg');
    expect(lines[0]).toMatchObject({ msg: 'flush failed', level: 'warn', module: 'courier', attempt: 2 });
  });

  it('childLogger names the module on lines written through an injected logger', () => {
    const lines: LogRecord[] = [];
    const parent = sinkLogger((r) => lines.push(r), { host: 'test' });
    childLogger(parent, 'validator').error('boom', { what: 'dispatch' });
    expect(lines[0]).toMatchObject({
      msg: 'boom',
      level: 'error',
      host: 'test',
      module: 'validator',
      what: 'dispatch',
    });
  });

  it('jsonLineSink writes one JSON line per record, bigints as strings', () => {
    const out: string[] = [];
    sinkLogger(jsonLineSink((l) => out.push(l))).info('paid', { amount: 5n });
    expect(out).toHaveLength(1);
    expect(out[0]?.endsWith('\n')).toBe(true);
    expect(JSON.parse(out[0] as string)).toMatchObject({ msg: 'paid', level: 'info', amount: '5' });
  });

  it('errorFields keeps the message and the stack (and a code)', () => {
    const err = Object.assign(new Error('disk on fire'), { code: 'DB_IO' });
    expect(errorFields(err)).toEqual({ error: 'disk on fire', stack: err.stack, code: 'DB_IO' });
    expect(errorFields('plain')).toEqual({ error: 'plain' });
  });
});
