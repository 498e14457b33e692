import { useState, type FormEvent } from 'react';
import type { BenchmarkInfo, GpuCapabilitiesInfo, PricingInfo } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { Card, CopyButton, Credits, Dot, ErrorLine, Facts, Loading, ScreenHeader } from '../components/ui.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { errorMessage, useCall, useEvent } from '../hooks/use-call.js';
import { formatMbps } from '../lib/format.js';
import { describeMarket, statusLine } from '../lib/status.js';
import { useConnection } from '../hooks/connection.js';
import { describeGpu } from '../lib/describe.js';
import {
  MARKET_FIELD_HINT,
  MARKET_FIELD_LABEL,
  marketFieldRows,
  marketFieldText,
  parseMarketField,
} from '../lib/market-field.js';
import { marketUrlValue } from '../../../shared/market-urls.js';
import { EstimatePanel } from '../components/estimate-panel.js';

function MarketChoice() {
  const { status, update, lastJobAt } = useNodeStatus();
  const { state } = useConnection();
  const settings = useCall(() => call('settings:get'));
  const [url, setUrl] = useState<string | null>(null);
  const [urlError, setUrlError] = useState<string | null>(null);
  const [busy, setBusy] = useState<'practice' | 'url' | 'leave' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const value = url ?? marketFieldText(settings.data?.market_url);

  const run = async (kind: 'practice' | 'url' | 'leave', fn: () => Promise<Parameters<typeof update>[0]>) => {
    setBusy(kind);
    setError(null);
    try {
      update(await fn());
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(null);
    }
  };
  const joinUrl = (e: FormEvent) => {
    e.preventDefault();
    const field = parseMarketField(value);
    const problem =
      field.urls?.length === 0
        ? `Enter the ${MARKET_FIELD_LABEL.toLowerCase()}, e.g. https://market.example.org.`
        : field.error;
    setUrlError(problem);
    if (field.urls !== null && field.urls.length > 0) {
      const urls = marketUrlValue(field.urls);
      void run('url', () => call('node:join', { kind: 'url', url: urls }));
    }
  };

  if (!status) return <Loading label="Reading the node's status…" />;
  if (status.joined) {
    const line = statusLine(status, { transportOpen: state !== 'closed', lastJobAt, now: Date.now() });
    return (
      <Card title="Market" id="market">
        <p className="joined-line">
          <Dot tone={line.tone} /> Providing to <strong>{describeMarket(status)}</strong> — {line.word.toLowerCase()},{' '}
          {line.detail}.
        </p>
        <div className="row">
          <button
            type="button"
            className="btn"
            onClick={() => void run('leave', () => call('node:leave'))}
            disabled={busy !== null}
          >
            {busy === 'leave' ? 'Leaving…' : 'Leave market'}
          </button>
          <a className="btn btn-ghost" href="#/dashboard">
            Open the dashboard
          </a>
        </div>
        <ErrorLine message={error} />
      </Card>
    );
  }
  // The practice market is already starting (at launch, or from another window): joining again would be refused.
  const starting = status.startup?.phase === 'starting_practice' || status.startup?.phase === 'connecting';
  return (
    <div className="grid-2">
      <Card title="Practice market" id="practice">
        <p className="muted">
          A market that runs inside this node, with a practice customer posting real jobs. Nothing leaves this machine —
          the quickest way to see Tessera earn.
        </p>
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => void run('practice', () => call('node:join', { kind: 'practice' }))}
          disabled={busy !== null || starting}
        >
          {busy === 'practice' || starting ? 'Joining…' : 'Join practice market'}
        </button>
        {busy === 'practice' && (
          <p className="hint" aria-live="polite">
            Starting the practice market on this machine: the first start can take up to a minute.
          </p>
        )}
      </Card>
      <Card title="A market by URL" id="by-url">
        <form onSubmit={joinUrl} noValidate>
          <div className="field">
            <label htmlFor="market-url">{MARKET_FIELD_LABEL}</label>
            <textarea
              id="market-url"
              inputMode="url"
              rows={marketFieldRows(value)}
              spellCheck={false}
              autoCapitalize="off"
              autoCorrect="off"
              placeholder={'https://market.example.org\nhttps://market-2.example.org'}
              value={value}
              onChange={(e) => {
                setUrl(e.target.value);
                setUrlError(null);
              }}
              aria-invalid={urlError !== null}
              aria-describedby={urlError ? 'market-url-error market-url-hint' : 'market-url-hint'}
            />
            {urlError && (
              <p className="field-error" id="market-url-error">
                {urlError}
              </p>
            )}
            <p className="hint" id="market-url-hint">
              The address your market operator gave you. {MARKET_FIELD_HINT}
            </p>
          </div>
          <button type="submit" className="btn btn-primary" disabled={busy !== null}>
            {busy === 'url' ? 'Joining…' : 'Join market'}
          </button>
        </form>
      </Card>
      <div className="span-2">
        <ErrorLine message={error} />
      </div>
    </div>
  );
}

