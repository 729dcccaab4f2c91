// Pulling the scope (PROTOCOL.md, Pull): page through the changes since the cursor, each
// page applied together with its cursor in one transaction; on a checksum mismatch or a
// `410 resync_required`, pull everything from zero and drop what that snapshot did not
// hold. The rules are clients/device/local.py's apply_page and client.py's pull.
import type { ApiClient } from '../api/client'
import { ProblemError, ProtocolError } from '../api/problems'
import type { PublicityTask, TaskKind, VisitOut, WarningTask } from '../api/types'
import { checksumOf } from './checksum'
import { mergeClock, readState, writeState } from './outbox'
import { type BeatDB, type TaskRow, urgencyKey } from './store'

export const PULL_PAGE = 200
// Resyncs from zero one pull may do before it gives up: one is always enough unless the
// server and the device disagree on what a scope holds, which is a bug to report.
export const MAX_RESYNCS = 2

export class ChecksumMismatchError extends Error {
  readonly code = 'checksum_mismatch'
  constructor(
    readonly local: string,
    readonly server: string,
  ) {
    super(`local checksum ${local} != server checksum ${server} after resync`)
    this.name = 'ChecksumMismatchError'
  }
}

type KnownChange =
  | { type: 'upsert'; task: WarningTask | PublicityTask; visits: VisitOut[] }
  | { type: 'remove'; kind: TaskKind; id: number }

export interface PageOutcome {
  upserts: number
  removes: number
  // Changes of a type this version does not know; the checksum catches what they hide.
  ignored: number
  // The local checksum after the page; only computed on the last page of a pull.
  checksum: string | null
  // Tasks this page brought that were not on the device before it.
  added: { kind: TaskKind; id: number }[]
}

export interface PullSummary {
  pages: number
  upserts: number
  removes: number
  ignored: number
  resyncs: number
  mismatches: number
  checksum: string | null
  added: { kind: TaskKind; id: number }[]
}

function isKind(value: unknown): value is TaskKind {
  return value === 'warning' || value === 'publicity'
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value)
}

// A change of a type (or a task kind) this version does not know is skipped alone.
export function decodeChange(raw: unknown): KnownChange | null {
  if (!raw || typeof raw !== 'object') return null
  const change = raw as Record<string, unknown>
  if (change.type === 'upsert') {
    const task = change.task as Record<string, unknown> | null | undefined
    if (!task || !isKind(task.kind) || !isId(task.id) || !isId(task.version)) return null
    const visits = Array.isArray(change.visits) ? (change.visits as VisitOut[]) : []
    return { type: 'upsert', task: task as unknown as WarningTask | PublicityTask, visits }
  }
  if (change.type === 'remove' && isKind(change.kind) && isId(change.id)) {
    return { type: 'remove', kind: change.kind, id: change.id }
  }
  return null
}

// Forget the cursor and start tracking which tasks the coming snapshot holds; the tasks
// themselves stay on show until the snapshot is complete.
export async function startFromZero(db: BeatDB): Promise<void> {
  await db.transaction('rw', [db.state, db.snapshot_seen], async () => {
    await writeState(db, 'cursor', null)
    await writeState(db, 'snapshot_open', 1)
    await db.snapshot_seen.clear()
  })
}

// The task and everything about its resident go; what the officer recorded on it and has
// not yet sent stays, because that is the officer's, and so do the verdicts the officer
// must still see (rejected, or applied with a conflict: the reference client keeps those
// in tables of their own). Photos stay until uploaded.
async function dropTask(db: BeatDB, kind: TaskKind, id: number): Promise<void> {
  await db.tasks.delete([kind, id])
  const rows = await db.recorded.where('[kind+task_id]').equals([kind, id]).toArray()
  for (const row of rows) {
    if (row.status === 'rejected' || row.status === 'conflict') continue
    const queued = await db.outbox.where('mutation_id').equals(row.mutation_id).count()
    if (!queued) await db.recorded.delete(row.mutation_id)
  }
}

// Read from the keys of an index alone: a checksum of 2,000 tasks must not load 2,000
// residents' records to hash three numbers of each.
export async function localChecksum(db: BeatDB): Promise<string> {
  const keys = (await db.tasks.orderBy('[kind+id+version]').keys()) as unknown as [
    string,
    number,
    number,
  ][]
  return checksumOf(keys)
}

type Key = [TaskKind, number]

