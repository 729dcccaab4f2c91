// The engine against a real beatsync server, when one is named (skipped otherwise):
//   beatsync serve --demo --port 8765 --db /tmp/engine-demo.db
//   BEATSYNC_URL=http://127.0.0.1:8765 npx vitest run src/sync/real-server.test.ts
import { describe, expect, it } from 'vitest'
import { createEngine } from './engine'
import type { EngineEvent } from './engine-contract'
import { localChecksum } from './pull'
import { BeatDB } from './store'

const url = process.env.BEATSYNC_URL
const login = process.env.BEATSYNC_LOGIN ?? 'officer-411602-01-1'
const password = process.env.BEATSYNC_PASSWORD ?? 'demo'

describe.skipIf(!url)('against a real server', () => {
  it('logs in, syncs, records offline, pushes, uploads a photo and follows events', async () => {
    const db = new BeatDB(`real-${Math.random()}`)
    const engine = createEngine({ baseUrl: url!, db })
    const events: EngineEvent[] = []
    engine.on((event) => events.push(event))
    const me = await engine.login(login, password)
    expect(me.login).toBe(login)

    const first = await engine.sync()
    expect(first.checksum).toBe(await localChecksum(db))
    const tasks = await db.tasks.orderBy('urgency').toArray()
    expect(tasks.length).toBeGreaterThan(0)
    const task = tasks.find((t) => t.kind === 'warning') ?? tasks[0]!

    const photo = new Uint8Array(300_000).fill(9)
    photo.set([0xff, 0xd8, 0xff, 0xe0])
    photo.set(crypto.getRandomValues(new Uint8Array(64)), 16)
    const sha = await engine.addPhoto(new Blob([photo], { type: 'image/jpeg' }), 'door.jpg')
    const entryId = await engine.recordVisit(task.kind, task.id, {
      arrived_at: new Date().toISOString(),
      notes: 'engine test',
      photos: [sha],
      ...(task.kind === 'warning' ? { contact: 'phone' as const } : { attendance: 3 }),
    })
    await engine.setNotes(task.kind, task.id, 'notes from the web engine')
    const second = await engine.sync()
    expect(second.pushed).toBe(2)
    expect(second.rejected).toBe(0)
    expect(second.photosUploaded).toBe(1)
    expect((await db.photos.get(sha))?.state).toBe('done')
    const after = await db.tasks.get([task.kind, task.id])
    expect(after?.visits.some((v) => v.entry_id === entryId)).toBe(true)
    expect(after?.task.fields?.officer_notes?.value).toBe('notes from the web engine')
    expect(await db.outbox.count()).toBe(0)

    engine.start()
    await new Promise((resolve) => setTimeout(resolve, 1500))
    engine.stop()
    expect((await db.state.get('event_seq')) ?? null).not.toBeUndefined()
    expect(events.some((e) => e.type === 'phase' && e.phase === 'error')).toBe(false)
    await engine.logout()
    expect(await engine.currentUser()).toBeNull()

    // Another device with the same photo: the server holds it already.
    const other = createEngine({ baseUrl: url!, db: new BeatDB(`real-${Math.random()}`) })
    await other.login(login, password)
    await other.addPhoto(new Blob([photo]), 'same.jpg')
    expect((await other.sync()).photosUploaded).toBe(1)
    expect((await other.db.photos.get(sha))?.state).toBe('done')
  }, 30_000)
})
