import { useVirtualizer } from '@tanstack/react-virtual';
import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { JobRow } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { Credits, Empty, ErrorLine, Loading, ScreenHeader } from '../components/ui.js';
import { useConnection } from '../hooks/connection.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { errorMessage, useEvent, useNow } from '../hooks/use-call.js';
import { jobsToCsv } from '../lib/csv.js';
import { jobStage, STAGE_WORDS, unitExplanation } from '../lib/earnings.js';
import { absoluteTime, formatBytes, formatDuration, relativeTime, shortId } from '../lib/format.js';

type Status = JobRow['status'];
const STATUSES: { value: Status | ''; label: string }[] = [
  { value: '', label: 'All statuses' },
  { value: 'accepted', label: 'Verified or paid' },
  { value: 'submitted', label: 'Pending verification' },
  { value: 'rejected', label: 'Rejected' },
  { value: 'lost', label: 'Lost' },
  { value: 'running', label: 'Running' },
];

const PAGE = 500;
const ROW_PX = 38;
const COLUMNS = ['Started', 'Task', 'Workload', 'Bytes', 'Proof', 'Backend', 'Duration', 'Stage', 'Paid'] as const;
const RIGHT = new Set(['Bytes', 'Duration', 'Paid']);
/** Columns for the curious (how the work was proven and run): shown when "Technical details" is ticked. */
const TECHNICAL = new Set<string>(['Proof', 'Backend']);
/** The header row's height: the virtual rows start below it in the same scroller. */
const HEAD_PX = 36;

const rowKey = (r: JobRow) => `${r.market_id}/${r.job_id}`;

/** The Paid column's header names the unit its numbers are in (practice credits are not money). */
function PaidHeader() {
  const { status } = useNodeStatus();
  const practice = status?.market?.kind === 'practice';
  return (
    <>
      Paid{' '}
      <abbr className="unit" title={unitExplanation(practice)}>
        {practice ? 'practice' : 'CPC'}
      </abbr>
    </>
  );
}

function Verified({ row }: { row: JobRow }) {
  const stage = jobStage(row);
  // The stage word (as in the CSV); the full words on hover. A verified job says it awaits payment.
  const words = STAGE_WORDS[stage];
  const short = stage === 'verified' ? words : stage;
  switch (stage) {
    case 'paid':
    case 'settled':
      return (
        <span className="pill pill-good" title={words}>
          ✓ {short}
        </span>
      );
    case 'verified':
      return (
        <span className="pill pill-info" title={words}>
          {short}
        </span>
      );
    case 'rejected':
      return (
        <span className="pill pill-bad" title={row.code ? `${words}: ${row.code}` : words}>
          ✗ {row.code ? row.code.toLowerCase().replace(/_/g, ' ') : short}
        </span>
      );
    case 'lost':
      return (
        <span className="pill pill-warn" title={row.code ? `${words}: ${row.code}` : words}>
          {short}
        </span>
      );
    default:
      return (
        <span className="pill" title={words}>
          {short}
        </span>
      );
  }
}

