// The engine against an in-memory server double (fake-server.ts): paging, resyncs, removes,
// verdicts, field bases, tokens, wipes and photos, as PROTOCOL.md and the reference client
// (clients/device) have them.
import { beforeEach, describe, expect, it } from 'vitest'
import { ProblemError } from '../api/problems'
import type { EngineEvent, SyncEngine } from './engine-contract'
import { createEngine } from './engine'
import { FakeServer, warning } from './fake-server'
import { localChecksum } from './pull'
import { BeatDB } from './store'

let server: FakeServer
let db: BeatDB
let engine: SyncEngine
let events: EngineEvent[]
let clock: number

function makeEngine(): SyncEngine {
  const made = createEngine({
    baseUrl: 'http://server.test',
    db,
    fetch: server.fetch,
    now: () => clock,
    retry: { attempts: 3, baseMs: 1, capMs: 2 },
    sleep: async () => undefined,
    random: () => 0,
  })
  made.on((event) => events.push(event))
  return made
}

beforeEach(async () => {
  server = new FakeServer()
  db = new BeatDB(`engine-${Math.random()}`)
  clock = 1_764_057_600_000
  events = []
  engine = makeEngine()
  await engine.login('officer', 'demo')
})

// Three chunks of 256 KiB, the last one short.
const JPEG = new Uint8Array(600_012).fill(7)
JPEG.set([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0, 1])

// Deep equality of 600 KB by expect() takes seconds; the bytes are compared here.
function same(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && a.every((byte, i) => byte === b[i])
}

describe('pull', () => {
  it('pages through a snapshot, then follows the change log', async () => {
    for (let id = 1; id <= 450; id++) server.put(warning(id))
    const first = await engine.sync()
    expect(first.upserts).toBe(450)
    expect(first.checksum).toBe(server.checksum())
    expect(await db.tasks.count()).toBe(450)
    expect(server.requests.filter((r) => r.path === '/api/v1/sync/pull')).toHaveLength(3)
    const added = events.find((e) => e.type === 'new_tasks')
    expect(added?.type === 'new_tasks' && added.tasks.length).toBe(450)

    events = []
    server.bump('warning', 7, { state: 'in_progress' })
    server.put(warning(451))
    const second = await engine.sync()
    expect(second.upserts).toBe(2)
    expect((await db.tasks.get(['warning', 7]))?.version).toBe(2)
    const fresh = events.find((e) => e.type === 'new_tasks')
    expect(fresh).toEqual({ type: 'new_tasks', tasks: [{ kind: 'warning', id: 451 }] })
    expect(await localChecksum(db)).toBe(server.checksum())
  })

  it('resyncs from zero on a checksum mismatch and drops what the snapshot lacks', async () => {
    server.put(warning(1))
    server.put(warning(2))
    await engine.sync()
    // A task the server never had (a restored backup, say).
    await db.tasks.put({ ...(await db.tasks.get(['warning', 2]))!, id: 99 })
    const report = await engine.sync()
    expect(report.resyncs).toBe(1)
    expect(await db.tasks.get(['warning', 99])).toBeUndefined()
    expect(await db.tasks.count()).toBe(2)
  })

  it('gives up after two resyncs that still disagree', async () => {
    server.put(warning(1))
    server.wrongChecksumTimes = 3
    await expect(engine.sync()).rejects.toMatchObject({ code: 'checksum_mismatch' })
    expect(events.at(-1)).toEqual({ type: 'phase', phase: 'error', error: 'checksum_mismatch' })
  })

  it('resyncs on 410 resync_required', async () => {
    server.put(warning(1))
    await engine.sync()
    server.goneOnce = true
    server.put(warning(2))
    const report = await engine.sync()
    expect(report.resyncs).toBe(1)
    expect(await db.tasks.count()).toBe(2)
  })

  it('on remove drops the task but keeps what the officer has not sent', async () => {
    server.put(warning(1))
    await engine.sync()
    await engine.recordVisit('warning', 1, { outcome: 'dissuaded', contact: 'face_to_face' })
    const sentId = await engine.setNotes('warning', 1, 'sent before')
    await engine.sync()
    const unsent = await engine.recordVisit('warning', 1, { notes: 'not yet sent' })
    server.remove('warning', 1)
    // Pull alone: the unsent visit is still in the outbox when the remove arrives.
    const { pull } = await import('./pull')
    const { ApiClient } = await import('../api/client')
    const api = new ApiClient({ baseUrl: 'http://server.test', db, fetch: server.fetch })
    await pull(db, api, () => clock)
    expect(await db.tasks.get(['warning', 1])).toBeUndefined()
    const kept = await db.recorded.toArray()
    expect(kept.map((r) => r.entry_id)).toEqual([unsent])
    expect(await db.recorded.get(sentId)).toBeUndefined()
    expect(await db.outbox.count()).toBe(1)
  })

  it('ignores change types it does not know', async () => {
    server.put(warning(1))
    const original = server.fetch
    const patched = async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await original(input, init)
      if (!new URL((input as Request).url).pathname.endsWith('/pull')) return response
      const body = await response.json()
      body.changes.push({ type: 'teleport', seq: 1 })
      return new Response(JSON.stringify(body), { status: 200 })
    }
    engine = createEngine({ baseUrl: 'http://server.test', db, fetch: patched as typeof fetch })
    const report = await engine.sync()
    expect(report.upserts).toBe(1)
  })
})

