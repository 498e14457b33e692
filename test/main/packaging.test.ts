import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { builderConfig, checkPackaging } from '../../scripts/check-packaging.mjs';
import { appCsp } from '../../src/main/electron/csp.js';

const root = new URL('../../', import.meta.url);

describe('electron-builder.yml', () => {
  it('parses, targets AppImage, deb, dmg and nsis, unpacks the native modules, and names icons that exist', () => {
    expect(checkPackaging(null)).toEqual([]);
  });

  it('flips the fuses: no RunAsNode, no NODE_OPTIONS, no --inspect, app code only from an integrity-checked asar that keeps out/main inside', () => {
    const cfg = builderConfig();
    expect(cfg.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
    expect(cfg.asar).not.toBe(false);
    expect(cfg.asarUnpack?.filter((p) => p.startsWith('out/'))).toEqual([]);
    expect(cfg.asarUnpack).toEqual(
      expect.arrayContaining(['node_modules/better-sqlite3/**', 'node_modules/@napi-rs/**', 'node_modules/webgpu/**']),
    );
  });
});

/** The directives of a CSP string, by name. */
function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name as string, values]),
  );
}

describe("the app window's Content-Security-Policy", () => {
  it("connects nowhere but 'self' (the page talks over IPC): the session header and the built page's <meta> agree", () => {
    const header = directives(appCsp());
    const html = readFileSync(new URL('src/renderer/index.html', root), 'utf8');
    const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta).toBeDefined();
    const page = directives(meta as string);
    expect(header.get('connect-src')).toEqual(["'self'"]);
    expect(page.get('connect-src')).toEqual(["'self'"]);
    // Same rules on both (frame-ancestors is header-only).
    header.delete('frame-ancestors');
    expect(page).toEqual(header);
    expect(directives(appCsp('http://localhost:5173')).get('connect-src')).toEqual(["'self'", 'ws://localhost:5173']);
  });
});
