import { formatBytes } from '../../../core/units.js';
import type { PricingBandsInfo } from '../../../shared/contract.js';

/** Job size assumed before this node has finished a job: 4 MiB, a typical slice. */
export const DEFAULT_JOB_BYTES = 4 << 20;

export interface EstimateInput {
  /** BLAKE3 MB/s of one thread on this machine (the node's benchmark). */
  mbps: number;
  /** Jobs the node runs at once (its threads). */
  threads: number;
  /** Mean size, run time and offer (micro-CPC) of this node's recent jobs; nulls before its first job. */
  recent: { bytes: number | null; ms: number | null; offer?: string | null; arrivals_per_hour?: number | null };
  /** The price board: offers seen per lane. */
  bands: PricingBandsInfo;
}

export type Estimate =
  | {
      ok: true;
      /** Where the price comes from: a lane's median on the price board, or this node's recent jobs. */
      priceSource: 'consumer' | 'industrial' | 'recent jobs';
      /** Offer per job (micro-CPC). */
      offer: bigint;
      bytesPerJob: number;
      /** Seconds one job takes on one thread. */
      secondsPerJob: number;
      jobsPerHour: number;
      /** micro-CPC, rounded down. */
      perHour: bigint;
      perDay: bigint;
      /** The formula with this machine's numbers, one line. */
      formula: string;
      /**
       * At the rate jobs have been reaching this node (last hour), when known and below what the
       * machine could do: what it is likely to earn if the market keeps sending jobs as it has.
       */
      likely: { jobsPerHour: number; perHour: bigint; perDay: bigint } | null;
    }
  | { ok: false; reason: string };

/**
 * What this machine would earn per hour and per day at the market's current prices, if jobs
 * keep coming: one job takes max(job size ÷ BLAKE3 speed, the node's recent mean run time) on
 * one thread; `threads` run at once; each pays the median offer of the lane with the most
 * offers on the price board (else the mean offer of this node's recent jobs). An estimate: the
 * market's supply of jobs, not the machine, is usually the limit.
 */
export function estimateEarnings(input: EstimateInput): Estimate {
  const lane = [...input.bands.lanes]
    .filter((l) => l.median !== null && l.count > 0)
    .sort((a, b) => b.count - a.count)[0];
  const recentOffer = input.recent.offer ?? null;
  if ((!lane || lane.median === null) && recentOffer === null)
    return { ok: false, reason: 'No prices seen yet: the estimate appears once the market has announced offers.' };
  if (!(input.mbps > 0)) return { ok: false, reason: 'No benchmark yet: the estimate appears once it has run.' };
  const priceSource = lane && lane.median !== null ? lane.lane : 'recent jobs';
  const offer = BigInt(lane && lane.median !== null ? lane.median : (recentOffer as string));
  const bytesPerJob = input.recent.bytes !== null && input.recent.bytes > 0 ? input.recent.bytes : DEFAULT_JOB_BYTES;
  const hashSeconds = bytesPerJob / (input.mbps * 1e6);
  const runSeconds = input.recent.ms !== null ? input.recent.ms / 1000 : 0;
  const secondsPerJob = Math.max(hashSeconds, runSeconds, 1e-3);
  const threads = Math.max(1, Math.floor(input.threads));
  const jobsPerHour = (threads * 3600) / secondsPerJob;
  // Integer money: jobs per hour in thousandths, so the product stays exact in bigint.
  const perHour = (offer * BigInt(Math.floor(jobsPerHour * 1000))) / 1000n;
  const perDay = (offer * BigInt(Math.floor(jobsPerHour * 24 * 1000))) / 1000n;
  const size = formatBytes(Math.round(bytesPerJob));
  const formula =
    `${threads} thread${threads === 1 ? '' : 's'} × 3600 s ÷ ${secondsPerJob.toFixed(3)} s per job ` +
    `(${size} at ${input.mbps.toFixed(0)} MB/s${runSeconds > hashSeconds ? `, or ${runSeconds.toFixed(3)} s as your recent jobs took` : ''}) ` +
    `= ${Math.round(jobsPerHour).toLocaleString('en-US')} jobs/h × ${priceSource === 'recent jobs' ? 'the mean offer of your recent jobs' : `median offer (${priceSource} lane)`}`;
  const arrivals = input.recent.arrivals_per_hour ?? null;
  const likelyRate = arrivals !== null && arrivals < jobsPerHour ? arrivals : null;
  const likely =
    likelyRate === null
      ? null
      : {
          jobsPerHour: likelyRate,
          perHour: (offer * BigInt(Math.floor(likelyRate * 1000))) / 1000n,
          perDay: (offer * BigInt(Math.floor(likelyRate * 24 * 1000))) / 1000n,
        };
  return { ok: true, priceSource, offer, bytesPerJob, secondsPerJob, jobsPerHour, perHour, perDay, formula, likely };
}