describe('push', () => {
  it('sends the outbox oldest first in batches of 100 and stores every verdict', async () => {
    server.put(warning(1))
    await engine.sync()
    const made: string[] = []
    for (let i = 0; i < 230; i++) made.push(await engine.setNotes('warning', 1, `note ${i}`))
    server.tasks.delete('warning:1') // the next ones are refused: never assigned any more
    await db.tasks.put({ ...(await db.tasks.get(['warning', 1]))! }) // still shown locally
    const report = await engine.sync()
    expect(server.pushes.map((p) => (p.mutations as unknown[]).length)).toEqual([100, 100, 30])
    expect(server.received.map((m) => m.mutation_id)).toEqual(made)
    expect(report.rejected).toBe(230)
    const rejected = await db.recorded.get(made[0]!)
    expect(rejected?.status).toBe('rejected')
    expect(rejected?.problem).toMatchObject({ code: 'not_assigned' })
    expect(await db.outbox.count()).toBe(0)
    for (const push of server.pushes) expect(typeof push.device_time).toBe('string')
  })

  it('retries a batch that failed whole, and a replay changes nothing', async () => {
    server.put(warning(1))
    await engine.sync()
    const id = await engine.recordVisit('warning', 1, { outcome: 'dissuaded' })
    server.failNextPushes = 1
    clock += 1000
    await engine.sync()
    expect(server.pushes).toHaveLength(2)
    expect(server.pushes[0]!.device_time).toBeDefined()
    const row = (await db.recorded.toArray()).find((r) => r.entry_id === id)
    expect(row?.status).toBe('applied')
  })

  it('refuses verdicts that do not match the mutations sent', async () => {
    server.put(warning(1))
    await engine.sync()
    await engine.setNotes('warning', 1, 'x')
    const wrong = async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await server.fetch(input, init)
      if (!new URL((input as Request).url).pathname.endsWith('/push')) return response
      const body = await response.json()
      body.results[0].mutation_id = 'someone-else'
      return new Response(JSON.stringify(body), { status: 200 })
    }
    engine = createEngine({ baseUrl: 'http://server.test', db, fetch: wrong as typeof fetch })
    await expect(engine.sync()).rejects.toThrow(/do not match/)
    expect(await db.outbox.count()).toBe(1)
  })
})

describe('field base HLC', () => {
  it("builds on the device's own unanswered edit, then on the server's once pulled", async () => {
    const notes = { value: 'old', hlc: '000001764000000000-00000-server' }
    server.put(warning(1, 1, { fields: { officer_notes: notes } }))
    await engine.sync()
    const first = await engine.setNotes('warning', 1, 'one')
    clock += 10
    await engine.setNotes('warning', 1, 'two')
    const rows = await db.outbox.orderBy('seq').toArray()
    const [a, b] = rows.map((r) => r.mutation) as { base_hlc: string; hlc: string }[]
    expect(a!.base_hlc).toBe('000001764000000000-00000-server')
    expect(b!.base_hlc).toBe(a!.hlc)
    await engine.sync()
    expect((await db.recorded.get(first))?.seen).toBe(1)
    clock += 10
    await engine.setNotes('warning', 1, 'three')
    const [third] = (await db.outbox.toArray()).map((r) => r.mutation) as { base_hlc: string }[]
    const stored = (await db.tasks.get(['warning', 1]))!.task.fields!.officer_notes!.hlc
    expect(third!.base_hlc).toBe(stored)
  })
})

