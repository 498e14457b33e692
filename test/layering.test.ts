import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|tsx)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [
    ...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm),
  ].map((m) => (m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
}

/** Resolves a relative import to the top-level src folder it lands in (core, main, ...). */
function area(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const target = relative(root, join(root, file, '..', spec));
  return target.split('/').slice(0, 2).join('/');
}

describe('layering (STYLE.md habit 1)', () => {
  it('src/core imports only src/core and nothing from the host', () => {
    const offenders = sources('src/core').flatMap((f) =>
      imports(f)
        .filter((s) => !s.startsWith('.') || area(f, s) !== 'src/core')
        .map((s) => `${f} -> ${s}`),
    );
    expect(offenders).toEqual([]);
  });

  it("only src/main/electron and src/preload import 'electron'", () => {
    const offenders = sources('src')
      .filter((f) => !f.startsWith('src/main/electron/') && !f.startsWith('src/preload/'))
      .filter((f) => imports(f).some((s) => s === 'electron' || s.startsWith('electron/')));
    expect(offenders).toEqual([]);
  });

  it('renderer and main never import each other', () => {
    const offenders = [
      ...sources('src/renderer').flatMap((f) => imports(f).filter((s) => ['src/main', 'src/preload', 'src/cli', 'src/market'].includes(area(f, s) ?? '')).map((s) => `${f} -> ${s}`)),
      ...sources('src/main').flatMap((f) => imports(f).filter((s) => area(f, s) === 'src/renderer').map((s) => `${f} -> ${s}`)),
    ];
    expect(offenders).toEqual([]);
  });
});
