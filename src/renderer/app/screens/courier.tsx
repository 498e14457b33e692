import { useEffect, useState, type FormEvent } from 'react';
import type { CourierListInfo, FlushSummaryInfo } from '../../../shared/contract.js';
import { call, isDesktop } from '../api/client.js';
import { Card, Credits, Empty, ErrorLine, Loading, ProgressBar, RelTime, ScreenHeader } from '../components/ui.js';
import { errorMessage, useCall, useEvent } from '../hooks/use-call.js';
import { flushSummaryText } from '../lib/flush.js';
import { formatBytes, shortId } from '../lib/format.js';
import { MAX_COURIER_BUNDLE_BYTES } from '../../../shared/courier-protocol.js';

type Row = CourierListInfo['rows'][number];

function PendingTable({ rows }: { rows: Row[] }) {
  if (rows.length === 0) return <Empty title="Nothing waiting">Every receipt has been delivered to the market.</Empty>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Pending receipts">
        <thead>
          <tr>
            <th scope="col">Created</th>
            <th scope="col">Bundle</th>
            <th scope="col">Sender</th>
            <th scope="col" className="r">
              Size
            </th>
            <th scope="col" className="r">
              Attempts
            </th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>
                <RelTime at={r.created_at} />
              </td>
              <td className="mono" title={r.bundle_hash}>
                {shortId(r.bundle_hash, 6)}
              </td>
              <td className="ellipsis">{r.sender}</td>
              <td className="r num">{formatBytes(r.bytes)}</td>
              <td className="r num">{r.attempts}</td>
              <td className={r.last_error ? 'bad-text' : 'muted'}>{r.last_error ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function HistoryTable({ rows }: { rows: Row[] }) {
  if (rows.length === 0)
    return <Empty title="No deliveries yet">Receipts the market acknowledged (or refused) are listed here.</Empty>;
  return (
    <div className="table-wrap">
      <table className="table" aria-label="Delivered receipts">
        <thead>
          <tr>
            <th scope="col">Created</th>
            <th scope="col">Bundle</th>
            <th scope="col">Sender</th>
            <th scope="col">Outcome</th>
            <th scope="col" className="r">
              Attempts
            </th>
            <th scope="col" className="r">
              Reward
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>
                <RelTime at={r.created_at} />
              </td>
              <td className="mono" title={r.bundle_hash}>
                {shortId(r.bundle_hash, 6)}
              </td>
              <td className="ellipsis">{r.sender}</td>
              <td>
                <span
                  className={`pill ${r.status === 'acknowledged' ? 'pill-good' : 'pill-bad'}`}
                  title={r.last_error ?? undefined}
                >
                  {r.status}
                </span>
                {r.last_error && <span className="block small bad-text">{r.last_error}</span>}
              </td>
              <td className="r num">{r.attempts}</td>
              <td className="r">
                {r.reward === null ? <span className="muted">—</span> : <Credits micro={r.reward} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A picked file's bytes as base64 (a data: URL without its prefix; FileReader encodes natively). */
function readBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error(`could not read ${file.name}`));
    reader.readAsDataURL(file);
  });
}

function SendBundle({ onSent }: { onSent: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const [sender, setSender] = useState('');
  const [fieldError, setFieldError] = useState<{ file?: string; sender?: string }>({});
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<Row | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const fe: { file?: string; sender?: string } = {};
    if (file === null) fe.file = 'Choose the bundle file to send.';
    else if (file.size > MAX_COURIER_BUNDLE_BYTES)
      fe.file = `${file.name} is ${formatBytes(file.size)}; a bundle can be at most ${formatBytes(MAX_COURIER_BUNDLE_BYTES)}.`;
    if (sender.trim() === '') fe.sender = 'Enter who sent the bundle (a name or address the market knows).';
    setFieldError(fe);
    if (fe.file || fe.sender || file === null) return;
    setBusy(true);
    setError(null);
    setSent(null);
    try {
      const data_base64 = await readBase64(file);
      setSent(
        await call('courier:send', { name: file.name.slice(0, 255) || 'bundle', data_base64, sender: sender.trim() }),
      );
      setFile(null);
      setInputKey((k) => k + 1);
      onSent();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Send a bundle" id="send">
      <form className="form-row" onSubmit={(e) => void submit(e)} noValidate>
        <div className="field grow">
          <label htmlFor="bundle-file">Bundle file</label>
          <input
            key={inputKey}
            id="bundle-file"
            type="file"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            aria-invalid={fieldError.file !== undefined}
            aria-describedby="bundle-file-help"
          />
          <p className={fieldError.file ? 'field-error' : 'hint'} id="bundle-file-help">
            {fieldError.file ??
              (isDesktop()
                ? 'A file on this computer; its bytes are stored by the node.'
                : 'A file from this browser; it is uploaded to the node.')}
          </p>
        </div>
        <div className="field">
          <label htmlFor="bundle-sender">Sender</label>
          <input
            id="bundle-sender"
            value={sender}
            onChange={(e) => setSender(e.target.value)}
            placeholder="alice"
            aria-invalid={fieldError.sender !== undefined}
            aria-describedby="bundle-sender-help"
          />
          <p className={fieldError.sender ? 'field-error' : 'hint'} id="bundle-sender-help">
            {fieldError.sender ?? 'Who the bundle is from.'}
          </p>
        </div>
        <div className="field">
          <span className="label-spacer" aria-hidden="true">
            &nbsp;
          </span>
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Sending…' : 'Send bundle'}
          </button>
        </div>
      </form>
      {sent && (
        <p className="ok-text" aria-live="polite">
          Queued {formatBytes(sent.bytes)} from {sent.sender} as receipt{' '}
          <span className="mono">{shortId(sent.id, 6)}</span>; it is delivered at the next flush.
        </p>
      )}
      <ErrorLine message={error} />
    </Card>
  );
}

export function CourierScreen() {
  const list = useCall(() => call('courier:list', { pending_only: false, limit: 2000 }));
  const [progress, setProgress] = useState<{ done: number; total: number } | null>(null);
  const [flushing, setFlushing] = useState(false);
  const [summary, setSummary] = useState<FlushSummaryInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEvent('courier:flush-progress', (p) => setProgress(p));
  // Receipts can be queued from the CLI while this screen is open: look again now and then.
  const reload = list.reload;
  useEffect(() => {
    const t = setInterval(reload, 10_000);
    return () => clearInterval(t);
  }, [reload]);
  const rows = list.data?.rows ?? [];
  const pending = rows.filter((r) => r.status === 'pending');
  const history = rows.filter((r) => r.status !== 'pending');
  const pendingCount = list.data?.counts.pending ?? pending.length;
  const counts = list.data?.counts ?? {};

  const flush = async () => {
    setFlushing(true);
    setError(null);
    setSummary(null);
    setProgress({ done: 0, total: pendingCount });
    try {
      setSummary(await call('courier:flush'));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setFlushing(false);
      setProgress(null);
      list.reload();
    }
  };
  const text = summary ? flushSummaryText(summary) : null;

  return (
    <>
      <ScreenHeader
        title="Courier"
        lead="Receipts carried for others: delivered to the market when you flush, and paid when it acknowledges them."
      />
      <div className="tiles">
        <div className="tile tile-accent">
          <span className="tile-label">Pending</span>
          <span className="tile-value num" data-testid="courier-pending-count">
            {list.data ? pendingCount : '…'}
          </span>
          <span className="tile-foot muted">waiting for a flush</span>
        </div>
        <div className="tile">
          <span className="tile-label">Acknowledged</span>
          <span className="tile-value num">{counts.acknowledged ?? 0}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Rejected</span>
          <span className="tile-value num">{counts.rejected ?? 0}</span>
        </div>
        <div className="tile">
          <span className="tile-label">Failed</span>
          <span className="tile-value num">{counts.failed ?? 0}</span>
        </div>
      </div>
      <Card
        title="Pending receipts"
        id="pending"
        actions={
          <button type="button" className="btn btn-primary" onClick={() => void flush()} disabled={flushing}>
            {flushing ? 'Flushing…' : 'Flush courier receipts'}
          </button>
        }
      >
        {flushing && progress && (
          <div className="flush-progress">
            <ProgressBar value={progress.done} max={Math.max(1, progress.total)} label="Flush progress" />
            <span className="num muted">
              {progress.done} / {progress.total}
            </span>
          </div>
        )}
        {text && (
          <div role="status" aria-label="Flush result" className={`result result-${text.tone}`}>
            <strong>{text.headline}</strong>
            {text.detail && <span className="block">{text.detail}</span>}
          </div>
        )}
        <ErrorLine message={error} />
        {list.loading && !list.data ? <Loading /> : <PendingTable rows={pending} />}
        <ErrorLine message={list.error} onRetry={list.reload} />
      </Card>
      <SendBundle onSent={list.reload} />
      <Card title="Delivered" id="history">
        {list.loading && !list.data ? <Loading /> : <HistoryTable rows={history} />}
      </Card>
    </>
  );
}