describe('session', () => {
  it('refreshes an expired token once, even for requests side by side', async () => {
    server.put(warning(1))
    await engine.sync()
    server.expireAccessTokens()
    await engine.setNotes('warning', 1, 'a')
    const { ApiClient } = await import('../api/client')
    const api = new ApiClient({ baseUrl: 'http://server.test', db, fetch: server.fetch })
    await Promise.all([api.pull(null, 10), api.pull(null, 10), engine.sync()])
    expect(server.requests.filter((r) => r.path === '/api/v1/auth/refresh')).toHaveLength(1)
    expect((await db.state.get('refresh_token'))?.value).toBe('refresh-2')
    expect(await db.outbox.count()).toBe(0)
  })

  it('signs out, keeping the records, when the refresh token is no good', async () => {
    server.put(warning(1))
    await engine.sync()
    await engine.setNotes('warning', 1, 'keep me')
    server.expireAccessTokens()
    server.refreshes.clear()
    await expect(engine.sync()).rejects.toBeInstanceOf(ProblemError)
    expect(events).toContainEqual({ type: 'signed_out', code: 'refresh_token_invalid' })
    expect(await db.outbox.count()).toBe(1)
    expect(await engine.currentUser()).toBeNull()
  })

  it('wipes everything but the device id and the HLC on action wipe', async () => {
    server.put(warning(1))
    await engine.sync()
    await engine.setNotes('warning', 1, 'x')
    await engine.addPhoto(new Blob([JPEG]), 'a.jpg')
    const device = await engine.deviceId()
    const hlc = (await db.state.get('hlc'))?.value
    server.wipeWith = 'device_revoked'
    await expect(engine.sync()).rejects.toMatchObject({ code: 'device_revoked' })
    expect(events).toContainEqual({ type: 'wiped', code: 'device_revoked' })
    for (const table of [db.tasks, db.outbox, db.recorded, db.photos, db.snapshot_seen]) {
      expect(await table.count()).toBe(0)
    }
    expect((await db.state.toArray()).map((r) => r.key).sort()).toEqual(['device_id', 'hlc'])
    expect(await engine.deviceId()).toBe(device)
    expect((await db.state.get('hlc'))?.value).toBe(hlc)
  })

  it('hands in its outbox under the hand-in token, then wipes', async () => {
    server.put(warning(1))
    await engine.sync()
    const visit = await engine.recordVisit('warning', 1, { outcome: 'dissuaded', contact: 'face_to_face' })
    await engine.setNotes('warning', 1, 'dog at the gate')
    server.wipeWith = 'device_revoked'
    server.handinToken = 'handin-1'
    await expect(engine.sync()).rejects.toMatchObject({ code: 'device_revoked' })
    expect(server.received.map((m) => m.type)).toEqual(['record_visit', 'set_field'])
    expect((server.received[0]!.entry as { entry_id: string }).entry_id).toBe(visit)
    const handIns = server.requests.filter((r) => r.auth === 'Bearer handin-1')
    expect(handIns.map((r) => r.path)).toEqual(['/api/v1/sync/push'])
    expect(events).toContainEqual({ type: 'wiped', code: 'device_revoked' })
    expect(await db.outbox.count()).toBe(0)
    expect(await db.tasks.count()).toBe(0)
  })

  it('wipes when the hand-in is refused, and keeps everything when the network fails it', async () => {
    server.put(warning(1))
    await engine.sync()
    await engine.recordVisit('warning', 1, { outcome: 'dissuaded' })
    server.wipeWith = 'user_disabled'
    server.handinToken = 'handin-1'
    const online = server.fetch
    let calls = 0
    // The answer carrying the token arrives; the hand-in finds no network.
    const flaky = createEngine({
      baseUrl: 'http://server.test',
      db,
      fetch: async (input, init) => {
        if (calls++ > 0) throw new TypeError('Failed to fetch')
        return online(input, init)
      },
      now: () => clock,
      retry: { attempts: 2, baseMs: 1, capMs: 2 },
      sleep: async () => undefined,
      random: () => 0,
    })
    await expect(flaky.sync()).rejects.toBeTruthy()
    expect(await db.outbox.count()).toBe(1)
    expect(await db.tasks.count()).toBe(1)
    // Next contact: the window has closed, the hand-in is refused: wipe all the same.
    server.handinRefusals = 1
    await expect(engine.sync()).rejects.toMatchObject({ code: 'user_disabled' })
    expect(server.received).toEqual([])
    expect(await db.outbox.count()).toBe(0)
    expect(events).toContainEqual({ type: 'wiped', code: 'user_disabled' })
  })

  it('wipes on a reused refresh token', async () => {
    server.put(warning(1))
    await engine.sync()
    server.expireAccessTokens()
    const refresh = (await db.state.get('refresh_token'))!.value as string
    server.refreshes.delete(refresh)
    server.spentRefreshes.add(refresh)
    await expect(engine.sync()).rejects.toMatchObject({ code: 'refresh_token_reused' })
    expect(events).toContainEqual({ type: 'wiped', code: 'refresh_token_reused' })
    expect(await db.tasks.count()).toBe(0)
  })

  it('refuses another officer while the last one has unsent records', async () => {
    server.put(warning(1))
    await engine.sync()
    await engine.setNotes('warning', 1, 'x')
    server.userId = 2
    await expect(engine.login('other', 'demo')).rejects.toMatchObject({ code: 'unsent_records' })
    server.userId = 1
    await engine.sync()
    server.userId = 2
    await engine.login('other', 'demo')
    expect(await db.tasks.count()).toBe(0)
    expect((await engine.currentUser())?.id).toBe(2)
  })

  it('reports offline when the network fails', async () => {
    engine = createEngine({
      baseUrl: 'http://server.test',
      db,
      fetch: (async () => {
        throw new TypeError('fetch failed')
      }) as typeof fetch,
      sleep: async () => undefined,
    } as Parameters<typeof createEngine>[0])
    engine.on((event) => events.push(event))
    await expect(engine.sync()).rejects.toMatchObject({ name: 'OfflineError' })
    expect(events.at(-1)).toEqual({ type: 'phase', phase: 'offline', error: null })
  })

  it('runs one sync at a time', async () => {
    server.put(warning(1))
    const [a, b] = [engine.sync(), engine.sync()]
    expect(a).toBe(b)
    await a
  })
})

