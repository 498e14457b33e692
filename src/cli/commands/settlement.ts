import { parseReceipt, ReceiptError, type Receipt } from '../../core/ledger/receipt.js';
import { MAX_ARM_DELAY_SECONDS } from '../../core/ledger/settlement-mode.js';
import type { Blake3Hasher } from '../../core/hash/hasher.js';
import { openLedger } from '../../main/ledger.js';
import { MAX_RECEIPT_LINE_BYTES, receiptFileLines } from '../../main/services/receipt-file.js';
import {
  SETTLEMENT_BATCH_SIZE,
  type ApplyResult,
  type SettlementService,
} from '../../main/services/settlement-service.js';
import { defineCommand, defineGroup } from '../command-spec.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';

/** Exit status of a command that ran but left something undone: a receipt failed, conflicted or was refused; a receipt the market did not answer for. */
export const EXIT_INCOMPLETE = 3;

const dataDirOption = {
  type: 'string',
  valueName: 'DIR',
  description: "the node's data directory (default ./node-data)",
} as const;
const freshLedgerOption = {
  type: 'boolean',
  description:
    'start a new, empty ledger in a data dir that has an identity or bundles but no ledger.db (history there is lost)',
} as const;

export const settlementSpec = defineGroup({
  name: 'settlement',
  summary: 'settlement mode, balances, and applying receipts to the ledger',
  subcommands: {
    status: defineCommand({
      name: 'settlement status',
      summary: 'print the settlement mode, receipt counts and balances',
      options: { json: { type: 'boolean', description: 'print one JSON object' }, 'data-dir': dataDirOption },
    }),
    mode: defineCommand({
      name: 'settlement mode',
      summary:
        'switch settlement to dry-run, real, or armed (real after --delay seconds); turning real applies what dry-run recorded',
      args: { usage: 'dry-run|real|armed', min: 1, max: 1 },
      options: {
        delay: {
          type: 'string',
          valueName: 'SECONDS',
          description: `with armed: seconds until real, 0 to ${MAX_ARM_DELAY_SECONDS}`,
        },
        'data-dir': dataDirOption,
        'fresh-ledger': freshLedgerOption,
      },
      notes: [
        'in dry-run every credit movement (receipts, courier rewards, SLA slashes) is recorded as pending and moves no balance; turning real applies them in order, each once.',
        `exit status: 0 done; ${EXIT_INCOMPLETE} when a pending receipt failed while turning real (settlement is back in dry-run; the summary says why); 2 bad input.`,
      ],
    }),
    apply: defineCommand({
      name: 'settlement apply',
      summary: 'settle a file of receipts, one JSON receipt per line',
      args: { usage: '<receipts.jsonl>', min: 1, max: 1 },
      options: { 'data-dir': dataDirOption, 'fresh-ledger': freshLedgerOption },
      notes: [
        `receipts are checked first — each must be well formed and signed by the market its buyer names (market:<id>), under the key this node pinned for it (see tessera market-key) — and any bad line stops everything, nothing applied; then they are applied in transactions of ${SETTLEMENT_BATCH_SIZE}. The file must be a regular file, each line at most ${MAX_RECEIPT_LINE_BYTES} bytes.`,
        `exit status: 0 when every receipt was applied, recorded (dry-run) or already known; ${EXIT_INCOMPLETE} when any failed (a balance would leave the ledger's range; settlement reverts to dry-run) or conflicted with a stored one — the summary is printed either way; 2 bad input (a malformed, unsigned or mis-signed receipt).`,
      ],
    }),
    fund: defineCommand({
      name: 'settlement fund',
      summary: 'credit an account with a positive whole number of credits',
      args: { usage: '<account> <credits>', min: 2, max: 2 },
      options: { 'data-dir': dataDirOption, 'fresh-ledger': freshLedgerOption },
    }),
  },
});

/**
 * Streams the receipts file twice: first every line is parsed and verified (a bad line stops
 * everything with its line number, nothing applied), then receipts are applied in batches.
 * Prints the summary always; returns EXIT_INCOMPLETE when anything failed or conflicted.
 */
function applyFile(file: string, settlement: SettlementService, blake3: Blake3Hasher, io: CliIo): number {
  const receipts = function* (): Generator<{ r: Receipt; number: number }> {
    for (const { line, number } of receiptFileLines(file)) {
      if (line.trim() === '') continue;
      let r: Receipt;
      try {
        r = parseReceipt(JSON.parse(line), blake3);
      } catch (err) {
        const msg = err instanceof ReceiptError ? err.message : `not valid JSON (${(err as Error).message})`;
        throw new CliError(`${file} line ${number}: ${msg}`);
      }
      yield { r, number };
    }
  };
  // Validation pass (constant memory): a receipt the market did not sign is worth nothing, so each
  // is checked against the pinned key of the market its buyer names before any is applied.
  for (const { r, number } of receipts()) {
    const check = settlement.verify(r);
    if (!check.ok) throw new CliError(`${file} line ${number}: ${check.code}: ${check.message}`);
  }
  const counts = { applied: 0, recorded: 0, duplicate: 0, failed: 0, conflict: 0 };
  const problems: ApplyResult[] = [];
  const modeBefore = settlement.currentMode().kind;
  let batch: Receipt[] = [];
  const flush = () => {
    for (const r of settlement.applyBatch(batch)) {
      counts[r.outcome]++;
      if ((r.outcome === 'failed' || r.outcome === 'conflict') && problems.length < 100) problems.push(r);
    }
    batch = [];
  };
  for (const { r } of receipts()) {
    batch.push(r);
    if (batch.length === SETTLEMENT_BATCH_SIZE) flush();
  }
  flush();
  io.stdout(
    `${counts.applied} applied, ${counts.recorded} recorded (dry-run), ${counts.duplicate} already known, ${counts.failed} failed, ${counts.conflict} conflicting\n`,
  );
  for (const r of problems) io.stderr(`tessera: receipt ${r.key}: ${r.reason ?? r.outcome}\n`);
  if (counts.failed > 0 && modeBefore !== 'dry_run' && settlement.currentMode().kind === 'dry_run') {
    io.stderr(
      'tessera: settlement reverted to dry-run after a failed receipt; fix the cause and run `tessera settlement mode real` again\n',
    );
  }
  return counts.failed + counts.conflict > 0 ? EXIT_INCOMPLETE : 0;
}

