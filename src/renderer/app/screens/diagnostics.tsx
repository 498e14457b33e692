import { useEffect, useState } from 'react';
import type { DiagnosticAction, DiagnosticCheck } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { Card, CopyButton, Dot, ErrorLine, Loading, ScreenHeader } from '../components/ui.js';
import { errorMessage, useCall, useEvent, useThrottled } from '../hooks/use-call.js';
import { describeDiagnostics, orderChecks } from '../lib/describe.js';
import '../diagnostics.css';

const ICON: Record<DiagnosticCheck['severity'], string> = { ok: '✓', info: 'i', problem: '!' };
const SPOKEN: Record<DiagnosticCheck['severity'], string> = { ok: 'OK: ', info: 'Note: ', problem: 'Needs you: ' };

/** Focuses the element with `id` once the screen that holds it has rendered it (given up after 10 s). */
function focusWhenShown(id: string): void {
  const focus = (): boolean => {
    const el = document.getElementById(id);
    if (!el) return false;
    el.scrollIntoView({ block: 'center' });
    el.focus();
    return true;
  };
  // After the shell's own focus move to the new screen's heading.
  requestAnimationFrame(() => {
    if (focus()) return;
    const watch = new MutationObserver(() => {
      if (focus()) watch.disconnect();
    });
    watch.observe(document.body, { childList: true, subtree: true });
    setTimeout(() => watch.disconnect(), 10_000);
  });
}

/** A line's action: a link to the screen (and field) where it is fixed, or a button that fixes it. */
function CheckAction({ action, onDone }: { action: DiagnosticAction; onDone: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (action.kind === 'open')
    return (
      <a
        className="btn btn-small check-action"
        href={`#/${action.screen}`}
        onClick={() => {
          if (action.field) focusWhenShown(action.field);
        }}
      >
        {action.label}
      </a>
    );
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      if (action.fix === 'resume') await call('node:resume');
      else await call('settings:set', { ask: null });
      onDone();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" className="btn btn-small check-action" onClick={() => void run()} disabled={busy}>
        {busy ? 'Working…' : action.label}
      </button>
      <ErrorLine message={error} />
    </>
  );
}

export function DiagnosticsScreen() {
  const report = useCall(() => call('diagnostics:report'));
  const reload = useThrottled(report.reload, 1000);
  useEvent('node:status', reload);
  const again = report.reload;
  useEffect(() => {
    const t = setInterval(again, 5000);
    return () => clearInterval(t);
  }, [again]);
  const checks = orderChecks(report.data?.checks ?? []);
  const summary = describeDiagnostics(checks);
  return (
    <>
      <ScreenHeader
        title="Diagnostics"
        lead="Why am I not earning? Each line is checked live. A red line needs you, and its button fixes it or takes you there; a blue line is a note on how this node runs."
        actions={
          <button type="button" className="btn" onClick={report.reload} disabled={report.loading}>
            Check again
          </button>
        }
      />
      <ErrorLine message={report.error} onRetry={report.reload} />
      {report.loading && !report.data ? (
        <Loading label="Checking…" />
      ) : report.data ? (
        <>
          <div className={`summary summary-${summary.tone}`} data-testid="diagnostics-summary">
            <Dot tone={summary.tone} />
            {summary.text}
          </div>
          <Card title="Checklist" id="checks">
            <ul className="checklist diag-list">
              {checks.map((c) => (
                <li
                  key={c.id}
                  data-testid={`check-${c.id}`}
                  data-severity={c.severity}
                  className={`diag diag-${c.severity}`}
                >
                  <span className="check-icon diag-icon" aria-hidden="true">
                    {ICON[c.severity]}
                  </span>
                  <div className="diag-body">
                    <span className="check-label">
                      <span className="visually-hidden">{SPOKEN[c.severity]}</span>
                      {c.label}
                    </span>
                    {c.detail && <span className="diag-detail">{c.detail}</span>}
                  </div>
                  {c.action && (
                    <div className="diag-action">
                      <CheckAction action={c.action} onDone={report.reload} />
                    </div>
                  )}
                </li>
              ))}
            </ul>
          </Card>
          <Card title="Data folder" id="data-dir">
            <p className="muted">
              Keys, the ledger, settings and logs live here. Back it up to keep your provider identity.
            </p>
            <div className="address-row">
              <code className="address">{report.data.data_dir}</code>
              <CopyButton text={report.data.data_dir} label="Copy path" />
            </div>
          </Card>
        </>
      ) : null}
    </>
  );
}
