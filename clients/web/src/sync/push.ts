// Pushing the outbox (PROTOCOL.md, Push): oldest first, PUSH_BATCH at a time, until it is
// empty. A mutation leaves the outbox only once its verdict is stored; a batch whose
// answer is lost is simply sent again and answered as the first time.
import type { ApiClient } from '../api/client'
import type { PushResponse } from '../api/types'
import { ProblemError, ProtocolError } from '../api/problems'
import { isoMs, outboxBatch, storeVerdicts } from './outbox'
import type { BeatDB } from './store'

export const PUSH_BATCH = 100

export interface PushSummary {
  batches: number
  sent: number
  applied: number
  conflicts: number
  rejected: number
}

// Cut off (device revoked, user disabled): hand the outbox in under the token the server
// gave with its order to wipe (PROTOCOL.md, Being cut off), before the wipe. Stops at any
// refusal (the window closed); a network failure is thrown, so that nothing is wiped
// before the outbox is handed in or refused. Returns how many mutations got a verdict.
export async function handIn(
  db: BeatDB,
  api: ApiClient,
  now: () => number,
  token: string,
  batchSize: number = PUSH_BATCH,
): Promise<number> {
  let handed = 0
  for (;;) {
    const batch = await outboxBatch(db, batchSize)
    if (!batch.length) return handed
    const ids = batch.map((row) => row.mutation_id)
    const mutations = batch.map((row) => row.mutation)
    let answer: PushResponse
    try {
      answer = await api.handIn(token, () => ({ device_time: isoMs(now()), mutations }))
    } catch (error) {
      if (error instanceof ProblemError) return handed
      throw error
    }
    const results = Array.isArray(answer?.results) ? answer.results : null
    if (results === null || results.some((result, i) => result?.mutation_id !== ids[i])) {
      return handed
    }
    await storeVerdicts(db, results, answer.server_hlc, now())
    handed += ids.length
  }
}

export async function push(
  db: BeatDB,
  api: ApiClient,
  now: () => number,
  batchSize: number = PUSH_BATCH,
): Promise<PushSummary> {
  const summary: PushSummary = { batches: 0, sent: 0, applied: 0, conflicts: 0, rejected: 0 }
  for (;;) {
    const batch = await outboxBatch(db, batchSize)
    if (!batch.length) return summary
    const ids = batch.map((row) => row.mutation_id)
    const mutations = batch.map((row) => row.mutation)
    // Built per attempt: the server measures the phone's clock offset from device_time.
    const answer = await api.push(() => ({ device_time: isoMs(now()), mutations }))
    const results = Array.isArray(answer?.results) ? answer.results : null
    if (
      results === null ||
      results.length !== ids.length ||
      results.some((result, i) => result?.mutation_id !== ids[i])
    ) {
      throw new ProtocolError('push verdicts do not match the mutations sent')
    }
    await storeVerdicts(db, results, answer.server_hlc, now())
    summary.batches++
    summary.sent += ids.length
    for (const result of results) {
      if (result.status === 'applied') summary.applied++
      else if (result.status === 'conflict') summary.conflicts++
      else if (result.status === 'rejected') summary.rejected++
    }
  }
}
