/** Writes the extension's PNG icons (public/icons): a two-faced "J" mark, drawn pixel by pixel. */
import { writeFileSync, mkdirSync } from 'node:fs';
import { zlibSync } from 'fflate';

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function png(size: number, pixel: (x: number, y: number) => [number, number, number, number]): Uint8Array {
  const raw = new Uint8Array(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) raw.set(pixel(x, y), y * (size * 4 + 1) + 1 + x * 4);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, size);
  dv.setUint32(4, size);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const parts = [new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', zlibSync(raw)), chunk('IEND', new Uint8Array(0))];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function icon(size: number): Uint8Array {
  return png(size, (x, y) => {
    const u = (x + 0.5) / size;
    const v = (y + 0.5) / size;
    const r = Math.hypot(u - 0.5, v - 0.5);
    if (r > 0.48) return [0, 0, 0, 0];
    // Left face dark blue, right face teal: the two faces of Janus.
    const bg: [number, number, number, number] = u < 0.5 ? [30, 58, 138, 255] : [13, 148, 136, 255];
    // A white "J": top bar, stem, and hook.
    const stem = u > 0.54 && u < 0.66 && v > 0.22 && v < 0.66;
    const bar = v > 0.2 && v < 0.31 && u > 0.36 && u < 0.74;
    const hr = Math.hypot(u - 0.45, v - 0.64);
    const hook = v > 0.62 && hr > 0.09 && hr < 0.21 && u < 0.66;
    return stem || bar || hook ? [255, 255, 255, 255] : bg;
  });
}

mkdirSync('public/icons', { recursive: true });
for (const s of [16, 32, 48, 128]) writeFileSync(`public/icons/icon-${s}.png`, icon(s));
console.log('icons written to public/icons');
