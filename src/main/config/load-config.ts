import { TesseraError } from '../../core/errors.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { describeFsError } from '../services/fs-errors.js';
import { CONFIG_SCHEMA, type ConfigKeyName, type NodeConfig } from './schema.js';

/** The settings file inside a data directory. */
export const CONFIG_FILE = 'config.toml';

/** A config file the node cannot start with; one line per problem, each naming file and key. */
export class ConfigError extends TesseraError {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super('CONFIG_INVALID', problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** The settings used when `config.toml` is absent or leaves a key out. */
export function defaultConfig(): NodeConfig {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(CONFIG_SCHEMA)) out[name] = spec.default;
  return out as NodeConfig;
}

/**
 * Parses and validates config text. Every key is checked before anything is returned, so a
 * node never starts with a half-read config; all problems are reported together.
 */
export function parseConfig(text: string, file: string): NodeConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text, { integersAsBigInt: true, unsafeKeyBehaviour: 'throw' });
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ConfigError(file, [`${file}:${err.line}:${err.column}: not valid TOML: ${(err.message.split('\n')[0] ?? '').trim()}`]);
    }
    throw new ConfigError(file, [`${file}: not valid TOML: ${err instanceof Error ? err.message : String(err)}`]);
  }
  const problems: string[] = [];
  const out: Record<string, unknown> = defaultConfig();
  for (const [name, value] of Object.entries(doc)) {
    if (!Object.hasOwn(CONFIG_SCHEMA, name)) {
      problems.push(`${file}: unknown key "${name}" (known keys: ${Object.keys(CONFIG_SCHEMA).join(', ')})`);
      continue;
    }
    const spec = CONFIG_SCHEMA[name as ConfigKeyName];
    const result = spec.schema.safeParse(value);
    if (result.success) out[name] = result.data;
    else problems.push(`${file}: ${name} must be ${spec.allowed} (got ${describeValue(value)})`);
  }
  if (problems.length > 0) throw new ConfigError(file, problems);
  return out as NodeConfig;
}

/** Reads `<dataDir>/config.toml`; a missing file means all defaults. Throws ConfigError otherwise. */
export async function loadConfig(dataDir: string): Promise<NodeConfig> {
  const file = join(dataDir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig();
    throw new ConfigError(file, [describeFsError(err, file)]);
  }
  return parseConfig(text, file);
}

/** Resolves a data-directory-relative setting (such as `price_board_path`) to a path. */
export function dataPath(dataDir: string, relative: string): string {
  return join(dataDir, relative);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  // TOML integers arrive as bigint; a number is a TOML float, even when it looks whole (100.0).
  if (typeof value === 'number') return Number.isInteger(value) ? `${value}.0, a float` : `${value}, a float`;
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (value !== null && typeof value === 'object') return 'a table';
  return String(value);
}
