// Recording on the phone, offline: a visit or an edit goes into `recorded` (what the
// outbox page shows) and `outbox` (what push sends) in one transaction with a fresh HLC
// tick, so a killed app finds both or neither. Verdicts retire outbox rows the same way.
// The rules are clients/device/local.py's.
import type {
  MutationResult,
  RecordVisit,
  SetField,
  TaskKind,
  VisitEntry,
} from '../api/types'
import { decodeHlc, encodeHlc, merge, tick, zeroHlc } from './hlc'
import type { BeatDB, RecordedRow, StateKey } from './store'

export class UnknownTaskError extends Error {
  readonly code = 'unknown_task'
  constructor(kind: TaskKind, id: number) {
    super(`${kind} ${id} is not on this device`)
    this.name = 'UnknownTaskError'
  }
}

export function isoMs(nowMs: number): string {
  return new Date(nowMs).toISOString()
}

export async function readState<T = unknown>(db: BeatDB, key: StateKey): Promise<T | null> {
  const row = await db.state.get(key)
  return row === undefined ? null : (row.value as T)
}

export async function writeState(db: BeatDB, key: StateKey, value: unknown): Promise<void> {
  if (value === null || value === undefined) await db.state.delete(key)
  else await db.state.put({ key, value })
}

// The device id is set once per install and names the HLC's node.
async function clock(db: BeatDB) {
  const text = await readState<string>(db, 'hlc')
  if (text) return decodeHlc(text)
  const node = await readState<string>(db, 'device_id')
  if (!node) throw new Error('no device id: the engine sets one before anything is recorded')
  return zeroHlc(node)
}

// Call inside a transaction that includes db.state.
export async function tickClock(db: BeatDB, nowMs: number): Promise<string> {
  const next = encodeHlc(tick(await clock(db), nowMs))
  await writeState(db, 'hlc', next)
  return next
}

// Call inside a transaction that includes db.state. A server that sends no usable clock
// orders nothing for us.
export async function mergeClock(db: BeatDB, remote: string | null | undefined, nowMs: number) {
  if (!remote) return
  let theirs
  try {
    theirs = decodeHlc(remote)
  } catch {
    return
  }
  await writeState(db, 'hlc', encodeHlc(merge(await clock(db), theirs, nowMs)))
}

export interface RecordVisitInput {
  kind: TaskKind
  taskId: number
  entry: VisitEntry
  mutationId: string
  nowMs: number
}

export async function recordVisit(db: BeatDB, input: RecordVisitInput): Promise<RecordVisit> {
  return db.transaction('rw', [db.state, db.tasks, db.outbox, db.recorded], async () => {
    await requireTask(db, input.kind, input.taskId)
    const mutation: RecordVisit = {
      type: 'record_visit',
      mutation_id: input.mutationId,
      hlc: await tickClock(db, input.nowMs),
      task_kind: input.kind,
      task_id: input.taskId,
      entry: input.entry,
    }
    await enqueue(db, mutation, input.nowMs, {
      entry_id: input.entry.entry_id,
      entry: input.entry,
    })
    return mutation
  })
}

export interface SetFieldInput {
  kind: TaskKind
  taskId: number
  field: SetField['field']
  value: string | null
  mutationId: string
  nowMs: number
}

export async function setField(db: BeatDB, input: SetFieldInput): Promise<SetField> {
  return db.transaction('rw', [db.state, db.tasks, db.outbox, db.recorded], async () => {
    await requireTask(db, input.kind, input.taskId)
    const base = await fieldBase(db, input.kind, input.taskId, input.field)
    const mutation: SetField = {
      type: 'set_field',
      mutation_id: input.mutationId,
      hlc: await tickClock(db, input.nowMs),
      task_kind: input.kind,
      task_id: input.taskId,
      field: input.field,
      value: input.value,
      base_hlc: base,
    }
    await enqueue(db, mutation, input.nowMs, { field: input.field, value: input.value })
    return mutation
  })
}

async function requireTask(db: BeatDB, kind: TaskKind, id: number): Promise<void> {
  if ((await db.tasks.get([kind, id])) === undefined) throw new UnknownTaskError(kind, id)
}

async function enqueue(
  db: BeatDB,
  mutation: RecordVisit | SetField,
  nowMs: number,
  extra: Partial<RecordedRow>,
): Promise<void> {
  await db.recorded.add({
    mutation_id: mutation.mutation_id,
    type: mutation.type,
    kind: mutation.task_kind,
    task_id: mutation.task_id,
    hlc: mutation.hlc,
    status: 'pending',
    conflict_id: null,
    problem: null,
    created_at: isoMs(nowMs),
    seen: 0,
    ...extra,
  })
  await db.outbox.add({ mutation_id: mutation.mutation_id, mutation })
}

// The HLC of the value this device last saw for the field: the server's, or its own later
// edit when no pull has shown the server's answer to it yet. Once a pull has brought the
// task back after an edit was answered, the server's HLC is the one to build on even if
// the edit's own is higher: the server orders a phone whose clock runs ahead by its own
// clock instead, and stores that.
export async function fieldBase(
  db: BeatDB,
  kind: TaskKind,
  taskId: number,
  field: string,
): Promise<string | null> {
  const seen: string[] = []
  const row = await db.tasks.get([kind, taskId])
  const stored = row?.task.fields?.[field]
  if (stored) seen.push(stored.hlc)
  const mine = await db.recorded
    .where('[kind+task_id]')
    .equals([kind, taskId])
    .filter(
      (r) =>
        r.type === 'set_field' && r.field === field && r.status !== 'rejected' && r.seen === 0,
    )
    .toArray()
  for (const r of mine) seen.push(r.hlc)
  if (!seen.length) return null
  return seen.reduce((a, b) => (b > a ? b : a))
}

export async function outboxBatch(db: BeatDB, limit: number) {
  return db.outbox.orderBy('seq').limit(limit).toArray()
}

// Keep the server's verdicts and retire their mutations, in one transaction: a kill before
// the commit leaves them in the outbox to be sent, and answered, again.
export async function storeVerdicts(
  db: BeatDB,
  results: readonly MutationResult[],
  serverHlc: string,
  nowMs: number,
): Promise<void> {
  await db.transaction('rw', [db.state, db.outbox, db.recorded], async () => {
    const at = isoMs(nowMs)
    for (const result of results) {
      const queued = await db.outbox.where('mutation_id').equals(result.mutation_id).first()
      // Answered before (a replayed batch): the first verdict stays.
      if (queued === undefined) continue
      const recorded = await db.recorded.get(result.mutation_id)
      if (recorded !== undefined) {
        const rejected = result.status === 'rejected'
        await db.recorded.put({
          ...recorded,
          status: result.status,
          conflict_id: result.conflict_id ?? null,
          rule: result.rule ?? null,
          // The server may have ordered the edit by its own clock (this phone's ran ahead):
          // the next edit must build on the HLC the server stored.
          hlc: result.hlc ?? recorded.hlc,
          problem: rejected ? (result.problem ?? { code: 'rejected', detail: '' }) : null,
          answered_at: at,
        })
      }
      if (queued.seq !== undefined) await db.outbox.delete(queued.seq)
    }
    await mergeClock(db, serverHlc, nowMs)
  })
}
