import { join } from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { TesseraError, errorMessage } from '../../core/errors.js';
import { readRegularFile } from '../services/bounded-read.js';
import { CONFIG_SCHEMA, type ConfigKeyName, type NodeConfig } from './schema.js';

/** The settings file inside a data directory. */
export const CONFIG_FILE = 'config.toml';

/** Largest `config.toml` read (1 MiB): a settings file is a few hundred bytes. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * A config file the node cannot start with; one line per problem, each naming file and key.
 * `code` is CONFIG_INVALID for bad content, or the reader's code (FILE_NOT_REGULAR,
 * FILE_TOO_LARGE, FILE_UNREADABLE) when the file itself could not be read.
 */
export class ConfigError extends TesseraError {
  constructor(
    readonly file: string,
    readonly problems: string[],
    code = 'CONFIG_INVALID',
  ) {
    super(code, problems.join('\n'));
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
      throw new ConfigError(file, [
        `${file}:${err.line}:${err.column}: not valid TOML: ${(err.message.split('\n')[0] ?? '').trim()}`,
      ]);
    }
    throw new ConfigError(file, [`${file}: not valid TOML: ${errorMessage(err)}`]);
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

/**
 * Reads `<dataDir>/config.toml`; a missing file means all defaults. Throws ConfigError
 * otherwise. The file must be a regular file of at most MAX_CONFIG_BYTES (a FIFO, a device
 * or a directory is refused without blocking or reading it).
 */
export async function loadConfig(dataDir: string): Promise<NodeConfig> {
  const file = join(dataDir, CONFIG_FILE);
  let text: string;
  try {
    text = (await readRegularFile(file, MAX_CONFIG_BYTES, 'config file')).toString('utf8');
  } catch (err) {
    if (err instanceof TesseraError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return defaultConfig();
    if (err instanceof TesseraError) throw new ConfigError(file, [err.message], err.code);
    throw err;
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
