import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { AppInfo, GpuCapabilitiesInfo, SettlementStatusInfo } from '../../shared/contract.js';
import { call } from './api/client.js';

function App() {
  const [info, setInfo] = useState<AppInfo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [gpu, setGpu] = useState<GpuCapabilitiesInfo | null>(null);
  const [settlement, setSettlement] = useState<SettlementStatusInfo | null>(null);
  useEffect(() => {
    call('settlement:status').then(setSettlement, (e: unknown) => setError(String(e)));
    call('app:info').then(setInfo, (e: unknown) => setError(String(e)));
    call('gpu:capabilities').then(setGpu, (e: unknown) => setError(String(e)));
  }, []);
  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', padding: 24 }}>
      <h1>Tessera</h1>
      {info && <p>Version {info.version} on {info.platform}</p>}
      {gpu && <p>GPU: {describeGpu(gpu)}</p>}
      {settlement && (
        <p>
          Settlement: {settlement.mode_label} · {settlement.receipts.applied} receipts applied
        </p>
      )}
      {error && <p role="alert">{error}</p>}
    </main>
  );
}

function describeGpu(gpu: GpuCapabilitiesInfo): string {
  const a = gpu.adapter;
  if (!a) return 'none (hashing on the CPU)';
  const name = [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(' ');
  return a.software ? `${name} — software adapter, not offered as a GPU` : name;
}

const root = document.getElementById('root');
if (root) createRoot(root).render(<StrictMode><App /></StrictMode>);
