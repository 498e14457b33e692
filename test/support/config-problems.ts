import { ConfigError, parseConfig } from '../../src/main/config/load-config.js';

/** The problems parseConfig reports for config.toml text read from `file` ([] when it parses); any other error is thrown. */
export function configProblems(text: string, file: string): string[] {
  try {
    parseConfig(text, file);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
