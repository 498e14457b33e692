import { useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { NodeStatusInfo } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { Card, Credits, Empty, ErrorLine, Loading, ProgressBar, ScreenHeader } from '../components/ui.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { errorMessage, useCall, useEvent, useNow, useThrottled } from '../hooks/use-call.js';
import { formatCredits, shortId } from '../lib/format.js';
import { explainReconciliation } from '../lib/reconcile.js';
import { chartDays } from '../lib/series.js';
import { describeMarket } from '../lib/status.js';

interface Progress {
  done: number;
  total: number;
  at: number;
}

/** A job-progress entry not updated for this long is dropped (its job ended without an event we saw). */
const STALE_MS = 30_000;

/** Today's earnings: the ledger's sum (reloaded on events) or the live figure the node pushes, whichever is ahead. */
function maxCredits(a: string | undefined, b: string | undefined): string {
  const x = a === undefined ? 0n : BigInt(a);
  const y = b === undefined ? 0n : BigInt(b);
  return (x > y ? x : y).toString();
}

function PauseButton({ status }: { status: NodeStatusInfo }) {
  const { update } = useNodeStatus();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!status.joined) {
    return (
      <a className="btn btn-primary" href="#/join">
        Join a market
      </a>
    );
  }
  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      update(await call(status.paused ? 'node:resume' : 'node:pause'));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="stack-right">
      <button
        type="button"
        className={`btn ${status.paused ? 'btn-primary' : ''}`}
        onClick={() => void toggle()}
        disabled={busy}
      >
        {status.paused ? 'Resume providing' : 'Pause providing'}
      </button>
      <ErrorLine message={error} />
    </div>
  );
}

