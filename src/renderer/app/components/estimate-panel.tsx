import { call } from '../api/client.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { useCall, useEvent, useThrottled } from '../hooks/use-call.js';
import { estimateEarnings } from '../lib/estimate.js';
import { Amount } from './amount.js';
import { Card, Loading } from './ui.js';

/**
 * What this machine would earn per hour and per day at the market's current prices (Join and
 * Dashboard), with the inputs and the formula it came from.
 */
export function EstimatePanel({ className }: { className?: string }) {
  const bench = useCall(() => call('gpu:benchmark'));
  const bands = useCall(() => call('pricing:bands'));
  const info = useCall(() => call('node:info'));
  const settings = useCall(() => call('settings:get'));
  const summary = useCall(() => call('earnings:summary', { days: 1 }));
  // Prices and this node's recent jobs change as jobs finish: read them again (at most every 5 s).
  const reload = useThrottled(() => {
    bands.reload();
    summary.reload();
  }, 5000);
  useEvent('job:finished', reload);
  const { status } = useNodeStatus();
  // The practice market's prices are in practice credits; while not joined, the market of the history.
  const practice = status?.joined ? status.market?.kind === 'practice' : (summary.data?.practice ?? false);
  const estimate =
    bench.data && bands.data && info.data && summary.data
      ? estimateEarnings({
          mbps: bench.data.cpu_mbps,
          threads: settings.data?.threads ?? info.data.cpu_threads,
          recent: summary.data.recent_jobs,
          bands: bands.data,
        })
      : null;
  return (
    <Card title="What this machine could earn" id="estimate" {...(className ? { className } : {})}>
      {!estimate ? (
        <Loading label="Measuring this machine…" />
      ) : !estimate.ok ? (
        <p className="muted">{estimate.reason}</p>
      ) : (
        <>
          {estimate.likely && (
            <div className="estimate-figures">
              <div>
                <span className="tile-label">Per hour, as jobs come now</span>
                <span className="estimate-value" data-testid="estimate-likely-hour">
                  ≈ <Amount micro={estimate.likely.perHour} practice={practice} />
                </span>
              </div>
              <div>
                <span className="tile-label">Per day, as jobs come now</span>
                <span className="estimate-value" data-testid="estimate-likely-day">
                  ≈ <Amount micro={estimate.likely.perDay} practice={practice} />
                </span>
              </div>
            </div>
          )}
          <div className={estimate.likely ? 'estimate-figures estimate-ceiling' : 'estimate-figures'}>
            <div>
              <span className="tile-label">
                {estimate.likely ? 'At most per hour, at full load' : 'Per hour, at full load'}
              </span>
              <span className="estimate-value" data-testid="estimate-hour">
                ≈ <Amount micro={estimate.perHour} practice={practice} />
              </span>
            </div>
            <div>
              <span className="tile-label">
                {estimate.likely ? 'At most per day, at full load' : 'Per day, at full load'}
              </span>
              <span className="estimate-value" data-testid="estimate-day">
                ≈ <Amount micro={estimate.perDay} practice={practice} />
              </span>
            </div>
          </div>
          <p className="muted small how">
            <strong>How this is computed:</strong> {estimate.formula} of{' '}
            <Amount micro={estimate.offer} practice={practice} /> per job; per day = per hour × 24.
            {estimate.likely &&
              ` As jobs come now: ${estimate.likely.jobsPerHour.toFixed(1)} jobs/h reached this node over the last hour, at the same offer.`}{' '}
            An estimate at the market’s current prices that assumes jobs keep coming (one always waiting for every
            thread): the market’s supply of jobs, not this machine, is usually the limit — compare what you earned in
            the last 7 days.
          </p>
        </>
      )}
    </Card>
  );
}
