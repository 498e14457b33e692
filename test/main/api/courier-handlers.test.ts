import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAppHandlers } from '../../../src/main/api/index.js';
import { CourierRowSchema, dispatchContractCall, type ChannelResult } from '../../../src/shared/contract.js';
import { tempDir } from '../../helpers.js';
import { testAppNode } from './fixtures.js';

describe('courier handlers on a real ledger', () => {
  it('courier:send stores a bundle and answers its row in the contract shape; courier:list lists it with the counts', async () => {
    const node = await testAppNode({}, () => 1_760_000_000_000);
    const h = createAppHandlers(node);
    const path = join(tempDir(), 'bundle.bin');
    writeFileSync(path, Buffer.alloc(1234, 7));
    const sent = (await dispatchContractCall(h, 'courier:send', [{ path, sender: 'carrier' }])) as { ok: true; result: ChannelResult<'courier:send'> };
    expect(sent.ok).toBe(true);
    expect(Object.keys(sent.result).sort()).toEqual(Object.keys(CourierRowSchema.shape).sort());
    expect(sent.result).toMatchObject({ bytes: 1234, sender: 'carrier', created_at: 1_760_000_000_000, status: 'pending', attempts: 0, last_error: null, reward: null });
    const list = await dispatchContractCall(h, 'courier:list', [{ pending_only: true }]);
    expect(list).toEqual({ ok: true, result: { rows: [sent.result], counts: { pending: 1, acknowledged: 0, rejected: 0, failed: 0 } } });
  });
});
