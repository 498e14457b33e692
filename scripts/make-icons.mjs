#!/usr/bin/env node
// Draws the app and tray icons into resources/ as PNG files, with Node only (zlib for the
// PNG's deflate stream). Run `node scripts/make-icons.mjs` after changing a colour or shape;
// the PNGs are committed so builds need nothing but this repository.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'resources');

// --- PNG encoding (RGBA, 8 bits per channel) ---
const crcTable = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function encodePng(size, rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0; // filter: none
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// --- Drawing: shapes in unit coordinates (0..1), 4×4 supersampling for smooth edges ---
const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];

/** True when (x, y) lies in the rounded rectangle [x0, x1] × [y0, y1] with corner radius r. */
function inRoundRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
}

/** Renders `shapes` (painted in order, each {test(x, y), color}) at `size` px. */
function render(size, shapes) {
  const rgba = Buffer.alloc(size * size * 4);
  const ss = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0,
        g = 0,
        b = 0,
        a = 0;
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          const x = (px + (sx + 0.5) / ss) / size;
          const y = (py + (sy + 0.5) / ss) / size;
          let c;
          for (const s of shapes) if (s.test(x, y)) c = s.color;
          if (c) {
            r += c[0];
            g += c[1];
            b += c[2];
            a += 1;
          }
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        rgba[i] = Math.round(r / a);
        rgba[i + 1] = Math.round(g / a);
        rgba[i + 2] = Math.round(b / a);
        rgba[i + 3] = Math.round((255 * a) / (ss * ss));
      }
    }
  }
  return rgba;
}

/** A 3×3 mosaic of tiles (the name: a tessera is one tile of a mosaic) inside [m, 1-m]. */
function mosaic(m, gap, radius, colors) {
  const cell = (1 - 2 * m - 2 * gap) / 3;
  const shapes = [];
  for (let row = 0; row < 3; row++) {
    for (let col = 0; col < 3; col++) {
      const x0 = m + col * (cell + gap);
      const y0 = m + row * (cell + gap);
      shapes.push({
        test: (x, y) => inRoundRect(x, y, x0, y0, x0 + cell, y0 + cell, radius),
        color: hex(colors[(row * 3 + col) % colors.length]),
      });
    }
  }
  return shapes;
}

// The app icon: a dark rounded square holding a teal/amber mosaic.
const appShapes = [
  { test: (x, y) => inRoundRect(x, y, 0.02, 0.02, 0.98, 0.98, 0.2), color: hex('#0f172a') },
  ...mosaic(0.16, 0.045, 0.045, [
    '#14b8a6',
    '#0ea5e9',
    '#f59e0b',
    '#0ea5e9',
    '#f59e0b',
    '#14b8a6',
    '#f59e0b',
    '#14b8a6',
    '#0ea5e9',
  ]),
];

// Tray icons: a 2×2 mosaic in the status colour, readable at 16 px on light and dark bars.
const STATUS_COLORS = {
  connected: '#0ea5e9',
  earning: '#22c55e',
  paused: '#f59e0b',
  offline: '#94a3b8',
  error: '#ef4444',
};
function trayShapes(color) {
  const c = hex(color);
  const outline = hex('#0f172a');
  const tiles = [];
  const m = 0.06;
  const gap = 0.1;
  const cell = (1 - 2 * m - gap) / 2;
  for (let row = 0; row < 2; row++) {
    for (let col = 0; col < 2; col++) {
      const x0 = m + col * (cell + gap);
      const y0 = m + row * (cell + gap);
      // A thin dark rim keeps the tile visible on a light menu bar.
      tiles.push({ test: (x, y) => inRoundRect(x, y, x0, y0, x0 + cell, y0 + cell, 0.09), color: outline });
      tiles.push({
        test: (x, y) => inRoundRect(x, y, x0 + 0.05, y0 + 0.05, x0 + cell - 0.05, y0 + cell - 0.05, 0.05),
        color: c,
      });
    }
  }
  return tiles;
}

function write(name, size, shapes) {
  const path = join(out, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePng(size, render(size, shapes)));
  console.log(`wrote ${name} (${size}×${size})`);
}

write('icon.png', 512, appShapes);
write('icon-256.png', 256, appShapes);
for (const [status, color] of Object.entries(STATUS_COLORS)) {
  // Electron picks the @2x file on high-density screens.
  write(`tray-${status}.png`, 16, trayShapes(color));
  write(`tray-${status}@2x.png`, 32, trayShapes(color));
}
