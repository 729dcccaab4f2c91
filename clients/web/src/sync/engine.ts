// The sync engine the officer app codes against (engine-contract.ts): recording offline,
// push, photo uploads and pull as one single-flight sync(), and the triggers that run it
// (the event stream, coming back online, a timer). Behaves as the reference client,
// clients/device/client.py; the server's rules are sync/PROTOCOL.md.
import { ApiClient, type RetryPolicy } from '../api/client'
import { OfflineError, ProblemError } from '../api/problems'
import type { MeOut, TaskKind, VisitEntry } from '../api/types'
import type {
  EngineEvent,
  EngineOptions,
  SyncEngine,
  SyncPhase,
  SyncReport,
  VisitDraft,
} from './engine-contract'
import { EventFollower } from './events'
import { newDeviceId, newId as makeId } from './ids'
import { isoMs, readState, recordVisit, setField, writeState } from './outbox'
import { sha256Hex, sniffBlob } from './photos'
import { pull } from './pull'
import { handIn, push } from './push'
import { type BeatDB, KEPT_ON_WIPE, type StateKey } from './store'
import { uploadPhotos } from './uploads'

export const SYNC_EVERY_MS = 2 * 60 * 1000

// Knobs for tests and special builds; the app passes none of them.
export interface EngineTuning {
  deviceName?: string
  retry?: RetryPolicy
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  syncEveryMs?: number
  // false: start() does not follow the event stream (the timer and `online` still sync).
  followEvents?: boolean
}

// Another officer signs in while this device still holds records of the last one: they
// must sign in and sync first, or the records would go up under the wrong name.
export class UnsentRecordsError extends Error {
  readonly code = 'unsent_records'
  constructor() {
    super('this device holds unsent records of another officer: they must sign in and sync first')
    this.name = 'UnsentRecordsError'
  }
}

export class NotSignedInError extends Error {
  readonly code = 'not_signed_in'
  constructor() {
    super('no session on this device: sign in first')
    this.name = 'NotSignedInError'
  }
}

export class UnsupportedPhotoError extends Error {
  readonly code = 'unsupported_image_type'
  constructor() {
    super('not a JPEG, PNG, HEIC/HEIF or WebP photo')
    this.name = 'UnsupportedPhotoError'
  }
}

function errorCode(error: unknown): string {
  if (error instanceof ProblemError) return error.code
  if (error instanceof OfflineError) return 'offline'
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'internal_error'
}

function deviceName(): string {
  const agent = typeof navigator !== 'undefined' ? navigator.userAgent : ''
  return (agent || 'web').slice(0, 128)
}

class Engine implements SyncEngine {
  readonly db: BeatDB
  private readonly api: ApiClient
  private readonly now: () => number
  private readonly newId: () => string
  private readonly tuning: EngineTuning
  private readonly listeners = new Set<(event: EngineEvent) => void>()
  private readonly follower: EventFollower
  private running: Promise<SyncReport> | null = null
  private started = false
  private timer: ReturnType<typeof setInterval> | null = null
  private readonly onOnline = () => this.background()