/** `tessera settlement …`: receipt settlement mode, balances, applying receipts. */
export async function settlementCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = settlementSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { sub, values, positionals } = parsed;
  if (values.delay !== undefined && !(sub === 'mode' && positionals[0] === 'armed'))
    throw new CliError('--delay applies only to settlement mode armed');

  // Validate everything before opening the ledger.
  let modeArg: { kind: 'dry_run' | 'real' } | { kind: 'armed'; delay: number } | undefined;
  if (sub === 'mode') {
    const m = positionals[0];
    if (m === 'dry-run' || m === 'real') modeArg = { kind: m === 'dry-run' ? 'dry_run' : 'real' };
    else if (m === 'armed') {
      if (
        values.delay === undefined ||
        !/^\d{1,12}(\.\d+)?$/.test(values.delay) ||
        Number(values.delay) > MAX_ARM_DELAY_SECONDS
      ) {
        throw new CliError(
          `settlement mode armed needs --delay SECONDS (a number from 0 to ${MAX_ARM_DELAY_SECONDS}, ten years)`,
        );
      }
      modeArg = { kind: 'armed', delay: Number(values.delay) };
    } else throw new CliError(`settlement mode must be dry-run, armed or real (got ${m ? `"${m}"` : 'none'})`);
  }
  let fundArgs: { account: string; amount: bigint } | undefined;
  if (sub === 'fund') {
    const [account, amount] = positionals;
    if (!account || !amount || !/^\d{1,19}$/.test(amount) || BigInt(amount) === 0n)
      throw new CliError('usage: tessera settlement fund <account> <credits> (credits: a positive integer)');
    fundArgs = { account, amount: BigInt(amount) };
  }
  if (sub === 'apply') {
    const file = positionals[0];
    if (!file || positionals.length !== 1) throw new CliError('usage: tessera settlement apply <receipts.jsonl>');
    const check = receiptFileLines(file); // opens and checks the file (regular, readable) before the ledger is touched
    check.next();
    check.return(undefined);
  }

  const ctx = await openLedger({
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    readonly: sub === 'status', // inspection never writes
    ...(values['fresh-ledger'] ? { allowFreshLedger: true } : {}),
  });
  try {
    switch (sub) {
      case 'status': {
        const s = ctx.settlement.status();
        if (values.json) io.stdout(`${JSON.stringify(s)}\n`);
        else {
          io.stdout(
            `mode: ${s.mode_label}\nreceipts: ${s.receipts.applied} applied, ${s.receipts.recorded} recorded, ${s.receipts.archived} archived\n`,
          );
          io.stdout(
            `credit movements: ${s.movements.pending} pending (applied when settlement turns real), ${s.movements.applied} applied, ${s.movements.failed} failed\n`,
          );
          const practice = new Set(s.markets.filter((m) => m.practice).map((m) => `market:${m.market_id}`));
          const label = (account: string) =>
            practice.has(account) ? '  (practice market: practice credits, not money)' : '';
          io.stdout(
            s.balances.length === 0
              ? 'balances: none\n'
              : `balances:\n${s.balances.map((b) => `  ${b.account}  ${b.balance}${label(b.account)}`).join('\n')}\n`,
          );
          if (practice.size > 0)
            io.stdout(
              `practice: receipts from ${[...practice].join(', ')} are practice credits from a local practice market, not money\n`,
            );
        }
        return 0;
      }
      case 'mode': {
        const m = modeArg as NonNullable<typeof modeArg>;
        const before = ctx.settlement.status().movements;
        const change = m.kind === 'armed' ? { mode: ctx.settlement.arm(m.delay) } : ctx.settlement.changeMode(m.kind);
        const mode = change.mode;
        io.stdout(
          `settlement mode: ${ctx.settlement.status().mode_label}${mode.kind === 'armed' ? ` (at ${new Date(mode.activate_at).toISOString()})` : ''}\n`,
        );
        const after = ctx.settlement.status().movements;
        const applied = after.applied - before.applied;
        const failed = after.failed - before.failed;
        if (applied > 0 || failed > 0)
          io.stdout(`pending credit movements: ${applied} applied, ${failed} failed, ${after.pending} still pending\n`);
        if ('pending' in change)
          for (const f of change.pending.failed)
            io.stderr(`tessera: pending ${f.source} movement ${f.ref}: ${f.reason}\n`);
        if (mode.kind === 'dry_run' && m.kind !== 'dry_run') {
          io.stderr(
            'tessera: a pending receipt failed (the reason is above), so settlement reverted to dry-run; fix the cause and run `tessera settlement mode real` again\n',
          );
          return EXIT_INCOMPLETE;
        }
        return 0;
      }
      case 'fund': {
        const f = fundArgs as NonNullable<typeof fundArgs>;
        ctx.settlement.fund(f.account, f.amount);
        io.stdout(`funded ${f.account} with ${f.amount} credits\n`);
        return 0;
      }
      default:
        return applyFile(positionals[0] as string, ctx.settlement, ctx.blake3, io);
    }
  } finally {
    ctx.close();
  }
}