function RunningNow({ status }: { status: NodeStatusInfo | null }) {
  const [jobs, setJobs] = useState<Map<string, Progress>>(new Map());
  const now = useNow(2000);
  useEvent('job:progress', (p) =>
    setJobs((m) => {
      const next = new Map(m);
      next.set(p.job_id, { done: p.done, total: p.total, at: Date.now() });
      return next;
    }),
  );
  useEvent('job:finished', (row) =>
    setJobs((m) => {
      if (!m.has(row.job_id)) return m;
      const next = new Map(m);
      next.delete(row.job_id);
      return next;
    }),
  );
  const live = [...jobs.entries()].filter(([, p]) => now - p.at < STALE_MS);
  const running = status?.running ?? 0;
  return (
    <Card title="Running now" id="running" actions={<span className="muted num">{running} running</span>}>
      {live.length === 0 ? (
        running > 0 ? (
          <p className="muted">
            {running} {running === 1 ? 'job is' : 'jobs are'} running; progress shows here as the node reports it.
          </p>
        ) : (
          <Empty title="No job running">
            {status?.joined
              ? status.paused
                ? 'Providing is paused.'
                : 'The node takes the next job the market offers.'
              : 'Join a market to take jobs.'}
          </Empty>
        )
      ) : (
        <ul className="running-list">
          {live.map(([id, p]) => (
            <li key={id}>
              <div className="running-head">
                <span className="mono" title={id}>
                  {shortId(id, 8)}
                </span>
                <span className="num muted">{Math.round((p.done / p.total) * 100)}%</span>
              </div>
              <ProgressBar value={p.done} max={p.total} label={`Job ${shortId(id, 8)} progress`} />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

function Reconciliation({ days }: { days: ReturnType<typeof explainReconciliation> }) {
  if (days.length === 0)
    return (
      <Empty title="Nothing to reconcile yet">
        Each day the node works, this table follows every job from taken to settled.
      </Empty>
    );
  return (
    <div className="table-wrap">
      <table className="table recon" aria-label="Reconciliation">
        <thead>
          <tr>
            <th scope="col">Day (UTC)</th>
            <th scope="col" className="r" title="Jobs this node took">
              Expected
            </th>
            <th scope="col" className="r" title="Results sent to the market">
              Submitted
            </th>
            <th scope="col" className="r" title="Results the market verified">
              Verified
            </th>
            <th scope="col" className="r" title="What the market paid (receipts)">
              Paid
            </th>
            <th scope="col" className="r" title="What your ledger credited">
              Settled
            </th>
            <th scope="col">Check</th>
          </tr>
        </thead>
        {days.map((d) => (
          <tbody key={d.day}>
            <tr className={d.balanced ? '' : 'has-issues'}>
              <th scope="row" className="num">
                {d.day}
              </th>
              <td className="r num">{d.expected}</td>
              <td className="r num">{d.submitted}</td>
              <td className="r num">{d.verified}</td>
              <td className="r">
                <Credits micro={d.paid} />
              </td>
              <td className="r">
                <Credits micro={d.settled} />
              </td>
              <td>
                {d.balanced ? (
                  <span className="ok-text">✓ all matched</span>
                ) : (
                  <span className="warn-text">
                    {d.issues.length === 1 ? '1 difference' : `${d.issues.length} differences`}
                  </span>
                )}
              </td>
            </tr>
            {d.issues.length > 0 && (
              <tr className="issues-row">
                <td colSpan={7}>
                  <ul className="issues">
                    {d.issues.map((i) => (
                      <li key={i.kind} className={`issue issue-${i.severity}`}>
                        {i.text}
                      </li>
                    ))}
                  </ul>
                </td>
              </tr>
            )}
          </tbody>
        ))}
      </table>
    </div>
  );
}

export function DashboardScreen() {
  const { status } = useNodeStatus();
  const series = useCall(() => call('earnings:series', { days: 30 }));
  const recon = useCall(() => call('earnings:reconciliation', { days: 30 }));
  const settlement = useCall(() => call('settlement:status'));
  const reload = useThrottled(() => {
    series.reload();
    recon.reload();
    settlement.reload();
  }, 1000);
  useEvent('earnings:changed', reload);
  useEvent('job:finished', reload);
  const now = useNow(60_000);
  const chart = useMemo(() => (series.data ? chartDays(series.data.days, now, 30) : []), [series.data, now]);
  const reconDays = useMemo(() => (recon.data ? explainReconciliation(recon.data) : []), [recon.data]);
  const balance = settlement.data?.balances.find((b) => b.account === status?.address);
  const t = series.data?.totals;
  const chartTotal = chart.reduce((a, d) => a + d.paid, 0);
  const yMax = chart.reduce((a, d) => Math.max(a, d.paid, d.settled), 0);
  const yDecimals = yMax >= 10 ? 0 : yMax >= 1 ? 2 : yMax >= 0.01 ? 4 : 6;

  return (
    <>
      <ScreenHeader
        title="Dashboard"
        lead={
          status
            ? status.joined
              ? `Providing to ${describeMarket(status)}.`
              : 'Not joined to a market yet.'
            : 'Reading the node…'
        }
        actions={status && <PauseButton status={status} />}
      />
      <div className="tiles">
        <div className="tile">
          <span className="tile-label">Jobs done</span>
          <span className="tile-value num" data-testid="jobs-done">
            {status?.jobs_done ?? 0}
          </span>
          <span className="tile-foot muted">
            {status && status.jobs_rejected > 0 ? `${status.jobs_rejected} rejected` : 'since the node started'}
          </span>
        </div>
        <div className="tile tile-accent">
          <span className="tile-label">Earned today</span>
          <span className="tile-value">
            <Credits micro={maxCredits(t?.today, status?.credits_today)} testId="earnings-today" />
          </span>
          <span className="tile-foot muted">paid today (UTC)</span>
        </div>
        <div className="tile">
          <span className="tile-label">Last 7 days</span>
          <span className="tile-value">
            <Credits micro={t?.last_7d ?? null} />
          </span>
        </div>
        <div className="tile">
          <span className="tile-label">Last 30 days</span>
          <span className="tile-value">
            <Credits micro={t?.last_30d ?? null} />
          </span>
        </div>
        <div className="tile">
          <span className="tile-label">Balance</span>
          <span className="tile-value">
            <Credits micro={balance?.balance ?? (settlement.data ? '0' : null)} />
          </span>
          <span className="tile-foot muted">{settlement.data ? `settlement: ${settlement.data.mode_label}` : '—'}</span>
        </div>
      </div>
      <ErrorLine message={series.error ?? settlement.error} onRetry={reload} />
      <div className="grid-dash">
        <Card title="Earnings, last 30 days" id="earnings-chart">
          {series.loading && !series.data ? (
            <Loading />
          ) : (
            <div
              className="chart"
              role="img"
              aria-label={`Bar chart of credits paid and settled per day over the last 30 days; ${formatCredits(BigInt(Math.round(chartTotal * 1e6)))} CPC paid in all.`}
            >
              <ResponsiveContainer width="100%" height={240}>
                <BarChart data={chart} margin={{ top: 8, right: 8, bottom: 0, left: 0 }} barGap={1}>
                  <CartesianGrid vertical={false} stroke="var(--grid)" />
                  <XAxis
                    dataKey="label"
                    tick={{ fill: 'var(--muted)', fontSize: 11 }}
                    tickLine={false}
                    axisLine={{ stroke: 'var(--border)' }}
                    interval="preserveStartEnd"
                    minTickGap={24}
                  />
                  <YAxis
                    tick={{ fill: 'var(--muted)', fontSize: 11 }}
                    tickLine={false}
                    axisLine={false}
                    width={64}
                    tickFormatter={(v: number) => v.toFixed(yDecimals)}
                  />
                  <Tooltip
                    cursor={{ fill: 'var(--hover)' }}
                    contentStyle={{
                      background: 'var(--surface)',
                      border: '1px solid var(--border)',
                      borderRadius: 8,
                      color: 'var(--text)',
                    }}
                    formatter={(v) => `${Number(v).toFixed(6)} CPC`}
                  />
                  <Legend wrapperStyle={{ fontSize: 12, color: 'var(--muted)' }} />
                  <Bar
                    dataKey="paid"
                    name="Paid"
                    fill="var(--accent)"
                    radius={[3, 3, 0, 0]}
                    isAnimationActive={false}
                  />
                  <Bar
                    dataKey="settled"
                    name="Settled"
                    fill="var(--good)"
                    radius={[3, 3, 0, 0]}
                    isAnimationActive={false}
                  />
                </BarChart>
              </ResponsiveContainer>
            </div>
          )}
        </Card>
        <RunningNow status={status} />
      </div>
      <Card
        title="Reconciliation"
        id="reconciliation"
        actions={<span className="muted small">expected → submitted → verified → paid → settled</span>}
      >
        <p className="muted">
          Every job this node took, followed to the credits in your ledger. Where two steps differ, the reason is
          written under the day.
        </p>
        {recon.loading && !recon.data ? <Loading /> : <Reconciliation days={reconDays} />}
        <ErrorLine message={recon.error} onRetry={recon.reload} />
      </Card>
    </>
  );
}