function Hardware() {
  const [gpuLive, setGpuLive] = useState<GpuCapabilitiesInfo | null>(null);
  const gpu = useCall(() => call('gpu:capabilities'));
  const cpu = useCall(() => call('node:info'));
  useEvent('gpu:capabilities-changed', setGpuLive);
  const g = gpuLive ?? gpu.data;
  const d = g ? describeGpu(g) : null;
  return (
    <Card title="This machine" id="hardware">
      {gpu.loading && !g ? (
        <Loading />
      ) : (
        <Facts
          items={[
            [
              'CPU',
              cpu.data ? (
                `${cpu.data.cpu_model} · ${cpu.data.cpu_threads} threads`
              ) : cpu.loading ? (
                'Reading…'
              ) : (
                <span className="muted">not reported by this node</span>
              ),
            ],
            [
              'GPU',
              d ? (
                <span className="gpu-line">
                  <Dot tone={d.usable ? 'good' : d.software ? 'warn' : 'idle'} />
                  <span>
                    <strong>{d.name}</strong>
                    {d.badge && <span className={`badge ${d.software ? 'badge-warn' : ''}`}>{d.badge}</span>}
                    <span className="block muted">{d.note}</span>
                  </span>
                </span>
              ) : (
                '—'
              ),
            ],
          ]}
        />
      )}
      <ErrorLine message={gpu.error ?? cpu.error} onRetry={gpu.reload} />
    </Card>
  );
}

function Benchmark() {
  const [result, setResult] = useState<BenchmarkInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await call('gpu:benchmark'));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card
      title="Quick benchmark"
      id="benchmark"
      actions={
        <button type="button" className="btn" onClick={() => void run()} disabled={busy}>
          {busy ? 'Running…' : 'Run benchmark'}
        </button>
      }
    >
      <p className="muted">
        Hashes a few MiB with BLAKE3 — the work jobs pay for — on the CPU and, when usable, the GPU.
      </p>
      <div aria-live="polite">
        {!result && !busy && <p className="empty-title muted">Not run yet: it takes a second or two.</p>}
        {result && (
          <div className="bench">
            <div className="stat">
              <span className="stat-label">CPU</span>
              <span className="stat-value num">{formatMbps(result.cpu_mbps)}</span>
            </div>
            <div className="stat">
              <span className="stat-label">GPU</span>
              <span className="stat-value num">
                {result.gpu_mbps === null ? <span className="muted">no usable GPU</span> : formatMbps(result.gpu_mbps)}
              </span>
            </div>
          </div>
        )}
      </div>
      <ErrorLine message={error} />
    </Card>
  );
}

