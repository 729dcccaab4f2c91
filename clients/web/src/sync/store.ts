// The phone's own database (IndexedDB through Dexie): the officer's scope, the outbox and
// everything the engine must remember across a closed app. Pages read it through
// liveQuery; only the sync engine writes it.
//
// Schema versions only ever grow (Dexie upgrades a phone's database in place): a new
// version keeps every table of the last one, so an outbox is never lost to an update.
import Dexie, { type Table } from 'dexie'
import type {
  Mutation,
  MutationProblem,
  Task,
  TaskKind,
  VisitEntry,
  VisitOut,
} from '../api/types'

export interface StateRow {
  key: StateKey
  value: unknown
}

// What the engine keeps between runs. The device id and the HLC describe the install,
// not the officer: they survive a wipe, and the HLC must never run backwards.
export type StateKey =
  | 'device_id'
  | 'hlc'
  | 'access_token'
  | 'refresh_token'
  | 'user'
  | 'cursor'
  | 'snapshot_open'
  | 'event_seq'
  | 'last_sync_at'
  | 'last_sync_error'

export const KEPT_ON_WIPE: readonly StateKey[] = ['device_id', 'hlc']

export interface TaskRow {
  kind: TaskKind
  id: number
  version: number
  // Open tasks first, soonest deadline first, then closed ones (see urgencyKey).
  urgency: string
  task: Task
  visits: VisitOut[]
}

export type MutationStatus = 'pending' | 'applied' | 'conflict' | 'rejected'

export interface OutboxRow {
  seq?: number
  mutation_id: string
  mutation: Mutation
}

// Every mutation made on this device that it still keeps, with the server's verdict:
// what the outbox page shows. It names the task by kind and id only, never by the
// resident, so it may outlive the task on the device.
export interface RecordedRow {
  mutation_id: string
  type: 'record_visit' | 'set_field'
  kind: TaskKind
  task_id: number
  hlc: string
  entry_id?: string
  entry?: VisitEntry
  field?: string
  value?: string | null
  status: MutationStatus
  conflict_id?: number | null
  // The conflict rule that decided, as the push answered it (older servers do not say).
  rule?: string | null
  problem?: MutationProblem | null
  created_at: string
  answered_at?: string
  // A set_field whose answer a later pull has already shown (PROTOCOL.md, base_hlc).
  seen: 0 | 1
}

export type PhotoState = 'pending' | 'done' | 'rejected'

export interface PhotoRow {
  sha256: string
  blob: Blob
  size: number
  filename: string
  filetype: string
  // The tus upload's Location, kept so a closed app resumes where the server stands.
  upload_url: string | null
  offset: number
  state: PhotoState
  code?: string | null
  added_at: string
}

export interface SnapshotSeenRow {
  kind: TaskKind
  id: number
}

export class BeatDB extends Dexie {
  state!: Table<StateRow, StateKey>
  tasks!: Table<TaskRow, [TaskKind, number]>
  outbox!: Table<OutboxRow, number>
  recorded!: Table<RecordedRow, string>
  snapshot_seen!: Table<SnapshotSeenRow, [TaskKind, number]>
  photos!: Table<PhotoRow, string>

  constructor(name = 'beatsync', options?: ConstructorParameters<typeof Dexie>[1]) {
    super(name, options)
    this.version(1).stores({
      state: 'key',
      tasks: '[kind+id], urgency',
      outbox: '++seq, &mutation_id',
      recorded: 'mutation_id, [kind+task_id], entry_id, status, created_at',
      snapshot_seen: '[kind+id]',
      photos: 'sha256, state',
    })
    // The checksum reads kind, id and version from this index's keys alone.
    this.version(2).stores({
      tasks: '[kind+id], urgency, [kind+id+version]',
    })
  }
}

const OPEN_WARNING = new Set(['new', 'dispatched', 'in_progress'])
const OPEN_PUBLICITY = new Set(['planned', 'in_progress'])

export function isOpen(task: Task): boolean {
  return task.kind === 'warning' ? OPEN_WARNING.has(task.state) : OPEN_PUBLICITY.has(task.status)
}

// The moment a task is due: a warning's deadline, a publicity task's last day (China
// Standard Time, the users' day).
export function dueAt(task: Task): number {
  if (task.kind === 'warning') return Date.parse(task.deadline_at)
  return Date.parse(`${task.window_end}T23:59:59+08:00`)
}

// Sorts as text: open before closed, then by due time, then by kind and id for a stable
// order. Milliseconds are zero-padded so that text order is time order.
export function urgencyKey(task: Task): string {
  const due = String(Math.max(0, dueAt(task))).padStart(15, '0')
  return `${isOpen(task) ? 0 : 1}-${due}-${task.kind}-${String(task.id).padStart(16, '0')}`
}