// Apply one pulled page and keep its cursor, in one transaction. During a pull from zero
// every upserted task is noted; when the pull is caught up, the tasks the server did not
// send are dropped (they left the scope while this device was not looking).
//
// Within a page only the last change of each task counts (a later change replaces what
// an earlier one wrote), so the page is written in bulk: one request per table, not
// several per task, which is what makes a first pull of thousands of tasks quick.
export async function applyPage(
  db: BeatDB,
  rawChanges: readonly unknown[],
  cursor: string,
  hasMore: boolean,
  serverHlc: string | null | undefined,
  nowMs: number,
): Promise<PageOutcome> {
  const tables = [db.state, db.tasks, db.recorded, db.outbox, db.snapshot_seen]
  return db.transaction('rw', tables, async () => {
    let upserts = 0
    let removes = 0
    let ignored = 0
    const last = new Map<string, KnownChange>()
    for (const raw of rawChanges) {
      const change = decodeChange(raw)
      if (change === null) {
        ignored++
        continue
      }
      const key = change.type === 'upsert' ? `${change.task.kind}:${change.task.id}` : `${change.kind}:${change.id}`
      if (change.type === 'upsert') upserts++
      else removes++
      last.delete(key) // keep the map in page order of each task's last change
      last.set(key, change)
    }
    const fromZero = (await readState(db, 'snapshot_open')) === 1
    const stored: TaskRow[] = []
    const removed: Key[] = []
    for (const change of last.values()) {
      if (change.type === 'upsert') {
        const { task } = change
        stored.push({
          kind: task.kind,
          id: task.id,
          version: task.version,
          urgency: urgencyKey(task),
          task,
          visits: change.visits,
        })
      } else {
        removed.push([change.kind, change.id])
      }
    }
    const storedKeys: Key[] = stored.map((row) => [row.kind, row.id])
    const before = await db.tasks.bulkGet(storedKeys)
    const added = storedKeys
      .filter((_, i) => before[i] === undefined)
      .map(([kind, id]) => ({ kind, id }))
    for (const [kind, id] of removed) await dropTask(db, kind, id)
    if (stored.length) {
      await db.tasks.bulkPut(stored)
      // Edits answered before this copy was read are in it, or lost to what is.
      await db.recorded
        .where('[kind+task_id]')
        .anyOf(storedKeys)
        .filter((r) => r.type === 'set_field' && r.status !== 'pending')
        .modify({ seen: 1 })
    }
    if (fromZero) {
      if (stored.length) await db.snapshot_seen.bulkPut(storedKeys.map(([kind, id]) => ({ kind, id })))
      if (removed.length) await db.snapshot_seen.bulkDelete(removed)
    }
    await writeState(db, 'cursor', cursor)
    await mergeClock(db, serverHlc, nowMs)
    let checksum: string | null = null
    if (!hasMore) {
      if (fromZero) {
        const seen = new Set(
          ((await db.snapshot_seen.toCollection().primaryKeys()) as Key[]).map(([k, i]) => `${k}:${i}`),
        )
        const held = (await db.tasks.toCollection().primaryKeys()) as Key[]
        for (const [kind, id] of held) {
          if (!seen.has(`${kind}:${id}`)) await dropTask(db, kind, id)
        }
        await db.snapshot_seen.clear()
        await writeState(db, 'snapshot_open', null)
      }
      checksum = await localChecksum(db)
    }
    return { upserts, removes, ignored, checksum, added }
  })
}

// Page through the changes since the cursor until caught up, then check the checksum.
export async function pull(
  db: BeatDB,
  api: ApiClient,
  now: () => number,
  pageSize: number = PULL_PAGE,
): Promise<PullSummary> {
  const summary: PullSummary = {
    pages: 0,
    upserts: 0,
    removes: 0,
    ignored: 0,
    resyncs: 0,
    mismatches: 0,
    checksum: null,
    added: [],
  }
  const added = new Map<string, { kind: TaskKind; id: number }>()
  for (;;) {
    const cursor = await readState<string>(db, 'cursor')
    if (cursor === null) await startFromZero(db)
    let page
    try {
      page = await api.pull(cursor, pageSize)
    } catch (error) {
      if (
        !(error instanceof ProblemError) ||
        error.code !== 'resync_required' ||
        summary.resyncs >= MAX_RESYNCS
      ) {
        throw error
      }
      summary.resyncs++
      await startFromZero(db)
      continue
    }
    const changes: unknown[] = Array.isArray(page?.changes) ? page.changes : []
    if (typeof page?.cursor !== 'string' || typeof page.has_more !== 'boolean') {
      throw new ProtocolError('pull answer does not decode')
    }
    const outcome = await applyPage(db, changes, page.cursor, page.has_more, page.server_hlc, now())
    summary.pages++
    summary.upserts += outcome.upserts
    summary.removes += outcome.removes
    summary.ignored += outcome.ignored
    for (const task of outcome.added) added.set(`${task.kind}:${task.id}`, task)
    if (page.has_more) continue
    summary.checksum = outcome.checksum
    if (!page.checksum || page.checksum === outcome.checksum) {
      // A task that came and went within this pull was never shown: not new.
      const present = await db.tasks.bulkGet([...added.values()].map((t) => [t.kind, t.id]))
      summary.added = [...added.values()].filter((_, i) => present[i] !== undefined)
      return summary
    }
    if (summary.resyncs >= MAX_RESYNCS) {
      throw new ChecksumMismatchError(outcome.checksum ?? '', page.checksum)
    }
    summary.resyncs++
    summary.mismatches++
    await startFromZero(db)
  }
}