describe('photos', () => {
  it('uploads in chunks after the visit log and marks the photo done', async () => {
    server.put(warning(1))
    await engine.sync()
    const sha = await engine.addPhoto(new Blob([JPEG]), 'door.jpg')
    expect(await engine.addPhoto(new Blob([JPEG]), 'again.jpg')).toBe(sha)
    await engine.recordVisit('warning', 1, { photos: [sha] })
    const report = await engine.sync()
    expect(report.photosUploaded).toBe(1)
    const row = await db.photos.get(sha)
    expect(row).toMatchObject({ state: 'done', offset: JPEG.length })
    expect(row?.upload_url).toMatch(/^http:\/\/server\.test\/api\/v1\/uploads\/u1$/)
    expect(same(server.photos.get(sha), JPEG)).toBe(true)
    const order = server.requests.map((r) => `${r.method} ${r.path}`)
    const pushed = order.indexOf('POST /api/v1/sync/push')
    expect(pushed).toBeLessThan(order.indexOf('POST /api/v1/uploads/'))
    expect(order.filter((r) => r.startsWith('PATCH'))).toHaveLength(3)
  })

  it('sends no byte of a photo the server holds already', async () => {
    const sha = await engine.addPhoto(new Blob([JPEG]), 'door.jpg')
    server.photos.set(sha, JPEG)
    expect((await engine.sync()).photosUploaded).toBe(1)
    expect((await db.photos.get(sha))?.state).toBe('done')
    expect(server.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0)
  })

  it('resumes from the saved upload URL', async () => {
    const sha = await engine.addPhoto(new Blob([JPEG]), 'door.jpg')
    server.uploads.set('u9', { length: JPEG.length, sha256: sha, bytes: JPEG.slice(0, 262_144) })
    await db.photos.update(sha, { upload_url: 'http://server.test/api/v1/uploads/u9' })
    await engine.sync()
    const created = server.requests.filter((r) => r.method === 'POST' && r.path.includes('uploads'))
    expect(created).toHaveLength(0)
    expect(server.requests.some((r) => r.method === 'HEAD')).toBe(true)
    expect((await db.photos.get(sha))?.state).toBe('done')
    expect(same(server.photos.get(sha), JPEG)).toBe(true)
  })

  it('creates a new upload when the old one is gone', async () => {
    const sha = await engine.addPhoto(new Blob([JPEG]), 'door.jpg')
    server.goneOnNextPatch = true
    await engine.sync()
    expect((await db.photos.get(sha))?.state).toBe('done')
    expect(server.uploads.size).toBe(2)
  })

  it('marks a refused photo rejected with its code', async () => {
    const sha = await engine.addPhoto(new Blob([JPEG]), 'door.jpg')
    await db.photos.update(sha, { filetype: 'text/plain' })
    await engine.sync()
    const row = await db.photos.get(sha)
    expect(row).toMatchObject({ state: 'rejected', code: 'unsupported_image_type' })
  })

  it('refuses what is not a photo', async () => {
    await expect(engine.addPhoto(new Blob(['GIF89a......']), 'a.gif')).rejects.toMatchObject({
      code: 'unsupported_image_type',
    })
  })
})