  constructor(options: EngineOptions & EngineTuning) {
    this.db = options.db
    this.now = options.now ?? Date.now
    this.newId = options.newId ?? (() => makeId(this.now()))
    this.tuning = options
    this.api = new ApiClient({
      baseUrl: options.baseUrl,
      db: options.db,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.random ? { random: options.random } : {}),
      onWipe: (code, handinToken) => this.wipe(code, handinToken),
      onSignedOut: async (code) => {
        this.stop()
        this.emit({ type: 'signed_out', code })
      },
    })
    this.follower = new EventFollower({
      db: this.db,
      api: this.api,
      onChange: () => this.syncForEvent(),
      onFatal: () => undefined,
      ...(options.random ? { random: options.random } : {}),
    })
  }

  on(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(event: EngineEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event)
      } catch (error) {
        // A page's listener failing must not stop the engine or the other listeners.
        console.error('engine listener failed', error)
      }
    }
  }

  private phase(phase: SyncPhase, error: string | null = null): void {
    this.emit({ type: 'phase', phase, error })
  }

  // -- session ---------------------------------------------------------------------------

  // Made once per install and kept through wipes: it names this device to the server and
  // is the node of its HLC.
  async deviceId(): Promise<string> {
    return this.db.transaction('rw', this.db.state, async () => {
      const stored = await readState<string>(this.db, 'device_id')
      if (stored) return stored
      const made = newDeviceId()
      await writeState(this.db, 'device_id', made)
      return made
    })
  }

  async currentUser(): Promise<MeOut | null> {
    if (!(await readState<string>(this.db, 'refresh_token'))) {
      if (!(await readState<string>(this.db, 'access_token'))) return null
    }
    return readState<MeOut>(this.db, 'user')
  }

  async choosePassword(login: string, password: string, newPassword: string): Promise<void> {
    await this.api.choosePassword({ login, password, new_password: newPassword })
  }

  async login(login: string, password: string): Promise<MeOut> {
    const device_id = await this.deviceId()
    const tokens = await this.api.login({
      login,
      password,
      device_id,
      device_name: this.tuning.deviceName ?? deviceName(),
    })
    const db = this.db
    await db.transaction('rw', allTables(db), async () => {
      const previous = await readState<MeOut>(db, 'user')
      if (previous && previous.id !== tokens.user.id) {
        const pendingPhotos = await db.photos.where('state').equals('pending').count()
        if ((await db.outbox.count()) || pendingPhotos) throw new UnsentRecordsError()
        await this.clearAll()
      }
      await writeState(db, 'user', tokens.user)
      await writeState(db, 'access_token', tokens.access_token)
      await writeState(db, 'refresh_token', tokens.refresh_token)
    })
    return tokens.user
  }

  // Ends the session on the server when it can be reached; the records stay either way.
  async logout(): Promise<void> {
    this.stop()
    try {
      await this.api.logout()
    } catch {
      // Offline or already ended: the refresh token dies with its expiry anyway.
    } finally {
      await this.db.transaction('rw', this.db.state, async () => {
        await this.db.state.bulkDelete(['access_token', 'refresh_token'])
      })
    }
  }

  // -- recording, offline ----------------------------------------------------------------

  async recordVisit(kind: TaskKind, taskId: number, draft: VisitDraft): Promise<string> {
    await this.deviceId()
    const nowMs = this.now()
    const entry: VisitEntry = {
      entry_id: this.newId(),
      recorded_at: isoMs(nowMs),
      supersedes: draft.supersedes ?? null,
      arrived_at: draft.arrived_at ?? null,
      contact: draft.contact ?? null,
      outcome: draft.outcome ?? null,
      amount_prevented: draft.amount_prevented ?? null,
      notes: draft.notes ?? null,
      position: draft.position ?? null,
      photos: draft.photos ?? [],
      held_at: draft.held_at ?? null,
      attendance: draft.attendance ?? null,
      materials: draft.materials ?? [],
      completed: draft.completed ?? false,
    }
    await recordVisit(this.db, { kind, taskId, entry, mutationId: this.newId(), nowMs })
    this.soon()
    return entry.entry_id
  }

  async addPhoto(blob: Blob, filename: string): Promise<string> {
    const filetype = await sniffBlob(blob)
    if (filetype === null) throw new UnsupportedPhotoError()
    const sha256 = await sha256Hex(blob)
    const db = this.db
    await db.transaction('rw', db.photos, async () => {
      // Taking the same photo twice changes nothing.
      if ((await db.photos.get(sha256)) !== undefined) return
      await db.photos.add({
        sha256,
        blob,
        size: blob.size,
        filename: filename || sha256.slice(0, 12),
        filetype,
        upload_url: null,
        offset: 0,
        state: 'pending',
        code: null,
        added_at: isoMs(this.now()),
      })
    })
    return sha256
  }

  async setNotes(kind: TaskKind, taskId: number, value: string | null): Promise<string> {
    await this.deviceId()
    const mutationId = this.newId()
    await setField(this.db, {
      kind,
      taskId,
      field: 'officer_notes',
      value,
      mutationId,
      nowMs: this.now(),
    })
    this.soon()
    return mutationId
  }

  // -- sync ------------------------------------------------------------------------------

  sync(): Promise<SyncReport> {
    if (!this.running) {
      this.running = this.runSync().finally(() => {
        this.running = null
      })
    }
    return this.running
  }

  // Push, upload photos, then pull: what the officer recorded goes up before the view is
  // refreshed, and a visit log reaches the server before its photos.
  private async runSync(): Promise<SyncReport> {
    this.phase('syncing')
    try {
      if (!(await readState<string>(this.db, 'access_token'))) throw new NotSignedInError()
      await this.deviceId()
      const pushed = await push(this.db, this.api, this.now)
      let photosUploaded = 0
      let photoFailure: unknown = null
      try {
        photosUploaded = (await uploadPhotos(this.db, this.api)).uploaded
      } catch (error) {
        // A photo that cannot go up now must not keep the officer's view stale.
        if (!(error instanceof OfflineError) && !isRetryable(error)) throw error
        photoFailure = error
      }
      const pulled = await pull(this.db, this.api, this.now)
      const report: SyncReport = {
        pushed: pushed.sent,
        applied: pushed.applied,
        conflicts: pushed.conflicts,
        rejected: pushed.rejected,
        photosUploaded,
        upserts: pulled.upserts,
        removes: pulled.removes,
        resyncs: pulled.resyncs,
        checksum: pulled.checksum,
      }
      await this.db.transaction('rw', this.db.state, async () => {
        await writeState(this.db, 'last_sync_at', isoMs(this.now()))
        await writeState(this.db, 'last_sync_error', photoFailure ? errorCode(photoFailure) : null)
      })
      if (pulled.added.length) this.emit({ type: 'new_tasks', tasks: pulled.added })
      this.emit({ type: 'synced', report })
      if (photoFailure instanceof OfflineError) this.phase('offline')
      else if (photoFailure) this.phase('error', errorCode(photoFailure))
      else this.phase('idle')
      return report
    } catch (error) {
      const code = errorCode(error)
      // After a wipe nothing of the session is kept, not even how it ended.
      const wiped = error instanceof ProblemError && error.action === 'wipe'
      if (!wiped) await writeState(this.db, 'last_sync_error', code).catch(() => undefined)
      if (error instanceof OfflineError) this.phase('offline')
      else this.phase('error', code)
      throw error
    }
  }

  // For the event follower: a failure that means "try again later" is thrown so the seq is
  // not stored; anything else was reported as a phase already.
  private async syncForEvent(): Promise<void> {
    try {
      await this.sync()
    } catch (error) {
      if (error instanceof OfflineError || isRetryable(error)) throw error
    }
  }

  private background(): void {
    this.sync().catch(() => undefined)
  }

  // A record just made goes up at once when the engine runs and the network allows.
  private soon(): void {
    if (this.started) this.background()
  }

  start(): void {
    if (this.started) return
    this.started = true
    if (this.tuning.followEvents !== false) this.follower.start()
    if (typeof globalThis.addEventListener === 'function') {
      globalThis.addEventListener('online', this.onOnline)
    }
    this.timer = setInterval(() => this.background(), this.tuning.syncEveryMs ?? SYNC_EVERY_MS)
    // The stream syncs on its first line; without it, sync now.
    if (this.tuning.followEvents === false) this.background()
  }

  stop(): void {
    this.started = false
    this.follower.stop()
    if (typeof globalThis.removeEventListener === 'function') {
      globalThis.removeEventListener('online', this.onOnline)
    }
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  // -- wipe ------------------------------------------------------------------------------

  // Every task, resident detail, record, photo and token goes; the device id and the HLC
  // stay: they describe the install, and the HLC must never run backwards on this node.
  // With a hand-in token, the outbox goes to the server first (PROTOCOL.md, Being cut
  // off); a network failure then leaves everything for the next contact.
  async wipe(code: string, handinToken: string | null = null): Promise<void> {
    if (handinToken) await handIn(this.db, this.api, this.now, handinToken)
    this.stop()
    const db = this.db
    await db.transaction('rw', allTables(db), () => this.clearAll())
    this.emit({ type: 'wiped', code })
  }

  private async clearAll(): Promise<void> {
    const db = this.db
    await Promise.all([
      db.tasks.clear(),
      db.outbox.clear(),
      db.recorded.clear(),
      db.snapshot_seen.clear(),
      db.photos.clear(),
    ])
    const keys = (await db.state.toCollection().primaryKeys()) as StateKey[]
    await db.state.bulkDelete(keys.filter((key) => !KEPT_ON_WIPE.includes(key)))
  }
}

function allTables(db: BeatDB) {
  return [db.state, db.tasks, db.outbox, db.recorded, db.snapshot_seen, db.photos]
}

function isRetryable(error: unknown): boolean {
  return (
    error instanceof ProblemError &&
    (error.status === 408 || error.status === 429 || error.status >= 500)
  )
}

export function createEngine(options: EngineOptions & EngineTuning): SyncEngine {
  return new Engine(options)
}

