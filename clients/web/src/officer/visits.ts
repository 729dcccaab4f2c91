// A task's visit log as the officer sees it: what the server holds (with reviews and
// flags) and, on top, what this phone recorded that no pull has brought back yet.
import type { Material, Position, VisitOut } from '../api/types'
import type { MutationStatus, RecordedRow, TaskRow } from '../sync/store'

export interface LogEntry {
  entry_id: string
  recorded_at: string
  arrived_at: string | null
  contact: string | null
  outcome: string | null
  amount_prevented: number | null
  notes: string | null
  position: Position | null
  photos: string[]
  held_at: string | null
  attendance: number | null
  materials: Material[]
  completed: boolean
  supersedes: string | null
  superseded_by: string | null
  flags: string[]
  review: VisitOut['review'] | null
  mine: boolean
  // 'server' once a pull has brought it; otherwise where this phone's copy stands.
  status: 'server' | MutationStatus
  problemCode: string | null
  conflictId: number | null
}

export function visitLog(row: TaskRow, recorded: readonly RecordedRow[], userId: number | null): LogEntry[] {
  const byEntry = new Map(recorded.filter((r) => r.entry_id).map((r) => [r.entry_id as string, r]))
  const out: LogEntry[] = row.visits.map((v) => {
    const mineHere = byEntry.get(v.entry_id)
    return {
      entry_id: v.entry_id,
      recorded_at: v.recorded_at,
      arrived_at: v.arrived_at ?? null,
      contact: v.contact ?? null,
      outcome: v.outcome ?? null,
      amount_prevented: v.amount_prevented ?? null,
      notes: v.notes ?? null,
      position: v.position ?? null,
      photos: v.photos ?? [],
      held_at: v.held_at ?? null,
      attendance: v.attendance ?? null,
      materials: v.materials ?? [],
      completed: v.completed,
      supersedes: v.supersedes ?? null,
      superseded_by: v.superseded_by ?? null,
      flags: v.flags ?? [],
      review: v.review ?? null,
      mine: userId !== null ? v.officer_id === userId : mineHere !== undefined,
      status: 'server',
      problemCode: null,
      conflictId: mineHere?.conflict_id ?? null,
    }
  })
  const onServer = new Set(out.map((e) => e.entry_id))
  for (const r of recorded) {
    const e = r.entry
    if (r.type !== 'record_visit' || !e || onServer.has(e.entry_id)) continue
    out.push({
      entry_id: e.entry_id,
      recorded_at: e.recorded_at,
      arrived_at: e.arrived_at ?? null,
      contact: e.contact ?? null,
      outcome: e.outcome ?? null,
      amount_prevented: e.amount_prevented ?? null,
      notes: e.notes ?? null,
      position: e.position ?? null,
      photos: e.photos ?? [],
      held_at: e.held_at ?? null,
      attendance: e.attendance ?? null,
      materials: e.materials ?? [],
      completed: e.completed,
      supersedes: e.supersedes ?? null,
      superseded_by: null,
      flags: [],
      review: null,
      mine: true,
      status: r.status,
      problemCode: r.problem?.code ?? null,
      conflictId: r.conflict_id ?? null,
    })
  }
  // A correction recorded here supersedes its entry before the server says so; a
  // rejected one never did.
  for (const e of out) {
    if (!e.supersedes || e.status === 'rejected') continue
    const old = out.find((o) => o.entry_id === e.supersedes)
    if (old && !old.superseded_by) old.superseded_by = e.entry_id
  }
  return out.sort((a, b) => (a.recorded_at < b.recorded_at ? 1 : a.recorded_at > b.recorded_at ? -1 : 0))
}

export function isReturned(e: LogEntry): boolean {
  return e.review?.decision === 'returned'
}
