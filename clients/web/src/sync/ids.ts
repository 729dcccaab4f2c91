// Ids made on the phone (sync/ids.py): UUIDv7 as 32 lowercase hex digits, 48 bits of Unix
// milliseconds then random bits, so the server's indexes take them at their right edge.

export function newId(nowMs: number = Date.now()): string {
  const bytes = new Uint8Array(16)
  crypto.getRandomValues(bytes.subarray(6))
  // 48 bits of milliseconds do not fit a 32-bit shift: split into high and low parts.
  const ms = Math.max(0, Math.floor(nowMs)) % 2 ** 48
  const high = Math.floor(ms / 2 ** 32)
  const low = ms % 2 ** 32
  bytes[0] = (high >>> 8) & 0xff
  bytes[1] = high & 0xff
  bytes[2] = (low >>> 24) & 0xff
  bytes[3] = (low >>> 16) & 0xff
  bytes[4] = (low >>> 8) & 0xff
  bytes[5] = low & 0xff
  bytes[6] = (bytes[6]! & 0x0f) | 0x70 // version 7
  bytes[8] = (bytes[8]! & 0x3f) | 0x80 // variant 0b10
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}

// The id this install logs in with and the node of its HLC. The server takes
// ^[A-Za-z0-9._:-]{4,128}$ for a device id and the HLC's node; 'web-' tells a support
// engineer which app made it.
export function newDeviceId(): string {
  return `web-${newId().slice(0, 28)}`
}
