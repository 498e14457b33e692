import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { askCheck } from '../../../src/main/api/diagnostics.js';
import type { AppService } from '../../../src/main/api/app-service.js';
import { POLICY_REASONS } from '../../../src/main/services/provide-policy.js';
import {
  dispatchContractCall,
  type DiagnosticCheck,
  type EventName,
  type GpuCapabilitiesInfo,
} from '../../../src/shared/contract.js';
import { postTask, startMarket, type Market } from '../../support/market.js';
import { tempDir } from '../../support/temp-dir.js';
import { testAppNode } from './fixtures.js';

/** Resolves once `pred` holds: now, or at an event the node emits (every change of its status, jobs and earnings). */
function whenNode(node: AppService, what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}; status ${JSON.stringify(node.status())}`));
    }, ms);
    const off = node.events.onDidEmit((_e: EventName) => {
      if (!pred()) return;
      off();
      clearTimeout(timer);
      resolve();
    });
  });
}

async function report(node: AppService): Promise<DiagnosticCheck[]> {
  const r = await dispatchContractCall(createAppHandlers(node), 'diagnostics:report', []);
  if (!r.ok) throw new Error(`diagnostics:report failed: ${JSON.stringify(r)}`);
  return (r.result as { checks: DiagnosticCheck[] }).checks;
}

const problems = (checks: DiagnosticCheck[]) => checks.filter((c) => c.severity === 'problem');
const line = (checks: DiagnosticCheck[], id: string) => checks.find((c) => c.id === id);

async function market(config: Parameters<typeof startMarket>[1] = {}): Promise<Market> {
  const m = await startMarket(join(tempDir('tessera-diag-market-'), 'm'), { checkFraction: 0, ...config });
  onTestFinished(() => m.close());
  return m;
}

const synthetic = (reward: string) => ({
  challenge_type: 'synthetic',
  payload: { seed: '00c0ffee', matrix_size: 8, iterations: 1, lane: 'consumer' },
  reward,
});

const NO_GPU: GpuCapabilitiesInfo = { hardware_gpu: false, adapter: null };

describe('Diagnostics on a real node: red only where the user must act, each red line with its fix', () => {
  it('a healthy, earning practice node (no GPU, dry-run, key in a file, headless) shows no red line', async () => {
    const m = await market({ practice: true });
    const node = await testAppNode({
      startPractice: async () => ({ url: m.base, close: async () => undefined }),
      gpu: () => NO_GPU,
      headless: true,
    });
    await node.join({ kind: 'practice' });
    await whenNode(node, 'connected', () => node.status().state === 'connected');
    expect((await postTask(m, synthetic('1.0'))).status).toBe(201);
    await whenNode(node, 'a paid job', () => node.status().jobs_done >= 1);

    const checks = await report(node);
    expect(problems(checks)).toEqual([]);
    // Normal states are said, as information.
    expect(line(checks, 'gpu')).toMatchObject({ severity: 'info', label: 'No GPU: jobs run on the CPU' });
    expect(line(checks, 'settlement')).toMatchObject({ severity: 'info', label: 'Settlement: dry-run' });
    expect(line(checks, 'key_storage')).toMatchObject({ severity: 'info' });
    expect(line(checks, 'key_storage')?.detail).toMatch(/^Headless mode has no OS keychain/);
    expect(line(checks, 'joined')?.label).toBe('Joined the practice market (practice credits, not money)');
    expect(line(checks, 'providing')).toMatchObject({ severity: 'ok' });
    expect(line(checks, 'ask')).toMatchObject({ severity: 'ok', label: 'Taking every offer (no lowest offer set)' });
  });

  it('not joined: exactly the join line is red, with the way to Join; "taking jobs" is not ok', async () => {
    const node = await testAppNode({ gpu: () => NO_GPU });
    const checks = await report(node);
    expect(problems(checks).map((c) => [c.id, c.action])).toEqual([
      ['joined', { kind: 'open', label: 'Join a market', screen: 'join', field: null }],
    ]);
    expect(line(checks, 'providing')).toMatchObject({ severity: 'info' });
  });

  it('market down: exactly the connection line is red, naming the market, with the way to change it', async () => {
    const m = await startMarket(join(tempDir('tessera-diag-down-'), 'm'), {});
    const node = await testAppNode({ gpu: () => NO_GPU });
    await node.join({ kind: 'url', url: m.base });
    await whenNode(node, 'connected', () => node.status().state === 'connected');
    // Connected: the line names the endpoint in use (one of the market's instances).
    expect(line(await report(node), 'connected')).toMatchObject({
      severity: 'ok',
      label: `Connected to the market at ${m.base}`,
    });
    await m.close();
    await whenNode(node, 'a failed reconnect', () => node.providerStatus()?.failure?.error != null);

    const checks = await report(node);
    expect(problems(checks).map((c) => c.id)).toEqual(['connected']);
    const c = line(checks, 'connected');
    expect(c?.label).toMatch(new RegExp(`^Cannot reach ${m.base.replace(/[.:/]/g, '\\$&')} \\(connect ECONNREFUSED`));
    expect(c?.action).toEqual({ kind: 'open', label: 'Change the market', screen: 'join', field: 'market-url' });
    expect(line(checks, 'providing')).toMatchObject({ severity: 'info' });
  });

  it('token wrong (the socket upgrade answered 401): exactly the connection line is red, saying so', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/?token=wrong`;
    const node = await testAppNode({ gpu: () => NO_GPU });
    await node.join({ kind: 'url', url });
    await whenNode(node, 'a refused upgrade', () => node.providerStatus()?.failure?.httpStatus === 401);

    const checks = await report(node);
    expect(problems(checks).map((c) => c.id)).toEqual(['connected']);
    expect(line(checks, 'connected')?.label).toBe(
      'The market refused the connection (HTTP 401): the access token in the market URL is wrong or has expired',
    );
    expect(line(checks, 'connected')?.action).toMatchObject({ kind: 'open', screen: 'join' });
  });

  it('offers below your ask: exactly that line is red (how many, how far), and its fix takes the jobs', async () => {
    const m = await market();
    // Three queued jobs offering 0.25 CPC each (a quarter of a 1.0 reward) before the node connects.
    for (let i = 0; i < 3; i++) expect((await postTask(m, synthetic('1.0'))).status).toBe(201);
    const node = await testAppNode({ gpu: () => NO_GPU });
    const h = createAppHandlers(node);
    expect(await dispatchContractCall(h, 'settings:set', [{ ask: '400000' }])).toMatchObject({ ok: true });
    await node.join({ kind: 'url', url: m.base });
    await whenNode(node, 'the market prices', () => node.providerStatus()?.lastPrices != null);
    expect(node.currentAsk()).toBe(400_000n);

    const checks = await report(node);
    expect(problems(checks).map((c) => c.id)).toEqual(['ask']);
    expect(line(checks, 'ask')).toMatchObject({
      label:
        'Offers below your ask of 0.4 CPC: at least 2 of 3 consumer jobs (median offer 0.25 CPC), up to 0.15 CPC below',
      action: { kind: 'run', label: 'Take every offer', fix: 'take_every_offer' },
    });
    expect(node.status().jobs_done).toBe(0);

    // The button's call: the ask is cleared and announced at once; the three jobs are taken.
    expect(await dispatchContractCall(h, 'settings:set', [{ ask: null }])).toMatchObject({ ok: true });
    expect(node.currentAsk()).toBe(0n);
    await whenNode(node, 'the three cheap jobs done', () => node.status().jobs_done >= 3);
    expect(line(await report(node), 'ask')).toMatchObject({ severity: 'ok' });
  });

  it('paused by the schedule: no red line; the pause is said as information with the way to the schedule', async () => {
    const m = await market();
    const node = await testAppNode({ gpu: () => NO_GPU });
    await node.join({ kind: 'url', url: m.base });
    await whenNode(node, 'connected', () => node.status().state === 'connected');
    await node.pause(POLICY_REASONS.schedule);

    const checks = await report(node);
    expect(problems(checks)).toEqual([]);
    expect(line(checks, 'providing')).toEqual({
      id: 'providing',
      severity: 'info',
      label: 'Paused by your schedule',
      detail: 'Providing resumes on its own at the next hour your schedule allows.',
      action: { kind: 'open', label: 'Change the schedule', screen: 'settings', field: 's-schedule_hours' },
    });
    expect(line(checks, 'connected')).toMatchObject({ severity: 'info', label: 'Not connected while paused' });
    expect(JSON.stringify(checks)).not.toMatch(/not reachable|check the URL/);
  });

  it('no hardware GPU (a software adapter): information, never red', async () => {
    const node = await testAppNode({
      gpu: () => ({
        hardware_gpu: false,
        adapter: {
          vendor: 'mesa',
          architecture: '',
          device: 'llvmpipe',
          description: 'llvmpipe (LLVM 15.0.6, 256 bits)',
          isFallbackAdapter: false,
          featureLevel: 'core',
          software: true,
        },
      }),
    });
    const checks = await report(node);
    expect(line(checks, 'gpu')).toMatchObject({
      severity: 'info',
      label: 'Only a software graphics adapter: jobs run on the CPU',
      action: null,
    });
    // Not joined is the only red line here.
    expect(problems(checks).map((c) => c.id)).toEqual(['joined']);
  });
});

describe('askCheck', () => {
  const prices = (queued: number, p25: string, p50: string) => ({
    type: 'prices' as const,
    at: 0,
    lanes: [{ lane: 'consumer' as const, queued, offer_p25: p25, offer_p50: p50 }],
  });
  it('no line when the ask is 0, or when no queued offer is below it; a quarter when only p25 is below', () => {
    expect(askCheck(0n, prices(5, '1', '2')).severity).toBe('ok');
    expect(askCheck(100n, prices(5, '100', '200')).severity).toBe('ok');
    expect(askCheck(100n, null).severity).toBe('ok');
    expect(askCheck(150n, prices(8, '100', '200'))).toMatchObject({
      severity: 'problem',
      label:
        'Offers below your ask of 0.00015 CPC: at least 3 of 8 consumer jobs (a quarter offer 0.0001 CPC or less), up to 0.00005 CPC below',
    });
  });
});