function Band({ lane }: { lane: PricingInfo['lanes'][number] }) {
  if (lane.p25 === null || lane.median === null || lane.p75 === null)
    return <span className="muted">no prices seen yet</span>;
  const lo = Number(lane.p25);
  const hi = Number(lane.p75);
  const span = Math.max(1, hi - lo);
  const at = (v: string | null) =>
    v === null ? null : Math.min(100, Math.max(0, 10 + ((Number(v) - lo) / span) * 80));
  const med = at(lane.median);
  const bid = at(lane.suggested_bid);
  return (
    <div className="band" aria-hidden="true">
      <div className="band-range" style={{ left: '10%', width: '80%' }} />
      {med !== null && <div className="band-mark band-median" style={{ left: `${med}%` }} />}
      {bid !== null && <div className="band-mark band-bid" style={{ left: `${bid}%` }} />}
    </div>
  );
}

function Pricing() {
  const p = useCall(() => call('pricing:bands'));
  return (
    <Card title="Price" id="pricing" className="span-2">
      {p.loading && !p.data ? (
        <Loading />
      ) : p.data ? (
        <>
          <p className="ask-line">
            Ask now:{' '}
            <strong>
              {p.data.ask === null ? <span className="muted">not providing</span> : <Credits micro={p.data.ask} />}
            </strong>{' '}
            <span className="muted">per job · admission {p.data.admission_mode}</span>
          </p>
          {p.data.lanes.length === 0 ? (
            <p className="muted">No price bands yet: they fill in as this node sees the market's offers.</p>
          ) : (
            <table className="table compact">
              <caption className="visually-hidden">Price bands per lane, in CPC per job</caption>
              <thead>
                <tr>
                  <th scope="col">
                    <abbr title="The market keeps two queues (lanes): consumer — small jobs any machine can take; industrial — jobs that reserve capacity until they finish">
                      Lane
                    </abbr>
                  </th>
                  <th scope="col" className="r">
                    Suggested bid
                  </th>
                  <th scope="col" className="r">
                    <abbr title="A quarter of the offers seen were at or below this">Low (p25)</abbr>
                  </th>
                  <th scope="col" className="r">
                    Median
                  </th>
                  <th scope="col" className="r">
                    <abbr title="Three quarters of the offers seen were at or below this">High (p75)</abbr>
                  </th>
                  <th scope="col">Band</th>
                </tr>
              </thead>
              <tbody>
                {p.data.lanes.map((l) => (
                  <tr key={l.lane}>
                    <th scope="row">
                      {l.lane} <span className="muted small">({l.count} offers)</span>
                    </th>
                    <td className="r">
                      <Credits micro={l.suggested_bid} />
                    </td>
                    <td className="r">
                      <Credits micro={l.p25} />
                    </td>
                    <td className="r">
                      <Credits micro={l.median} />
                    </td>
                    <td className="r">
                      <Credits micro={l.p75} />
                    </td>
                    <td className="band-cell">
                      <Band lane={l} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p className="hint">
            What jobs offered lately, per job: half of the offers were below the median. The node takes every offer
            unless you set a lowest offer in Settings; the suggested bid is a floor that still gets jobs.
          </p>
        </>
      ) : null}
      <ErrorLine message={p.error} onRetry={p.reload} />
    </Card>
  );
}

export function JoinScreen() {
  const { status } = useNodeStatus();
  return (
    <>
      <ScreenHeader
        title="Join"
        lead="Pick where this machine earns, check what it can offer, and see what the market pays."
      />
      <MarketChoice />
      <div className="grid-2">
        <Card title="Provider address" id="address" className="span-2">
          <p className="muted">
            The market pays this address. It is this node's public key; the secret key stays in the data folder.
          </p>
          <div className="address-row">
            <code className="address" data-testid="provider-address">
              {status?.address ?? ''}
            </code>
            <CopyButton text={status?.address ?? ''} label="Copy address" />
          </div>
        </Card>
        <Hardware />
        <Benchmark />
        <Pricing />
        <EstimatePanel className="span-2" />
      </div>
    </>
  );
}
