// Draws the app's icons (a white shield with a check on the police's dark blue) as PNG
// files in public/icons/. Written by hand with zlib so that no image tool or binary
// source file is needed to rebuild them: `node scripts/make-icons.mjs`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deflateSync } from 'node:zlib'

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'icons')
const BLUE = [11, 42, 91]
const WHITE = [255, 255, 255]
const RED = [215, 38, 38]

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(buf) {
  let c = 0xffffffff
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1))
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0
    for (let x = 0; x < size; x++) {
      // 4x4 supersampling keeps the shield's curves smooth without a drawing library.
      let r = 0, g = 0, b = 0, a = 0
      for (let sy = 0; sy < 4; sy++)
        for (let sx = 0; sx < 4; sx++) {
          const [pr, pg, pb, pa] = pixel((x + (sx + 0.5) / 4) / size, (y + (sy + 0.5) / 4) / size)
          r += pr * pa; g += pg * pa; b += pb * pa; a += pa
        }
      const o = y * (size * 4 + 1) + 1 + x * 4
      raw[o] = a ? Math.round(r / a) : 0
      raw[o + 1] = a ? Math.round(g / a) : 0
      raw[o + 2] = a ? Math.round(b / a) : 0
      raw[o + 3] = Math.round((a / 16) * 255)
    }
  }
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(size, 0)
  ihdr.writeUInt32BE(size, 4)
  ihdr[8] = 8 // bit depth
  ihdr[9] = 6 // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

// The shield in a unit box centred on (0.5, 0.5), scaled by `s` (1 = fills the box).
function inShield(u, v, s) {
  const x = (u - 0.5) / s
  const y = (v - 0.5) / s
  // The top edge rises towards the middle, as on a police badge.
  const top = -0.36 - 0.08 * Math.cos((x / 0.38) * (Math.PI / 2))
  if (y < top || y > 0.46) return false
  const half = y < 0.05 ? 0.38 : 0.38 * Math.sqrt(Math.max(0, 1 - ((y - 0.05) / 0.41) ** 2))
  return Math.abs(x) <= half
}

function distToSegment(px, py, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
  return Math.hypot(px - ax - t * dx, py - ay - t * dy)
}

function inCheck(u, v, s) {
  const x = (u - 0.5) / s
  const y = (v - 0.5) / s
  const w = 0.055
  return (
    distToSegment(x, y, -0.17, 0.0, -0.05, 0.13) < w || distToSegment(x, y, -0.05, 0.13, 0.19, -0.13) < w
  )
}

// `any` icons: a rounded blue tile; maskable: full-bleed blue with the shield inside the
// 80% safe zone that launchers may crop to a circle.
function icon(u, v, { maskable }) {
  const s = maskable ? 0.62 : 0.78
  if (!maskable) {
    const r = 0.18, cx = Math.min(Math.max(u, r), 1 - r), cy = Math.min(Math.max(v, r), 1 - r)
    if (Math.hypot(u - cx, v - cy) > r) return [0, 0, 0, 0]
  }
  if (inShield(u, v, s)) return inCheck(u, v, s) ? [...RED, 1] : [...WHITE, 1]
  return [...BLUE, 1]
}

mkdirSync(OUT, { recursive: true })
for (const [name, size, maskable] of [
  ['icon-192.png', 192, false],
  ['icon-512.png', 512, false],
  ['maskable-512.png', 512, true],
  ['apple-touch-icon.png', 180, true],
  ['favicon-32.png', 32, false],
]) {
  writeFileSync(join(OUT, name), png(size, (u, v) => icon(u, v, { maskable })))
  console.log(`wrote public/icons/${name}`)
}
