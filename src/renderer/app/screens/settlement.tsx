import { useEffect, useState } from 'react';
import type { SettlementStatusInfo } from '../../../shared/contract.js';
import { call } from '../api/client.js';
import { Dialog } from '../components/dialog.js';
import { Card, Credits, Empty, ErrorLine, Facts, Loading, ScreenHeader } from '../components/ui.js';
import { useNodeStatus } from '../hooks/node-status.js';
import { errorMessage, useCall, useNow } from '../hooks/use-call.js';
import { formatCountdown, shortId } from '../lib/format.js';

const MODE_WORD: Record<SettlementStatusInfo['mode'], string> = { dry_run: 'Dry run', armed: 'Armed', real: 'Real' };
const MODE_TEXT: Record<SettlementStatusInfo['mode'], string> = {
  dry_run:
    'Receipts from the market are checked and recorded, but no credits move in your ledger. Safe for trying things out.',
  armed: 'Settlement turns Real when the countdown ends; until then it behaves like Dry run.',
  real: 'Every verified receipt credits your ledger. Receipts recorded during Dry run were applied when it turned Real.',
};

function ModeCard({ s, onChange }: { s: SettlementStatusInfo; onChange: (s: SettlementStatusInfo) => void }) {
  const now = useNow(1000);
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const setMode = async (mode: 'dry_run' | 'real') => {
    setBusy(true);
    setError(null);
    try {
      onChange(await call('settlement:set-mode', mode));
      setConfirming(false);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const left = s.mode === 'armed' && s.activate_at !== null ? s.activate_at - now : null;
  return (
    <Card title="Mode" id="mode">
      <div className="mode-row">
        <span className={`mode-badge mode-${s.mode}`} data-testid="settlement-mode">
          {MODE_WORD[s.mode]}
        </span>
        {left !== null && (
          <span
            className="countdown num"
            aria-live="off"
            title={s.activate_at ? new Date(s.activate_at).toLocaleString() : undefined}
          >
            Real in {formatCountdown(left)}
          </span>
        )}
      </div>
      <p className="muted">{MODE_TEXT[s.mode]}</p>
      <div className="row">
        {s.mode !== 'real' && (
          <button type="button" className="btn btn-primary" onClick={() => setConfirming(true)} disabled={busy}>
            Switch to Real
          </button>
        )}
        {s.mode !== 'dry_run' && (
          <button type="button" className="btn" onClick={() => void setMode('dry_run')} disabled={busy}>
            Switch to Dry run
          </button>
        )}
      </div>
      <ErrorLine message={confirming ? null : error} />
      {confirming && (
        <Dialog
          title="Switch to real settlement?"
          onCancel={() => setConfirming(false)}
          actions={
            <>
              <button type="button" className="btn" onClick={() => setConfirming(false)} data-autofocus>
                Cancel
              </button>
              <button type="button" className="btn btn-danger" onClick={() => void setMode('real')} disabled={busy}>
                {busy ? 'Switching…' : 'Switch to real settlement'}
              </button>
            </>
          }
        >
          <p>
            From now on every verified receipt moves credits in your ledger, and the{' '}
            {s.receipts.recorded - s.receipts.applied > 0
              ? `${s.receipts.recorded - s.receipts.applied} receipts recorded during Dry run are`
              : 'receipts recorded during Dry run are'}{' '}
            applied now.
          </p>
          <p className="muted">You can switch back to Dry run later; credits already moved stay moved.</p>
          <ErrorLine message={error} />
        </Dialog>
      )}
    </Card>
  );
}

export function SettlementScreen() {
  const st = useCall(() => call('settlement:status'));
  const { status } = useNodeStatus();
  const [local, setLocal] = useState<SettlementStatusInfo | null>(null);
  const s = local ?? st.data;
  // An Armed mode turns Real on the node's side at its time: look again then.
  const now = useNow(1000);
  const armedDue = s?.mode === 'armed' && s.activate_at !== null && now > s.activate_at + 1000;
  const reload = st.reload;
  useEffect(() => {
    if (!armedDue) return;
    setLocal(null);
    reload();
  }, [armedDue, reload]);
  return (
    <>
      <ScreenHeader
        title="Settlement"
        lead="For the advanced: the market signs a receipt for each job it paid, and settlement turns those receipts into credits in this node's own ledger. In dry run it only checks and records them."
      />
      {st.loading && !s ? <Loading /> : null}
      <ErrorLine message={st.error} onRetry={st.reload} />
      {s && (
        <div className="grid-2">
          <ModeCard s={s} onChange={setLocal} />
          <Card title="Receipts" id="receipts">
            <Facts
              items={[
                ['Recorded', <span className="num">{s.receipts.recorded}</span>],
                ['Applied to the ledger', <span className="num">{s.receipts.applied}</span>],
                ['Archived (refused)', <span className="num">{s.receipts.archived}</span>],
              ]}
            />
          </Card>
          <Card title="Balances" id="balances" className="span-2">
            <div className="table-wrap">
              <table className="table" aria-label="Balances">
                <thead>
                  <tr>
                    <th scope="col">Account</th>
                    <th scope="col" className="r">
                      Balance
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {s.balances.length === 0 && (
                    <tr>
                      <td colSpan={2}>
                        <Empty title="No balances yet">Accounts appear once a receipt is applied in Real mode.</Empty>
                      </td>
                    </tr>
                  )}
                  {s.balances.map((b) => (
                    <tr key={b.account}>
                      <th scope="row" className="mono" title={b.account}>
                        {b.account.length > 40 ? shortId(b.account, 14) : b.account}
                        {b.account === status?.address && <span className="badge">this node</span>}
                      </th>
                      <td className="r">
                        <Credits micro={b.balance} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Card>
        </div>
      )}
    </>
  );
}
