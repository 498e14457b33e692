#!/usr/bin/env node
// Checks electron-builder.yml without running electron-builder (that needs the Electron
// binary): the YAML parses, names the targets and icons it should, and every path it names
// exists — the build output under --out (default out/) and the icons in resources/.
// Usage: node scripts/check-packaging.mjs [--out DIR]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** electron-builder.yml, parsed (throws when it does not parse). */
export function builderConfig() {
  return yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8'));
}

/** The Electron fuses the packaged app must have (electron-builder's electronFuses). */
export const REQUIRED_FUSES = {
  runAsNode: false,
  enableNodeOptionsEnvironmentVariable: false,
  enableNodeCliInspectArguments: false,
  enableEmbeddedAsarIntegrityValidation: true,
  onlyLoadAppFromAsar: true,
};

/** Problems with the packaging config, one line each; empty when it is sound. `outDir` null: skip the build output. */
export function checkPackaging(outDir = join(root, 'out')) {
  const problems = [];
  let cfg;
  try {
    cfg = builderConfig();
  } catch (err) {
    return [`electron-builder.yml does not parse: ${err.message}`];
  }
  const need = (cond, msg) => {
    if (!cond) problems.push(msg);
  };
  need(cfg.appId && cfg.productName === 'Tessera', 'electron-builder.yml: appId and productName Tessera are required');
  const targets = (section) => (cfg[section]?.target ?? []).map((t) => (typeof t === 'string' ? t : t.target));
  for (const [section, t] of [
    ['linux', 'AppImage'],
    ['linux', 'deb'],
    ['mac', 'dmg'],
    ['win', 'nsis'],
  ])
    need(targets(section).includes(t), `electron-builder.yml: ${section}.target lacks ${t}`);
  for (const section of ['linux', 'mac', 'win']) {
    const icon = cfg[section]?.icon;
    need(
      icon && existsSync(join(root, icon)),
      `electron-builder.yml: ${section}.icon ${icon ?? '(none)'} does not exist`,
    );
  }
  need((cfg.files ?? []).includes('out/**'), 'electron-builder.yml: files must include out/**');
  for (const m of ['better-sqlite3', '@napi-rs', 'webgpu']) {
    need(
      (cfg.asarUnpack ?? []).includes(`node_modules/${m}/**`),
      `electron-builder.yml: asarUnpack lacks node_modules/${m}/**`,
    );
    need(existsSync(join(root, 'node_modules', m)), `node_modules/${m} is missing: run npm install`);
  }
  need(cfg.asar !== false, 'electron-builder.yml: asar must stay on (the integrity fuse checks app.asar)');
  for (const p of cfg.asarUnpack ?? [])
    need(
      !/^out\//.test(p),
      `electron-builder.yml: asarUnpack ${p} takes the app's own code out of the checked archive; unpack native modules only`,
    );
  for (const [fuse, value] of Object.entries(REQUIRED_FUSES))
    need(cfg.electronFuses?.[fuse] === value, `electron-builder.yml: electronFuses.${fuse} must be ${value}`);
  for (const r of cfg.extraResources ?? [])
    need(existsSync(join(root, r.from)), `electron-builder.yml: extraResources ${r.from} does not exist`);
  const pngs = existsSync(join(root, 'resources')) ? readdirSync(join(root, 'resources')) : [];
  for (const s of ['connected', 'earning', 'paused', 'offline', 'error'])
    for (const f of [`tray-${s}.png`, `tray-${s}@2x.png`])
      need(pngs.includes(f), `resources/${f} is missing: run node scripts/make-icons.mjs`);
  // Real PNGs of the right size (the IHDR chunk: width and height at bytes 16 and 20).
  const sizeOf = (f) => {
    const b = readFileSync(join(root, 'resources', f));
    return b.subarray(1, 4).toString('ascii') === 'PNG' ? [b.readUInt32BE(16), b.readUInt32BE(20)] : null;
  };
  const sizes = { 'icon.png': 512, 'icon-256.png': 256 };
  for (const s of ['connected', 'earning', 'paused', 'offline', 'error'])
    Object.assign(sizes, { [`tray-${s}.png`]: 16, [`tray-${s}@2x.png`]: 32 });
  for (const [f, px] of Object.entries(sizes)) {
    if (!pngs.includes(f)) continue;
    const got = sizeOf(f);
    need(
      got !== null && got[0] === px && got[1] === px,
      `resources/${f} is not a ${px}×${px} PNG: run node scripts/make-icons.mjs`,
    );
  }
  // What package.json's "main" and the main process load at run time, inside the build output.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  need(pkg.main === './out/main/index.js', 'package.json main must be ./out/main/index.js');
  need(
    pkg.scripts?.dist === 'npm run build && electron-builder',
    'package.json needs the script "dist": "npm run build && electron-builder"',
  );
  if (outDir === null) return problems;
  for (const f of [
    'main/index.js',
    'main/hash-worker.js',
    'main/digest-worker.js',
    'main/dawn-worker.js',
    'preload/index.cjs',
    'preload/compute.cjs',
    'renderer/index.html',
    'renderer/compute/index.html',
  ]) {
    need(existsSync(join(outDir, f)), `${join(outDir, f)} is missing: build first (npm run build)`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--out');
  const problems = checkPackaging(i > 0 ? process.argv[i + 1] : undefined);
  for (const p of problems) console.error(p);
  if (problems.length > 0) process.exit(1);
  console.log(
    'electron-builder.yml: parses; targets AppImage, deb, dmg, nsis; fuses set; app code inside the asar; every named path exists',
  );
}
