// sync/test-vectors.json, written by sync/make_test_vectors.py from the Python rules: the
// TypeScript rules must agree with every case (tests/sync/test_vectors.py checks Python).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { RecordVisit, SetField } from '../api/types'
import { checksumOf, taskHash, toggle } from './checksum'
import { HlcOverflowError, decodeHlc, encodeHlc, merge, tick } from './hlc'
import { newDeviceId, newId } from './ids'
import { recordVisit, setField } from './outbox'
import { sniff } from './photos'
import { BeatDB } from './store'

interface HlcCase {
  wall_ms: number
  counter: number
  node: string
  encoded: string
}
interface ClockCase {
  last: string
  remote?: string
  now_ms: number
  expected: string | null
}
interface TaskCase {
  kind: string
  id: number
  version: number
}
interface Vectors {
  hlc: {
    encode: HlcCase[]
    decode_valid: HlcCase[]
    decode_invalid: string[]
    tick: ClockCase[]
    merge: (ClockCase & { remote: string })[]
    sort: { input: string[]; sorted: string[] }
  }
  checksum: {
    empty: string
    task_hash: (TaskCase & { hash: string })[]
    of: { tasks: [string, number, number][]; checksum: string }[]
    toggle: (TaskCase & { checksum: string; after: string })[]
  }
  ids: { pattern: string; length: number; time_prefix: { now_ms: number; prefix: string }[] }
  sniff: { hex: string; type: string | null }[]
  mutations: {
    node: string
    hlc_before: string
    hlc_after: string
    now_ms: number
    task: { kind: string; id: number; field_hlc: string }
    record_visit: RecordVisit
    set_field: SetField
  }
}

const V = JSON.parse(
  readFileSync(new URL('../../../../sync/test-vectors.json', import.meta.url), 'utf8'),
) as Vectors

function hex(text: string): Uint8Array {
  return new Uint8Array((text.match(/../g) ?? []).map((b) => Number.parseInt(b, 16)))
}

describe('HLC', () => {
  it.each(V.hlc.encode)('encodes %j', (c) => {
    expect(encodeHlc({ wallMs: c.wall_ms, counter: c.counter, node: c.node })).toBe(c.encoded)
  })
  it.each(V.hlc.decode_valid)('decodes %j', (c) => {
    expect(decodeHlc(c.encoded)).toEqual({ wallMs: c.wall_ms, counter: c.counter, node: c.node })
  })
  it.each(V.hlc.decode_invalid.map((t) => [t]))('refuses %j', (text) => {
    expect(() => decodeHlc(text)).toThrow(RangeError)
  })
  it.each(V.hlc.tick)('ticks %j', (c) => {
    const run = () => encodeHlc(tick(decodeHlc(c.last), c.now_ms))
    if (c.expected === null) expect(run).toThrow(HlcOverflowError)
    else expect(run()).toBe(c.expected)
  })
  it.each(V.hlc.merge)('merges %j', (c) => {
    const run = () => encodeHlc(merge(decodeHlc(c.last), decodeHlc(c.remote), c.now_ms))
    if (c.expected === null) expect(run).toThrow(HlcOverflowError)
    else expect(run()).toBe(c.expected)
  })
  it('sorts as text in clock order', () => {
    expect([...V.hlc.sort.input].sort()).toEqual(V.hlc.sort.sorted)
  })
})

describe('checksum', () => {
  it.each(V.checksum.task_hash)('hashes %j', (c) => {
    expect(taskHash(c.kind, c.id, c.version).toString(16).padStart(16, '0')).toBe(c.hash)
  })
  it.each(V.checksum.of)('sums a scope %#', (c) => {
    expect(checksumOf(c.tasks)).toBe(c.checksum)
  })
  it.each(V.checksum.toggle)('toggles %j', (c) => {
    const after = toggle(c.checksum, c.kind, c.id, c.version)
    expect(after).toBe(c.after)
    expect(toggle(after, c.kind, c.id, c.version)).toBe(c.checksum)
  })
  it('is empty for no tasks', () => {
    expect(checksumOf([])).toBe(V.checksum.empty)
  })
})

describe('ids', () => {
  it('are UUIDv7 as 32 lowercase hex digits', () => {
    const pattern = new RegExp(V.ids.pattern)
    for (let i = 0; i < 200; i++) {
      const made = newId()
      expect(made).toHaveLength(V.ids.length)
      expect(made).toMatch(pattern)
    }
    for (const c of V.ids.time_prefix) expect(newId(c.now_ms).slice(0, 12)).toBe(c.prefix)
  })
  it('sort by time', () => {
    expect(newId(1_764_057_600_000) < newId(1_764_057_600_001)).toBe(true)
  })
  it('make device ids the server takes', () => {
    expect(newDeviceId()).toMatch(/^web-[0-9a-f]{28}$/)
    expect(newDeviceId()).toMatch(/^[A-Za-z0-9._:-]{4,128}$/)
  })
})

describe('photo sniffing', () => {
  it.each(V.sniff)('%j', (c) => {
    expect(sniff(hex(c.hex))).toBe(c.type)
  })
})

describe('mutations', () => {
  it('are recorded exactly as the server decodes them', async () => {
    const m = V.mutations
    const db = new BeatDB(`vectors-${Math.random()}`)
    await db.state.bulkPut([
      { key: 'device_id', value: m.node },
      { key: 'hlc', value: m.hlc_before },
    ])
    const task = {
      kind: 'warning',
      id: m.task.id,
      version: 1,
      fields: { officer_notes: { value: 'earlier', hlc: m.task.field_hlc } },
    }
    // Only the fields the outbox reads: the rest of a task does not matter here.
    await db.tasks.put({
      kind: 'warning',
      id: m.task.id,
      version: 1,
      urgency: '0',
      task: task as never,
      visits: [],
    })
    const visit = m.record_visit
    const madeVisit = await recordVisit(db, {
      kind: 'warning',
      taskId: visit.task_id,
      entry: visit.entry,
      mutationId: visit.mutation_id,
      nowMs: m.now_ms,
    })
    const edit = m.set_field
    const madeEdit = await setField(db, {
      kind: 'warning',
      taskId: edit.task_id,
      field: edit.field,
      value: edit.value,
      mutationId: edit.mutation_id,
      nowMs: m.now_ms,
    })
    const queued = (await db.outbox.orderBy('seq').toArray()).map((r) => r.mutation)
    expect(JSON.parse(JSON.stringify(queued))).toEqual([m.record_visit, m.set_field])
    expect(madeVisit).toEqual(m.record_visit)
    expect(madeEdit).toEqual(m.set_field)
    expect((await db.state.get('hlc'))?.value).toBe(m.hlc_after)
    db.close()
  })
})