/** One virtualised row; memoised so scrolling renders only the rows that come into view. */
const JobRowView = memo(function JobRowView({
  row: r,
  index,
  start,
  now,
}: {
  row: JobRow;
  index: number;
  start: number;
  now: number;
}) {
  return (
    <div
      role="row"
      aria-rowindex={index + 2}
      className={`vrow ${index % 2 ? 'odd' : ''}`}
      style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_PX, transform: `translateY(${start}px)` }}
    >
      <div role="cell" title={absoluteTime(r.started_at)}>
        {relativeTime(r.started_at, now)}
      </div>
      <div role="cell" className="mono" title={r.task_id}>
        {shortId(r.task_id, 6)}
      </div>
      <div role="cell" className="ellipsis" title={r.workload}>
        {r.workload}
      </div>
      <div role="cell" className="r num">
        {formatBytes(r.bytes)}
      </div>
      <div role="cell" className="mono muted col-tech" title={r.proof ?? undefined}>
        {r.proof ? shortId(r.proof, 5) : '—'}
      </div>
      <div role="cell" className="col-tech">
        {r.backend ?? '—'}
      </div>
      <div role="cell" className="r num">
        {formatDuration(r.duration_ms)}
      </div>
      <div role="cell">
        <Verified row={r} />
      </div>
      <div role="cell" className="r">
        {r.paid ? <Credits micro={r.credits} bare /> : <span className="muted">—</span>}
      </div>
    </div>
  );
});

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function JobsScreen() {
  const { generation } = useConnection();
  const [status, setStatus] = useState<Status | ''>('');
  const [workload, setWorkload] = useState('');
  const [rows, setRows] = useState<JobRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [total, setTotal] = useState(0);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [exporting, setExporting] = useState<{ loaded: number; total: number } | null>(null);
  const [workloads, setWorkloads] = useState<string[]>([]);
  const [technical, setTechnical] = useState(false);
  const inFlight = useRef(false);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  const query = useMemo(
    () => ({ ...(status ? { status } : {}), ...(workload ? { workload } : {}) }),
    [status, workload],
  );
  const tick = useNow(15_000);
  const now = Math.max(tick, rows.length > 0 ? (rows[0] as JobRow).started_at : 0);

  const noteWorkloadNames = useCallback((names: readonly string[]) => {
    setWorkloads((w) => {
      const set = new Set(w);
      let added = false;
      for (const n of names)
        if (!set.has(n)) {
          set.add(n);
          added = true;
        }
      return added ? [...set].sort() : w;
    });
  }, []);
  const noteWorkloads = useCallback(
    (list: readonly JobRow[]) => noteWorkloadNames(list.map((r) => r.workload)),
    [noteWorkloadNames],
  );

  useEffect(() => {
    call('jobs:workloads').then(noteWorkloadNames, () => undefined);
  }, [generation, noteWorkloadNames]);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    inFlight.current = true;
    call('jobs:list', { ...query, limit: PAGE }).then(
      (page) => {
        if (!live) return;
        setRows(page.rows);
        setNext(page.next);
        setTotal(page.total);
        noteWorkloads(page.rows);
        setLoading(false);
        inFlight.current = false;
      },
      (e: unknown) => {
        if (!live) return;
        setError(errorMessage(e));
        setLoading(false);
        inFlight.current = false;
      },
    );
    return () => {
      live = false;
    };
  }, [query, generation, noteWorkloads]);

  const loadMore = useCallback(async () => {
    if (inFlight.current || next === null) return;
    inFlight.current = true;
    try {
      const page = await call('jobs:list', { ...query, limit: PAGE, cursor: next });
      setRows((r) => {
        const seen = new Set(r.map(rowKey));
        return [...r, ...page.rows.filter((x) => !seen.has(rowKey(x)))];
      });
      setNext(page.next);
      setTotal(page.total);
      noteWorkloads(page.rows);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      inFlight.current = false;
    }
  }, [next, query, noteWorkloads]);

  useEvent('job:finished', (row) => {
    noteWorkloads([row]);
    if ((status && row.status !== status) || (workload && row.workload !== workload)) return;
    const k = rowKey(row);
    if (rowsRef.current.some((x) => rowKey(x) === k)) {
      setRows((r) => r.map((x) => (rowKey(x) === k ? row : x)));
      return;
    }
    setRows((r) => [row, ...r]);
    setTotal((t) => t + 1);
  });

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_PX,
    overscan: 12,
    scrollMargin: HEAD_PX,
  });
  const items = virtualizer.getVirtualItems();
  // A new filter starts at the top (and so loads only its first page).
  useEffect(() => {
    if (scrollRef.current) scrollRef.current.scrollTop = 0;
  }, [query]);
  const lastIndex = items.at(-1)?.index ?? 0;
  useEffect(() => {
    if (next !== null && lastIndex >= rows.length - 60) void loadMore();
  }, [lastIndex, rows.length, next, loadMore]);

  const exportCsv = async () => {
    setError(null);
    let all = rows;
    let cursor = next;
    setExporting({ loaded: all.length, total });
    try {
      while (cursor !== null) {
        const page = await call('jobs:list', { ...query, limit: 1000, cursor });
        const seen = new Set(all.map(rowKey));
        all = [...all, ...page.rows.filter((x) => !seen.has(rowKey(x)))];
        cursor = page.next;
        setExporting({ loaded: all.length, total: page.total });
      }
      setRows(all);
      setNext(null);
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      download(`tessera-jobs-${stamp}.csv`, jobsToCsv(all));
    } catch (e) {
      setError(`Export stopped: ${errorMessage(e)}`);
    } finally {
      setExporting(null);
    }
  };

  return (
    <>
      <ScreenHeader
        title="Jobs"
        lead="Every job this node took: what it hashed, how, and what it earned."
        actions={
          <button
            type="button"
            className="btn"
            onClick={() => void exportCsv()}
            disabled={exporting !== null || rows.length === 0}
          >
            {exporting
              ? `Exporting ${exporting.loaded.toLocaleString()} of ${exporting.total.toLocaleString()}…`
              : 'Export CSV'}
          </button>
        }
      />
      <div className="card">
        <div className="filters" role="group" aria-label="Filter jobs">
          <div className="field inline">
            <label htmlFor="f-status">Status</label>
            <select id="f-status" value={status} onChange={(e) => setStatus(e.target.value as Status | '')}>
              {STATUSES.map((s) => (
                <option key={s.value} value={s.value}>
                  {s.label}
                </option>
              ))}
            </select>
          </div>
          <div className="field inline">
            <label htmlFor="f-workload">Workload</label>
            <select id="f-workload" value={workload} onChange={(e) => setWorkload(e.target.value)}>
              <option value="">All workloads</option>
              {workloads.map((w) => (
                <option key={w} value={w}>
                  {w}
                </option>
              ))}
            </select>
          </div>
          <label className="check">
            <input type="checkbox" checked={technical} onChange={(e) => setTechnical(e.target.checked)} /> Technical
            details
          </label>
          <p className="filters-count muted num" aria-live="polite">
            {loading
              ? 'Loading…'
              : `${rows.length.toLocaleString()} of ${total.toLocaleString()} ${total === 1 ? 'job' : 'jobs'} loaded`}
          </p>
        </div>
        <ErrorLine message={error} />
        {loading && rows.length === 0 ? (
          <Loading label="Loading the job history…" />
        ) : rows.length === 0 && !error ? (
          <Empty title={status || workload ? 'No jobs match these filters' : 'No jobs yet'}>
            {status || workload
              ? 'Try another status or workload.'
              : 'Join a market: jobs appear here as the node finishes them.'}
          </Empty>
        ) : (
          // One scroller for the header and the rows: sideways they move together, and the header stays on top.
          <div
            className={`vtable ${technical ? 'with-tech' : ''}`}
            role="table"
            aria-label="Job history"
            aria-rowcount={total + 1}
            ref={scrollRef}
            tabIndex={0}
          >
            <div role="rowgroup" className="vhead">
              <div role="row" className="vrow" aria-rowindex={1}>
                {COLUMNS.map((c) => (
                  <div
                    role="columnheader"
                    key={c}
                    className={
                      [RIGHT.has(c) ? 'r' : '', TECHNICAL.has(c) ? 'col-tech' : ''].join(' ').trim() || undefined
                    }
                  >
                    {c === 'Paid' ? <PaidHeader /> : c}
                  </div>
                ))}
              </div>
            </div>
            <div
              role="rowgroup"
              className="vbody"
              aria-label="Job history rows"
              style={{ height: virtualizer.getTotalSize() }}
            >
              {items.map((v) => {
                const r = rows[v.index] as JobRow;
                return <JobRowView key={rowKey(r)} row={r} index={v.index} start={v.start - HEAD_PX} now={now} />;
              })}
            </div>
          </div>
        )}
      </div>
    </>
  );
}
