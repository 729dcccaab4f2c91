// The scope checksum (sync/checksum.py): XOR over the tasks of the first 8 bytes of
// blake2b("<kind>:<id>:<version>", 8 bytes), big-endian, as 16 hex digits. XOR makes it
// independent of row order, so it is computed from IndexedDB rows as they come.
import { blake2b } from '@noble/hashes/blake2.js'

export const EMPTY_CHECKSUM = '0'.repeat(16)
const encoder = new TextEncoder()

export function taskHash(kind: string, id: number, version: number): bigint {
  const digest = blake2b(encoder.encode(`${kind}:${id}:${version}`), { dkLen: 8 })
  let value = 0n
  for (const byte of digest) value = (value << 8n) | BigInt(byte)
  return value
}

function hex16(value: bigint): string {
  return value.toString(16).padStart(16, '0')
}

// The checksum with this task version added, or removed: XOR is its own inverse.
export function toggle(checksum: string, kind: string, id: number, version: number): string {
  return hex16(BigInt(`0x${checksum}`) ^ taskHash(kind, id, version))
}

export function checksumOf(tasks: Iterable<readonly [string, number, number]>): string {
  let value = 0n
  for (const [kind, id, version] of tasks) value ^= taskHash(kind, id, version)
  return hex16(value)
}
