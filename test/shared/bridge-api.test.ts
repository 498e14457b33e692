import { describe, expect, it } from 'vitest';
import { bridgeApi, ContractCallError, type TesseraBridge } from '../../src/shared/contract.js';

// The desktop app's calls cross contextBridge, which keeps only an Error's message: the preload
// answers the main process's envelope and bridgeApi decodes it, so an IPC failure is the same
// ContractCallError (code + message) the WebSocket client throws.
function bridgeAnswering(answer: unknown): TesseraBridge & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    call: async (channel, args) => {
      calls.push([channel, args]);
      return answer;
    },
    on: () => () => {},
  };
}

describe('bridgeApi (the renderer over the preload bridge)', () => {
  it('passes the channel and its arguments and resolves with the result', async () => {
    const bridge = bridgeAnswering({ ok: true, result: { name: 'Tessera', version: '1.0.0', platform: 'test' } });
    expect(await bridgeApi(bridge).call('app:info')).toEqual({ name: 'Tessera', version: '1.0.0', platform: 'test' });
    await bridgeApi(bridge).call('courier:list', { pending_only: true });
    expect(bridge.calls).toEqual([
      ['app:info', []],
      ['courier:list', [{ pending_only: true }]],
    ]);
  });

  it('an error envelope throws ContractCallError with its code and message', async () => {
    const err = await bridgeApi(
      bridgeAnswering({ ok: false, error: { code: 'DB_LOCKED', message: 'ledger.db is locked by another process' } }),
    )
      .call('node:pause')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContractCallError);
    expect(err).toMatchObject({ code: 'DB_LOCKED', message: 'ledger.db is locked by another process' });
  });

  it('a malformed answer is BAD_FRAME, an unknown code INTERNAL', async () => {
    await expect(bridgeApi(bridgeAnswering('nonsense')).call('app:info')).rejects.toMatchObject({ code: 'BAD_FRAME' });
    await expect(
      bridgeApi(bridgeAnswering({ ok: false, error: { code: 'SOMETHING_NEW', message: 'x' } })).call('app:info'),
    ).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
