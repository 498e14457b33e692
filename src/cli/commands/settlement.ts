import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseReceipt, ReceiptError, type Receipt } from '../../core/ledger/receipt.js';
import { MAX_ARM_DELAY_SECONDS } from '../../core/ledger/settlement-mode.js';
import { describeFsError } from '../../main/services/fs-errors.js';
import { openLedger } from '../../main/node-context.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';

export const settlementUsage =
  'tessera settlement status [--json] [--data-dir DIR]\n' +
  'tessera settlement mode dry-run|real|armed --delay SECONDS [--data-dir DIR]\n' +
  'tessera settlement apply <receipts.jsonl> [--data-dir DIR]\n' +
  'tessera settlement fund <account> <credits> [--data-dir DIR]';

/** `tessera settlement …`: receipt settlement mode, balances, applying receipts. */
export async function settlementCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    options: { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, delay: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (!['status', 'mode', 'apply', 'fund'].includes(sub ?? '')) throw new CliError(`settlement needs a subcommand: status, mode, apply or fund (got ${sub ? `"${sub}"` : 'none'})`);

  // Validate everything before opening the ledger.
  let modeArg: { kind: 'dry_run' | 'real' } | { kind: 'armed'; delay: number } | undefined;
  if (sub === 'mode') {
    const m = positionals[0];
    if (m === 'dry-run' || m === 'real') modeArg = { kind: m === 'dry-run' ? 'dry_run' : 'real' };
    else if (m === 'armed') {
      if (values.delay === undefined || !/^\d{1,12}(\.\d+)?$/.test(values.delay) || Number(values.delay) > MAX_ARM_DELAY_SECONDS) {
        throw new CliError(`settlement mode armed needs --delay SECONDS (a number from 0 to ${MAX_ARM_DELAY_SECONDS}, ten years)`);
      }
      modeArg = { kind: 'armed', delay: Number(values.delay) };
    } else throw new CliError(`settlement mode must be dry-run, armed or real (got ${m ? `"${m}"` : 'none'})`);
  }
  let fundArgs: { account: string; amount: bigint } | undefined;
  if (sub === 'fund') {
    const [account, amount] = positionals;
    if (!account || !amount || !/^\d{1,19}$/.test(amount) || BigInt(amount) === 0n) throw new CliError('usage: tessera settlement fund <account> <credits> (credits: a positive integer)');
    fundArgs = { account, amount: BigInt(amount) };
  }
  let lines: string[] | undefined;
  if (sub === 'apply') {
    const file = positionals[0];
    if (!file || positionals.length !== 1) throw new CliError('usage: tessera settlement apply <receipts.jsonl>');
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch (err) {
      throw new CliError(describeFsError(err, file));
    }
  }

  const ctx = await openLedger(values['data-dir'] ? { dataDir: values['data-dir'] } : {});
  try {
    switch (sub) {
      case 'status': {
        const s = ctx.settlement.status();
        if (values.json) io.stdout(`${JSON.stringify(s)}\n`);
        else {
          io.stdout(`mode: ${s.mode_label}\nreceipts: ${s.receipts.applied} applied, ${s.receipts.recorded} recorded, ${s.receipts.archived} archived\n`);
          io.stdout(s.balances.length === 0 ? 'balances: none\n' : `balances:\n${s.balances.map((b) => `  ${b.account}  ${b.balance}`).join('\n')}\n`);
        }
        return 0;
      }
      case 'mode': {
        const m = modeArg as NonNullable<typeof modeArg>;
        const mode = m.kind === 'armed' ? ctx.settlement.arm(m.delay) : ctx.settlement.setMode(m.kind);
        io.stdout(`settlement mode: ${ctx.settlement.status().mode_label}${mode.kind === 'armed' ? ` (at ${new Date(mode.activate_at).toISOString()})` : ''}\n`);
        return 0;
      }
      case 'fund': {
        const f = fundArgs as NonNullable<typeof fundArgs>;
        ctx.settlement.fund(f.account, f.amount);
        io.stdout(`funded ${f.account} with ${f.amount} credits\n`);
        return 0;
      }
      default: {
        const receipts: Receipt[] = [];
        (lines as string[]).forEach((line, i) => {
          if (line.trim() === '') return;
          try {
            receipts.push(parseReceipt(JSON.parse(line), ctx.blake3));
          } catch (err) {
            const msg = err instanceof ReceiptError ? err.message : `not valid JSON (${(err as Error).message})`;
            throw new CliError(`${positionals[0]} line ${i + 1}: ${msg}`);
          }
        });
        const counts = { applied: 0, recorded: 0, duplicate: 0, failed: 0, conflict: 0 };
        const results = ctx.settlement.applyBatch(receipts);
        for (const r of results) counts[r.outcome]++;
        io.stdout(`${counts.applied} applied, ${counts.recorded} recorded (dry-run), ${counts.duplicate} already known, ${counts.failed} failed, ${counts.conflict} conflicting\n`);
        for (const r of results) if (r.outcome === 'failed' || r.outcome === 'conflict') io.stderr(`tessera: receipt ${r.key}: ${r.reason ?? r.outcome}\n`);
        return counts.conflict > 0 ? 1 : 0;
      }
    }
  } finally {
    ctx.close();
  }
}
