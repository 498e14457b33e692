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
    ...text.matchAll(
      /(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm,
    ),
  ].map((m) => (m[1] ?? m[2] ?? m[3] ?? m[4]) as string);
}

/**
 * The area a path belongs to: its top-level src folder (core, main, ...), except that the
 * Electron main process, src/main/electron, is an area of its own (a host, above src/main).
 */
function areaOf(path: string): string {
  if (path.startsWith('src/main/electron/')) return 'src/main/electron';
  return path.split('/').slice(0, 2).join('/');
}

/** Resolves a relative import to the area it lands in (core, main, main/electron, ...). */
function area(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return areaOf(relative(root, join(root, file, '..', spec)));
}

/** The source file a relative import lands on (`.js` written for a `.ts` file), or undefined. */
function resolveFile(file: string, spec: string, known: Set<string>): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = relative(root, join(root, file, '..', spec));
  return [base, base.replace(/\.js$/, '.ts'), base.replace(/\.js$/, '.tsx'), `${base}.ts`, `${base}/index.ts`].find(
    (c) => known.has(c),
  );
}

/**
 * The package graph runs one way: cli, main/electron → hosts → main / market → node → shared → core.
 * Each folder may import only the folders listed for it (and itself).
 */
const ALLOWED: Record<string, readonly string[]> = {
  'src/core': [],
  'src/shared': ['src/core'],
  'src/node': ['src/shared', 'src/core'],
  'src/main': ['src/node', 'src/shared', 'src/core'],
  'src/market': ['src/node', 'src/shared', 'src/core'],
  'src/hosts': ['src/main', 'src/market', 'src/node', 'src/shared', 'src/core'],
  'src/main/electron': ['src/hosts', 'src/main', 'src/market', 'src/node', 'src/shared', 'src/core'],
  'src/cli': ['src/hosts', 'src/main', 'src/market', 'src/node', 'src/shared', 'src/core'],
  'src/preload': ['src/shared', 'src/core'],
  'src/renderer': ['src/shared', 'src/core'],
};

/** The files of one area: sources('src/main') less src/main/electron, which is an area of its own. */
function filesOf(folder: string): string[] {
  return sources(folder).filter((f) => areaOf(f) === folder);
}

function offendersOf(folder: string, forbidden: (target: string) => boolean): string[] {
  return filesOf(folder).flatMap((f) =>
    imports(f)
      .filter((s) => {
        const a = area(f, s);
        return a !== undefined && a.startsWith('src/') && forbidden(a);
      })
      .map((s) => `${f} -> ${s}`),
  );
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
      ...offendersOf('src/renderer', (a) =>
        ['src/main', 'src/main/electron', 'src/preload', 'src/cli', 'src/market', 'src/hosts', 'src/node'].includes(a),
      ),
      ...offendersOf('src/main', (a) => a === 'src/renderer'),
    ];
    expect(offenders).toEqual([]);
  });

  it('the market never imports the provider app (main), the renderer, the preload, the hosts or the CLI', () => {
    expect(
      offendersOf('src/market', (a) =>
        ['src/main', 'src/main/electron', 'src/renderer', 'src/preload', 'src/hosts', 'src/cli'].includes(a),
      ),
    ).toEqual([]);
  });

  it("the provider app's services never import the market server (a host composes them)", () => {
    expect(offendersOf('src/main', (a) => ['src/market', 'src/hosts', 'src/cli'].includes(a))).toEqual([]);
  });

  it("the provider app's services never import the Electron host", () => {
    expect(offendersOf('src/main', (a) => a === 'src/main/electron')).toEqual([]);
  });

  it('shared imports only core', () => {
    expect(offendersOf('src/shared', (a) => a !== 'src/shared' && a !== 'src/core')).toEqual([]);
  });

  it('every folder imports only the folders below it: cli, main/electron → hosts → main / market → node → shared → core', () => {
    const offenders = Object.entries(ALLOWED).flatMap(([folder, allowed]) =>
      offendersOf(folder, (a) => a !== folder && !allowed.includes(a)),
    );
    expect(offenders).toEqual([]);
    // Every source folder has a rule: a new top-level folder must be placed in the graph.
    const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `src/${e.name}`);
    expect(folders.filter((f) => !(f in ALLOWED))).toEqual([]);
  });

  it('no two source files import each other, directly or around a circle', () => {
    const files = sources('src');
    const known = new Set(files);
    const edges = new Map(files.map((f) => [f, imports(f).flatMap((s) => resolveFile(f, s, known) ?? [])]));
    const state = new Map<string, 'open' | 'done'>();
    const circles: string[] = [];
    const visit = (f: string, path: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        circles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const next of edges.get(f) ?? []) visit(next, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(circles).toEqual([]);
  });
});
