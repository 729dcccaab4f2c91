// What the officer app asks of the sync engine, and what the engine tells it. The engine
// (engine.ts) is plain TypeScript: no Vue, no DOM beyond fetch, IndexedDB, Blob and the
// online/offline events. Pages read the device's data through Dexie's liveQuery on
// engine.db; they call these methods to change anything.
import type { ContactMethod, Material, MeOut, Outcome, Position, TaskKind } from '../api/types'
import type { BeatDB } from './store'

// What the officer fills in; the engine adds entry_id, recorded_at and the mutation.
export interface VisitDraft {
  supersedes?: string | null
  // warnings
  arrived_at?: string | null
  contact?: ContactMethod | null
  outcome?: Outcome | null
  amount_prevented?: number | null
  notes?: string | null
  position?: Position | null
  photos?: string[]
  // publicity
  held_at?: string | null
  attendance?: number | null
  materials?: Material[]
  completed?: boolean
}

export type SyncPhase = 'idle' | 'syncing' | 'offline' | 'error'

export interface SyncReport {
  pushed: number
  applied: number
  conflicts: number
  rejected: number
  photosUploaded: number
  upserts: number
  removes: number
  resyncs: number
  checksum: string | null
}

export type EngineEvent =
  // Local data was wiped (revoked device, disabled user, reused refresh token): show login.
  | { type: 'wiped'; code: string }
  // The session ended without a wipe (refresh token expired): show login, keep records.
  | { type: 'signed_out'; code: string }
  | { type: 'phase'; phase: SyncPhase; error?: string | null }
  // Tasks that arrived on the device during a pull and were not there before.
  | { type: 'new_tasks'; tasks: { kind: TaskKind; id: number }[] }
  | { type: 'synced'; report: SyncReport }

export interface EngineOptions {
  baseUrl: string
  db: BeatDB
  fetch?: typeof fetch
  now?: () => number
  newId?: () => string
}

export interface SyncEngine {
  readonly db: BeatDB
  deviceId(): Promise<string>
  currentUser(): Promise<MeOut | null>
  // Throws a ProblemError (api/problems.ts) with the server's code on refusal
  // (password_change_required: an initial password, good only for choosePassword).
  login(login: string, password: string): Promise<MeOut>
  // One's own password, chosen with an initial (or the current) one; no session needed.
  choosePassword(login: string, password: string, newPassword: string): Promise<void>
  logout(): Promise<void>
  recordVisit(kind: TaskKind, taskId: number, draft: VisitDraft): Promise<string>
  // Keeps the photo as a blob and queues it; returns its sha256. Refuses a file that is
  // not JPEG, PNG, HEIC/HEIF or WebP by its first bytes (sync/photos.py's rule).
  addPhoto(blob: Blob, filename: string): Promise<string>
  setNotes(kind: TaskKind, taskId: number, value: string | null): Promise<string>
  // Push, upload photos, pull. Calls made while one runs share it.
  sync(): Promise<SyncReport>
  // Follow the event stream (long-poll when it breaks), sync on every change, on coming
  // back online and every few minutes; stop() ends it all.
  start(): void
  stop(): void
  on(listener: (event: EngineEvent) => void): () => void
}
