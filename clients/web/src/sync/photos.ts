// Which photos the product takes, judged by their first bytes (sync/photos.py): the
// server refuses anything else, so the phone checks before it queues one.
export const SNIFF_BYTES = 12
const HEIC_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'hevm', 'hevs'])
const HEIF_BRANDS = new Set(['mif1', 'msf1'])

export type PhotoType = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/heic' | 'image/heif'

function ascii(head: Uint8Array, start: number, end: number): string {
  if (head.length < end) return ''
  return String.fromCharCode(...head.subarray(start, end))
}

function startsWith(head: Uint8Array, prefix: readonly number[]): boolean {
  return head.length >= prefix.length && prefix.every((byte, i) => head[i] === byte)
}

export function sniff(head: Uint8Array): PhotoType | null {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  if (ascii(head, 0, 4) === 'RIFF' && ascii(head, 8, 12) === 'WEBP') return 'image/webp'
  if (ascii(head, 4, 8) === 'ftyp') {
    const brand = ascii(head, 8, 12)
    if (HEIC_BRANDS.has(brand)) return 'image/heic'
    if (HEIF_BRANDS.has(brand)) return 'image/heif'
  }
  return null
}

export async function sniffBlob(blob: Blob): Promise<PhotoType | null> {
  return sniff(new Uint8Array(await blob.slice(0, SNIFF_BYTES).arrayBuffer()))
}

// The whole photo in memory once: a phone photo is a few MB, and SubtleCrypto has no
// streaming digest.
export async function sha256Hex(blob: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
  let out = ''
  for (const byte of new Uint8Array(digest)) out += byte.toString(16).padStart(2, '0')
  return out
}
