import { unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LANES, type Lane } from '../../core/pricing/lanes.js';
import { ConfigError, dataPath, loadConfig } from '../../main/config/load-config.js';
import type { NodeConfig } from '../../main/config/schema.js';
import { loadBlake3 } from '../../node/hash/node-hasher.js';
import { removeStaleTemps } from '../../main/services/atomic-file.js';
import { describeFsError } from '../../main/services/fs-errors.js';
import { readPriceBoardFile } from '../../main/services/price-board-service.js';
import { dataDirPaths, requireDataDir } from '../../main/data-dir.js';
import { defineCommand, defineGroup } from '../command-spec.js';
import { CliError } from '../errors.js';
import type { CliIo } from '../io.js';

/** Data directory used when --data-dir is not given. */
const DEFAULT_DATA_DIR = 'node-data';

const dataDirOption = {
  type: 'string',
  valueName: 'DIR',
  description: `the node's data directory (default ./${DEFAULT_DATA_DIR})`,
} as const;

export const priceBoardSpec = defineGroup({
  name: 'price-board',
  summary: "inspect or delete the node's saved price board",
  subcommands: {
    show: defineCommand({
      name: 'price-board show',
      summary: 'print the quantile bands (p25, median, p75) of each lane of the saved board',
      options: { json: { type: 'boolean', description: 'print one JSON object' }, 'data-dir': dataDirOption },
    }),
    clear: defineCommand({
      name: 'price-board clear',
      summary: 'delete the saved board (stop the node first)',
      options: { 'data-dir': dataDirOption },
    }),
  },
});

/** `tessera price-board show|clear`: inspect or delete the node's saved price board. */
export async function priceBoardCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = priceBoardSpec.parse(argv);
  if (parsed.help !== undefined) {
    io.stdout(parsed.help);
    return 0;
  }
  const { sub: action, values } = parsed;
  const dataDir = resolve(values['data-dir'] ?? DEFAULT_DATA_DIR);
  if (action === 'show') requireDataDir(dataDirPaths(dataDir)); // inspection: a missing data dir is an error, never created
  const config = await readConfig(dataDir);
  const path = dataPath(dataDir, config.price_board_path);
  return action === 'show' ? show(io, path, config, values.json ?? false) : clear(io, path);
}

async function readConfig(dataDir: string): Promise<NodeConfig> {
  try {
    return await loadConfig(dataDir);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

async function show(io: CliIo, path: string, config: NodeConfig, json: boolean): Promise<number> {
  const window = config.price_board_window;
  const loaded = await readPriceBoardFile(path, await loadBlake3(), window);
  const board = loaded.board;
  const lanes = Object.fromEntries(
    LANES.map((lane) => {
      const b = board.bands(lane);
      return [
        lane,
        b
          ? { count: b.count, p25: b.p25.toString(), median: b.median.toString(), p75: b.p75.toString() }
          : { count: 0 },
      ];
    }),
  ) as Record<Lane, { count: number; p25?: string; median?: string; p75?: string }>;

  if (json) {
    const out =
      loaded.status === 'loaded'
        ? { path, window, status: 'loaded', stored_window: loaded.storedWindow, lanes }
        : {
            path,
            window,
            status: loaded.reason === 'MISSING' ? 'missing' : 'unusable',
            reason: loaded.reason,
            detail: loaded.message,
            lanes,
          };
    io.stdout(`${JSON.stringify(out)}\n`);
    return 0;
  }
  if (loaded.status === 'empty') {
    io.stdout(
      loaded.reason === 'MISSING'
        ? `no saved price board at ${path}; the node starts with an empty board\n`
        : `price board unusable (${loaded.reason}): ${loaded.message}; the node will start with an empty board\n`,
    );
    return 0;
  }
  const rows = [
    ['lane', 'prices', 'p25', 'median', 'p75'],
    ...LANES.map((lane) => [
      lane,
      String(lanes[lane].count),
      lanes[lane].p25 ?? '-',
      lanes[lane].median ?? '-',
      lanes[lane].p75 ?? '-',
    ]),
  ];
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  const note = loaded.storedWindow !== window ? `, saved with window ${loaded.storedWindow}` : '';
  io.stdout(`price board ${path} (window ${window}${note})\n`);
  for (const r of rows)
    io.stdout(
      `${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')}\n`,
    );
  return 0;
}

async function clear(io: CliIo, path: string): Promise<number> {
  let removed = true;
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new CliError(describeFsError(err, path));
    removed = false;
  }
  await removeStaleTemps(path);
  io.stdout(removed ? `cleared price board: removed ${path}\n` : `no saved price board at ${path}; nothing to clear\n`);
  return 0;
}
