import { describe, expect, it } from 'vitest';
import { matchCandidates, type LeaseTurn } from '../../src/market/validator/dispatcher.js';
import type { LeaseCandidate } from '../../src/market/store/validator-repo.js';
import type { ProviderSession } from '../../src/market/validator/provider-session.js';
import type { CapabilitiesFrame } from '../../src/shared/market-protocol.js';
import { capabilitiesFrame } from '../support/raw-provider.js';

const caps = (over: Partial<CapabilitiesFrame> = {}): CapabilitiesFrame => capabilitiesFrame({ max_jobs: 4, ...over });

const turn = (address: string, room: number, over: Partial<CapabilitiesFrame> = {}, retake = false): LeaseTurn => ({
  session: { address } as ProviderSession,
  caps: caps(over),
  retake,
  room,
  taken: 0,
});

const job = (jobId: string, over: Partial<LeaseCandidate> = {}): LeaseCandidate => ({
  jobId,
  lane: 'consumer',
  gpuRequired: false,
  offer: 10n,
  pairKey: jobId,
  lostBy: null,
  pairHolders: [],
  ...over,
});

const pairs = (m: ReturnType<typeof matchCandidates>) => m.map((x) => [x.jobId, x.turn.session.address]);

describe('matching a pass’s locked jobs to its providers', () => {
  it('serves providers in turn, each the earliest jobs that fit it, up to its room', () => {
    const turns = [turn('a', 2), turn('b', 1, { lanes: ['industrial'] }), turn('c', 3, { ask: '11' })];
    const m = matchCandidates(turns, [job('j1'), job('j2'), job('j3'), job('j4', { lane: 'industrial' }), job('j5')]);
    expect(pairs(m)).toEqual([
      ['j1', 'a'],
      ['j2', 'a'],
      ['j4', 'b'],
    ]);
    expect(turns.map((t) => t.taken)).toEqual([2, 1, 0]);
  });

  it('a GPU job only to a hardware GPU', () => {
    const soft = turn('soft', 1, { gpu: { name: 'llvmpipe', vendor: 'mesa', software: true } });
    const hard = turn('hard', 1, { gpu: { name: 'RTX', vendor: 'nvidia', software: false } });
    expect(pairs(matchCandidates([soft, hard], [job('g', { gpuRequired: true }), job('c')]))).toEqual([
      ['c', 'soft'],
      ['g', 'hard'],
    ]);
  });

  it('never a job the provider lost, unless it may take it back', () => {
    const lost = job('j1', { lostBy: 'a' });
    expect(pairs(matchCandidates([turn('a', 1)], [lost, job('j2')]))).toEqual([['j2', 'a']]);
    expect(pairs(matchCandidates([turn('a', 1, {}, true)], [lost, job('j2')]))).toEqual([['j1', 'a']]);
  });

  it('never both runs of a pair to one provider: not one it holds or held, nor two in the same match', () => {
    const primary = job('p', { pairKey: 'p' });
    const twin = job('t', { pairKey: 'p' });
    expect(pairs(matchCandidates([turn('a', 2), turn('b', 2)], [primary, twin]))).toEqual([
      ['p', 'a'],
      ['t', 'b'],
    ]);
    expect(pairs(matchCandidates([turn('a', 2)], [job('t', { pairKey: 'p', pairHolders: ['a'] }), job('x')]))).toEqual([
      ['x', 'a'],
    ]);
  });

  it('a provider’s two turns (the second may retake) share its room', () => {
    const session = { address: 'a' } as ProviderSession;
    const turns = (): LeaseTurn[] => [
      { session, caps: caps(), retake: false, room: 1, taken: 0 },
      { session, caps: caps(), retake: true, room: 1, taken: 0 },
    ];
    const lost = job('j1', { lostBy: 'a' });
    expect(pairs(matchCandidates(turns(), [lost, job('j2')]))).toEqual([['j2', 'a']]);
    const t = turns();
    expect(pairs(matchCandidates(t, [lost]))).toEqual([['j1', 'a']]);
    expect(t.map((x) => x.taken)).toEqual([0, 1]);
  });
});
