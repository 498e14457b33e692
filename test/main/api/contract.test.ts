import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/core/errors.js';
import {
  CHANNELS,
  contract,
  ContractCallError,
  dispatchContractCall,
  EVENTS,
  events,
  unwrapEnvelope,
  type ContractHandlers,
} from '../../../src/shared/contract.js';
import { mergeHandlers } from '../../../src/main/api/handlers.js';

/** A full table whose handlers all throw, with `over` replacing some. */
function table(over: Partial<ContractHandlers>): ContractHandlers {
  const all = Object.fromEntries(
    CHANNELS.map((c) => [
      c,
      () => {
        throw new Error(`unexpected call to ${c}`);
      },
    ]),
  );
  return { ...all, ...over } as ContractHandlers;
}

const info = { name: 'Tessera', version: '1.2.3', platform: 'linux' };

describe('the contract', () => {
  it('declares a schema for every channel and every event, and nothing else', () => {
    expect(Object.keys(contract).sort()).toEqual([...CHANNELS].sort());
    expect(Object.keys(events).sort()).toEqual([...EVENTS].sort());
  });
});

describe('dispatchContractCall', () => {
  it('answers a call with an ok envelope holding the parsed result', async () => {
    expect(await dispatchContractCall(table({ 'app:info': () => info }), 'app:info', [])).toEqual({
      ok: true,
      result: info,
    });
  });

  it('answers an unknown channel and a non-string channel with UNKNOWN_CHANNEL, without calling anything', async () => {
    expect(await dispatchContractCall(table({}), 'db:exec', [])).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_CHANNEL' },
    });
    expect(await dispatchContractCall(table({}), 'toString', [])).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_CHANNEL' },
    });
    expect(await dispatchContractCall(table({}), 42, [])).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_CHANNEL' },
    });
  });

  it('answers arguments that fail the schema with BAD_ARGUMENTS naming the field', async () => {
    let called = false;
    const h = table({
      'jobs:list': () => {
        called = true;
        return { rows: [], next: null, total: 0 };
      },
    });
    const res = await dispatchContractCall(h, 'jobs:list', [{ limit: 0 }]);
    expect(res).toMatchObject({ ok: false, error: { code: 'BAD_ARGUMENTS' } });
    expect(!res.ok && res.error.message).toContain('limit');
    expect(await dispatchContractCall(h, 'jobs:list', 'not an array')).toMatchObject({
      ok: false,
      error: { code: 'BAD_ARGUMENTS' },
    });
    expect(await dispatchContractCall(h, 'jobs:list', [{ limit: 5, sql: 'DROP TABLE' }])).toMatchObject({
      ok: false,
      error: { code: 'BAD_ARGUMENTS' },
    });
    expect(called).toBe(false);
  });

  it('passes a declared TesseraError code through with its first message line', async () => {
    const h = table({
      'node:leave': () => {
        throw new TesseraError('NOT_JOINED', 'the node has not joined a market\nsecond line');
      },
    });
    expect(await dispatchContractCall(h, 'node:leave', [])).toEqual({
      ok: false,
      error: { code: 'NOT_JOINED', message: 'the node has not joined a market' },
    });
  });

  it('maps undeclared codes, plain errors and bad results to INTERNAL, reporting the original to onInternal', async () => {
    const seen: unknown[] = [];
    const onInternal = (err: unknown) => seen.push(err);
    const secret = new Error('SQLITE_CORRUPT at /home/me/.tessera/ledger.db');
    const h = table({
      'node:leave': () => {
        throw new TesseraError('SOME_PRIVATE_CODE', 'private detail');
      },
      'node:pause': () => {
        throw secret;
      },
      'app:info': () => ({ name: 1 }) as never,
    });
    for (const c of ['node:leave', 'node:pause', 'app:info'] as const) {
      const res = await dispatchContractCall(h, c, [], { onInternal });
      expect(res).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
      expect(JSON.stringify(res)).not.toMatch(/private detail|SQLITE_CORRUPT|SOME_PRIVATE_CODE/);
    }
    expect(seen).toHaveLength(3);
    expect(seen[1]).toBe(secret);
  });
});

describe('unwrapEnvelope (the UI side)', () => {
  it('returns the result of an ok envelope', () => {
    expect(unwrapEnvelope({ ok: true, result: 7 })).toBe(7);
  });

  it('rethrows a failure as ContractCallError keeping a declared code, and reads an unknown code as INTERNAL', () => {
    const err = (() => {
      try {
        unwrapEnvelope({ ok: false, error: { code: 'NOT_JOINED', message: 'join first' } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ContractCallError);
    expect(err).toMatchObject({ code: 'NOT_JOINED', message: 'join first' });
    expect(() => unwrapEnvelope({ ok: false, error: { code: 'WHATEVER', message: 'x' } })).toThrow(
      expect.objectContaining({ code: 'INTERNAL' }),
    );
    expect(() => unwrapEnvelope({ nope: true })).toThrow(expect.objectContaining({ code: 'BAD_FRAME' }));
  });
});

describe('mergeHandlers', () => {
  const half = Math.floor(CHANNELS.length / 2);
  const fn = () => info;
  const setA = Object.fromEntries(CHANNELS.slice(0, half).map((c) => [c, fn]));
  const setB = Object.fromEntries(CHANNELS.slice(half).map((c) => [c, fn]));

  it('merges disjoint sets that cover every channel', () => {
    expect(Object.keys(mergeHandlers(setA, setB)).sort()).toEqual([...CHANNELS].sort());
  });

  it('throws at start-up on a duplicate, a missing channel, or a handler for no channel', () => {
    expect(() => mergeHandlers(setA, setB, { [CHANNELS[0]]: fn })).toThrow(`two handlers for "${CHANNELS[0]}"`);
    expect(() => mergeHandlers(setA)).toThrow(`no handler for "${CHANNELS[half]}"`);
    expect(() => mergeHandlers(setA, setB, { 'db:exec': fn } as never)).toThrow(
      '"db:exec", which is not a contract channel',
    );
  });
});
