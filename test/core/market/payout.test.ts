import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_AMOUNT_MICRO } from '../../../src/core/market/amount.js';
import { splitReward } from '../../../src/core/market/payout.js';

const SEED = 0x5917;
const address = fc.stringMatching(/^cpc1[a-z0-9]{1,8}$/);
const workers = fc.uniqueArray(fc.record({ address, verifiedSlices: fc.integer({ min: 1, max: 1000 }) }), {
  minLength: 1,
  maxLength: 12,
  selector: (w) => w.address,
});
const reward = fc.bigInt({ min: 0n, max: MAX_AMOUNT_MICRO });

describe('splitReward', () => {
  console.log(`fast-check seed ${SEED}`);

  it('splits 100 CPC 60/25/10/5', () => {
    const p = splitReward(100_000_000n, [
      { address: 'cpc1a', verifiedSlices: 3 },
      { address: 'cpc1b', verifiedSlices: 1 },
    ]);
    expect(p).toEqual({
      burn: 60_000_000n,
      validator: 10_000_000n,
      treasury: 5_000_000n,
      workers: [
        { address: 'cpc1a', amount: 18_750_000n },
        { address: 'cpc1b', amount: 6_250_000n },
      ],
    });
  });

  it('gives rounding dust of the four parts to burn and worker remainders by fraction, then address', () => {
    // reward 7: pool floor(1.75)=1, validator floor(0.7)=0, treasury floor(0.35)=0, burn 6.
    expect(
      splitReward(7n, [
        { address: 'cpc1b', verifiedSlices: 1 },
        { address: 'cpc1a', verifiedSlices: 1 },
      ]),
    ).toEqual({
      burn: 6n,
      validator: 0n,
      treasury: 0n,
      workers: [
        { address: 'cpc1a', amount: 1n },
        { address: 'cpc1b', amount: 0n },
      ],
    });
    // reward 40: pool 10 over slices 1,2 → 3.33, 6.67: the larger fraction (cpc1z) gets the leftover unit.
    expect(
      splitReward(40n, [
        { address: 'cpc1a', verifiedSlices: 1 },
        { address: 'cpc1z', verifiedSlices: 2 },
      ]).workers,
    ).toEqual([
      { address: 'cpc1a', amount: 3n },
      { address: 'cpc1z', amount: 7n },
    ]);
  });

  it('parts always sum to the reward and none is negative', () => {
    fc.assert(
      fc.property(reward, workers, (r, ws) => {
        const p = splitReward(r, ws);
        const parts = [p.burn, p.validator, p.treasury, ...p.workers.map((w) => w.amount)];
        return parts.every((x) => x >= 0n) && parts.reduce((a, b) => a + b, 0n) === r && p.workers.length === ws.length;
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it('each part is its percentage rounded down, except burn which takes the dust', () => {
    fc.assert(
      fc.property(reward, workers, (r, ws) => {
        const p = splitReward(r, ws);
        const pool = p.workers.reduce((a, w) => a + w.amount, 0n);
        return (
          pool === (r * 25n) / 100n &&
          p.validator === (r * 10n) / 100n &&
          p.treasury === (r * 5n) / 100n &&
          p.burn >= (r * 60n) / 100n &&
          p.burn - (r * 60n) / 100n <= 3n
        );
      }),
      { seed: SEED + 1, numRuns: 1000 },
    );
  });

  it('is pro rata and monotonic: more verified slices never earn less, equal slices differ by at most 1', () => {
    fc.assert(
      fc.property(reward, workers, (r, ws) => {
        const p = splitReward(r, ws);
        const pool = p.workers.reduce((a, w) => a + w.amount, 0n);
        const total = BigInt(ws.reduce((a, w) => a + w.verifiedSlices, 0));
        const got = new Map(p.workers.map((w) => [w.address, w.amount]));
        for (const a of ws) {
          const exactFloor = (pool * BigInt(a.verifiedSlices)) / total;
          const mine = got.get(a.address) as bigint;
          if (mine < exactFloor || mine > exactFloor + 1n) return false;
          for (const b of ws) {
            const theirs = got.get(b.address) as bigint;
            if (a.verifiedSlices > b.verifiedSlices && mine < theirs) return false;
            if (a.verifiedSlices === b.verifiedSlices && (mine - theirs > 1n || theirs - mine > 1n)) return false;
          }
        }
        return true;
      }),
      { seed: SEED + 2, numRuns: 1000 },
    );
  });

  it('refuses a payout without verified work', () => {
    expect(() => splitReward(10n, [])).toThrow(/at least one worker/);
    expect(() => splitReward(10n, [{ address: 'cpc1a', verifiedSlices: 0 }])).toThrow(/at least one verified slice/);
  });
});
