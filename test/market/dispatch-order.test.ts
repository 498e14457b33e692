import { describe, expect, it } from 'vitest';
import { dispatchOrder } from '../../src/market/validator/dispatch-order.js';

const heard: Record<string, number | undefined> = { a: 0, b: 95_000, c: 60_000, d: undefined, e: 99_000 };
const order = (names: string[]) =>
  dispatchOrder(names, (n) => heard[n], 100_000, 30_000).map((t) => `${t.session}${t.retake ? '+' : ''}`);

describe('dispatch order', () => {
  it('serves fresh providers (heard within t1) before stale ones, each group in join order, then all again allowed to retake their own lost jobs', () => {
    expect(order(['a', 'b', 'c', 'd', 'e'])).toEqual(['b', 'e', 'a', 'c', 'd', 'b+', 'e+', 'a+', 'c+', 'd+']);
  });

  it('a provider heard exactly t1 ago is stale', () => {
    heard.x = 70_000;
    expect(order(['x', 'b'])).toEqual(['b', 'x', 'b+', 'x+']);
  });

  it('no providers, no turns', () => {
    expect(order([])).toEqual([]);
  });
});
