import { useEffect } from 'react';
import { call } from '../api/client.js';
import { Card, CopyButton, Dot, ErrorLine, Loading, ScreenHeader } from '../components/ui.js';
import { useCall, useEvent, useThrottled } from '../hooks/use-call.js';

export function DiagnosticsScreen() {
  const report = useCall(() => call('diagnostics:report'));
  const reload = useThrottled(report.reload, 1000);
  useEvent('node:status', reload);
  const again = report.reload;
  useEffect(() => {
    const t = setInterval(again, 5000);
    return () => clearInterval(t);
  }, [again]);
  const checks = report.data?.checks ?? [];
  const red = checks.filter((c) => !c.ok).length;
  return (
    <>
      <ScreenHeader
        title="Diagnostics"
        lead="Why am I not earning? Each line is checked live; a red line says what to do."
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
          <div className={`summary ${red === 0 ? 'summary-good' : 'summary-bad'}`}>
            <Dot tone={red === 0 ? 'good' : 'bad'} />
            {red === 0
              ? 'Everything checks out: the node should be earning.'
              : `${red} of ${checks.length} checks need attention.`}
          </div>
          <Card title="Checklist" id="checks">
            <ul className="checklist">
              {checks.map((c) => (
                <li
                  key={c.id}
                  data-testid={`check-${c.id}`}
                  data-ok={c.ok ? 'true' : 'false'}
                  className={c.ok ? 'check-ok' : 'check-bad'}
                >
                  <span className="check-icon" aria-hidden="true">
                    {c.ok ? '✓' : '!'}
                  </span>
                  <div>
                    <span className="check-label">
                      <span className="visually-hidden">{c.ok ? 'OK: ' : 'Problem: '}</span>
                      {c.label}
                    </span>
                    {!c.ok && c.fix && <span className="check-fix">{c.fix}</span>}
                  </div>
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
