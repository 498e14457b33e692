import { useMemo, useState } from 'react';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { EarningsSummary, MarketReconciliationInfo, NodeStatusInfo } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { Amount } from '../components/amount.js';
import { EstimatePanel } from '../components/estimate-panel.js';
import { Card, Empty, ErrorLine, Loading, ProgressBar, ScreenHeader } from '../components/ui.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { errorMessage, useCall, useEvent, useNow, useThrottled } from '../hooks/use-call.js';
import { creditUnit, earningsCards, unitExplanation } from '../lib/earnings.js';
import { formatCredits, shortId } from '../lib/format.js';
import { explainMarketCheck } from '../lib/reconcile.js';
import { chartDays, chartPaid } from '../lib/series.js';
import { describeMarket } from '../lib/status.js';
import '../earnings.css';

interface Progress {
  done: number;
  total: number;
  at: number;
}

/** A job-progress entry not updated for this long is dropped (its job ended without an event we saw). */
const STALE_MS = 30_000;

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

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** The headline (earned at this market, all time) and the breakdown that adds up to it exactly. */
function Earned({ summary }: { summary: EarningsSummary }) {
  const c = earningsCards(summary);
  const p = summary.practice;
  return (
    <Card title="Earned" id="earned" className="earned">
      <div className="earned-head">
        <div className="earned-figure">
          <span className="earned-value">
            <Amount micro={c.earned} practice={p} testId="earned-total" exact />
          </span>
          <span className="muted small">
            paid by {summary.market_id ?? 'the market'} for{' '}
            <span className="num" data-testid="jobs-done">
              {c.paidJobs}
            </span>{' '}
            {c.paidJobs === 1 ? 'job' : 'jobs'}, all time
          </span>
        </div>
        {p && (
          <span className="badge-practice" title={unitExplanation(true)}>
            Practice credits · not money
          </span>
        )}
      </div>
      <dl className="breakdown" aria-label="Where your earnings stand">
        <div>
          <dt>Settled in your ledger</dt>
          <dd>
            <Amount micro={c.settled} practice={p} testId="earned-settled" exact />
          </dd>
        </div>
        <div>
          <dt>
            Awaiting settlement{' '}
            <span className="muted small">
              ({plural(summary.headline.awaiting_receipts, 'receipt', 'receipts')} recorded while settlement is dry-run)
            </span>
          </dt>
          <dd>
            <Amount micro={c.awaitingSettlement} practice={p} testId="earned-awaiting" exact />
          </dd>
        </div>
        <div className="breakdown-total">
          <dt>Earned</dt>
          <dd>
            <Amount micro={c.earned} practice={p} exact />
          </dd>
        </div>
      </dl>
      <div className="periods" role="group" aria-label="Earned by period">
        <div>
          <span className="tile-label">Today</span>
          <Amount micro={c.today} practice={p} testId="earnings-today" exact />
        </div>
        <div>
          <span className="tile-label">Last 7 days</span>
          <Amount micro={c.last7d} practice={p} testId="earnings-7d" exact />
        </div>
        <div>
          <span className="tile-label">All time</span>
          <Amount micro={c.all} practice={p} testId="earnings-all" exact />
        </div>
      </div>
      <p className="muted small">Days end at midnight UTC. {unitExplanation(p)}</p>
      <h3 className="subhead">On the way — not earned yet</h3>
      <ul className="on-the-way">
        <li data-testid="on-the-way-verified">
          <strong className="num">{c.verifiedJobs}</strong> verified · awaiting payment
          <span className="muted">
            {' '}
            (offered <Amount micro={c.verifiedOffered} practice={p} />)
          </span>
        </li>
        <li data-testid="on-the-way-pending">
          <strong className="num">{c.pendingJobs}</strong> pending · awaiting verification
          <span className="muted">
            {' '}
            (offered <Amount micro={c.pendingOffered} practice={p} />)
          </span>
        </li>
        <li>
          <strong className="num">{summary.on_the_way.running}</strong> running
        </li>
        {summary.not_paid.rejected + summary.not_paid.lost > 0 && (
          <li className="muted">
            Not paid: {summary.not_paid.rejected} rejected (the market re-ran them and the result did not match),{' '}
            {summary.not_paid.lost} lost (not finished in time).
          </li>
        )}
      </ul>
    </Card>
  );
}

/** The market's balance for this node against the receipts, and why they differ. */
function MarketCheck({ info, onCheck, busy }: { info: MarketReconciliationInfo; onCheck: () => void; busy: boolean }) {
  const v = explainMarketCheck(info);
  return (
    <Card
      title="Checked with the market"
      id="reconciliation"
      actions={
        <button type="button" className="btn btn-small" onClick={onCheck} disabled={busy}>
          {busy ? 'Checking…' : 'Check now'}
        </button>
      }
    >
      <div className={`market-check market-check-${v.tone}`} role={v.tone === 'problem' ? 'alert' : undefined}>
        <p className="market-check-title">
          {v.tone === 'ok' ? '✓ ' : v.tone === 'problem' ? '⚠ ' : ''}
          {v.title}
        </p>
        <p>{v.text}</p>
      </div>
      <dl className="breakdown compact">
        <div>
          <dt>Your receipts ({info.receipts})</dt>
          <dd>
            <Amount micro={info.receipts_total} practice={info.practice} testId="recon-receipts" exact />
          </dd>
        </div>
        <div>
          <dt>The market&apos;s balance for this node</dt>
          <dd>
            <Amount micro={info.market_balance} practice={info.practice} testId="recon-market" exact />
          </dd>
        </div>
      </dl>
    </Card>
  );
}

export function DashboardScreen() {
  const { status } = useNodeStatus();
  const summary = useCall(() => call('earnings:summary', { days: 30 }));
  const recon = useCall(() => call('earnings:reconciliation'));
  const reload = useThrottled(() => {
    summary.reload();
    recon.reload();
  }, 1000);
  useEvent('earnings:changed', reload);
  useEvent('job:finished', reload);
  const chart = useMemo(() => (summary.data ? chartDays(summary.data.days) : []), [summary.data]);
  const practice = summary.data?.practice ?? status?.market?.kind === 'practice';
  const unit = creditUnit(practice);
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
      <ErrorLine message={summary.error} onRetry={reload} />
      <div className="grid-earnings">
        {summary.data ? <Earned summary={summary.data} /> : <Loading />}
        <div className="earnings-side">
          {recon.data ? (
            <MarketCheck info={recon.data} onCheck={recon.reload} busy={recon.loading} />
          ) : (
            <Card title="Checked with the market" id="reconciliation">
              {recon.error ? <ErrorLine message={recon.error} onRetry={recon.reload} /> : <Loading />}
            </Card>
          )}
          <EstimatePanel />
        </div>
      </div>
      <div className="grid-dash">
        <Card title="Earned per day, last 30 days (UTC)" id="earnings-chart">
          {summary.loading && !summary.data ? (
            <Loading />
          ) : (
            <div
              className="chart"
              role="img"
              aria-label={`Bar chart of ${unit} paid and settled per UTC day over the last 30 days; ${formatCredits(chartPaid(chart))} ${unit} paid in all.`}
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
                    formatter={(v) => `${Number(v).toFixed(6)} ${unit}`}
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
    </>
  );
}
