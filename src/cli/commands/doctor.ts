import { DOCTOR_EXIT_DAMAGED, runDoctor } from '../../main/doctor.js';
import { defineCommand } from '../command-spec.js';
import type { CliIo } from '../io.js';

export const doctorSpec = defineCommand({
  name: 'doctor',
  summary:
    "check the ledger's health: full integrity check, every receipt re-verified, balances against postings, courier bundles re-hashed",
  options: {
    'data-dir': { type: 'string', valueName: 'DIR', description: "the node's data directory (default ./node-data)" },
    json: { type: 'boolean', description: 'print the report as one JSON object' },
  },
  notes: [
    'Read-only: nothing in the data directory is created or changed, and a damaged ledger is never repaired or moved.',
    `exit status: 0 healthy; ${DOCTOR_EXIT_DAMAGED} damage found (the report says where; restore ledger.db from a backup); ` +
      '2 the check could not run (no data directory, the ledger locked by another process, permission or I/O errors).',
  ],
});

/** `tessera doctor`: the full, read-only health check of a data directory's ledger. */
export async function doctorCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = doctorSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const report = await runDoctor(parsed.values['data-dir']);
  if (parsed.values.json) io.stdout(`${JSON.stringify(report)}\n`);
  else {
    io.stdout(`ledger ${report.dbPath}\n`);
    for (const c of report.checks) io.stdout(`  ${c.ok ? 'ok     ' : 'DAMAGED'}  ${c.name}: ${c.detail}\n`);
    const onlyBundles = report.checks.every((c) => c.ok || c.name === 'bundles');
    io.stdout(
      report.healthy
        ? 'healthy\n'
        : onlyBundles
          ? 'damaged: Tessera has not changed anything; the ledger is sound, but a damaged or missing bundle cannot be forwarded: ask its sender for it again and `tessera courier send` it (the damaged copy is replaced)\n'
          : 'damaged: Tessera has not changed anything; stop the node, restore ledger.db from a backup (or move it away yourself to start a new ledger)\n',
    );
  }
  return report.healthy ? 0 : DOCTOR_EXIT_DAMAGED;
}
