import { MarketKeyRepo } from '../../main/db/repos/market-key-repo.js';
import { openLedger } from '../../main/ledger.js';
import { defineCommand, defineGroup, table } from '../command-spec.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';

const dataDirOption = {
  type: 'string',
  valueName: 'DIR',
  description: "the node's data directory (default ./node-data)",
} as const;

export const marketKeySpec = defineGroup({
  name: 'market-key',
  summary: "the markets' receipt keys this node pinned (like SSH host keys): list, forget, trust",
  subcommands: {
    list: defineCommand({
      name: 'market-key list',
      summary: 'print each pinned market: id, key, practice or not, when pinned',
      options: { json: { type: 'boolean', description: 'print one JSON array' }, 'data-dir': dataDirOption },
    }),
    forget: defineCommand({
      name: 'market-key forget',
      summary: "forget a market's pinned key: the next join pins the key the market announces then",
      args: { usage: '<market_id>', min: 1, max: 1 },
      options: { 'data-dir': dataDirOption },
      notes: [
        'do this only when you know the market replaced its key on purpose (it says so where you got its address): a changed key is also what a market impersonating another one looks like.',
      ],
    }),
    trust: defineCommand({
      name: 'market-key trust',
      summary: "pin a market's key by hand (to settle a receipts file from a market this node never joined)",
      args: { usage: '<market_id> <key>', min: 2, max: 2 },
      options: { 'data-dir': dataDirOption },
      notes: [
        '<key> is the 64-hex-character Ed25519 public key the market announces; a market that already has another pinned key must be forgotten first.',
      ],
    }),
  },
});

/** `tessera market-key …`: the pinned receipt keys of the markets this node joined. */
export async function marketKeyCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = marketKeySpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { sub, values, positionals } = parsed;
  const [marketId = '', key = ''] = positionals;
  if (sub === 'trust' && !/^[0-9a-f]{64}$/.test(key))
    throw new CliError(`market key must be 64 lower-case hex characters (a raw Ed25519 public key), got "${key}"`);
  const ctx = await openLedger({
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    readonly: sub === 'list',
  });
  try {
    const repo = new MarketKeyRepo(ctx.db);
    switch (sub) {
      case 'list': {
        const keys = repo.list();
        if (values.json) {
          io.stdout(
            `${JSON.stringify(keys.map((k) => ({ market_id: k.marketId, key: k.publicKey, practice: k.practice, pinned_at: k.pinnedAt, seen_at: k.seenAt })))}\n`,
          );
          return 0;
        }
        if (keys.length === 0)
          io.stdout('no market keys pinned (a key is pinned when the node first joins a market)\n');
        for (const line of table(
          keys.map(
            (k) =>
              [
                k.marketId,
                `${k.publicKey}  ${k.practice ? 'practice market (credits are not money)' : 'market'}  pinned ${new Date(k.pinnedAt).toISOString()}`,
              ] as const,
          ),
        ))
          io.stdout(`${line}\n`);
        return 0;
      }
      case 'forget': {
        if (!repo.forget(marketId))
          throw new CliError(`no key is pinned for market ${marketId} (see \`tessera market-key list\`)`);
        io.stdout(`forgot the key of market ${marketId}; the next join pins the key it announces\n`);
        return 0;
      }
      default: {
        if (repo.get(marketId)?.publicKey === key) {
          io.stdout(`already pinned: market ${marketId} key ${key}\n`);
          return 0;
        }
        const pin = repo.pin(marketId, key, false, Date.now());
        if (pin.status === 'changed')
          throw new CliError(
            `market ${marketId} already has another key pinned (${pin.key.publicKey}); run \`tessera market-key forget ${marketId}\` first if it really changed`,
          );
        io.stdout(`pinned market ${marketId} key ${key}\n`);
        return 0;
      }
    }
  } finally {
    ctx.close();
  }
}
