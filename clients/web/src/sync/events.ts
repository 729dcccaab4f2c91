// Being told in seconds (PROTOCOL.md): follow `GET /api/v1/sync/events` and call
// onChange on every scope change; after repeated breaks long-poll `/sync/wait` instead,
// and try the stream again later. The loop is clients/device/client.py's follow_events.
// fetch + a stream reader, not EventSource: the stream needs the Authorization header.
import { type ApiClient, RETRY_STATUSES, backoffMs } from '../api/client'
import { OfflineError, ProblemError } from '../api/problems'
import { readState, writeState } from './outbox'
import type { BeatDB } from './store'

// The server pings every 15 s; a stream silent for this long is dead.
export const STREAM_SILENCE_MS = 45_000

export interface ServerSentEvent {
  event: string
  data: string
  id: string | null
}

// The WHATWG event-stream format, the parts the server uses: event, data, id, retry and
// comment lines. Feed it lines; it returns an event at the blank line that ends one.
export class EventStreamParser {
  private event = ''
  private data: string[] = []
  private id: string | null = null
  retryMs: number | null = null

  feed(line: string): ServerSentEvent | null {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return null // a comment: the server's heartbeat
    const colon = line.indexOf(':')
    const name = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (name === 'event') this.event = value
    else if (name === 'data') this.data.push(value)
    else if (name === 'id' && !value.includes('\0')) this.id = value
    else if (name === 'retry' && /^[0-9]+$/.test(value)) this.retryMs = Number(value)
    return null
  }

  private dispatch(): ServerSentEvent | null {
    const { event, data, id } = this
    this.event = ''
    this.data = []
    if (!data.length && !event) return null
    return { event: event || 'message', data: data.join('\n'), id }
  }
}

// Splits a byte stream into lines (CRLF, LF or CR), whatever the chunk boundaries.
export class LineSplitter {
  private readonly decoder = new TextDecoder()
  private buffer = ''
  private lastWasCr = false

  push(chunk: Uint8Array): string[] {
    let text = this.decoder.decode(chunk, { stream: true })
    if (this.lastWasCr && text.startsWith('\n')) text = text.slice(1)
    this.buffer += text
    const lines: string[] = []
    const pattern = /\r\n|\n|\r/g
    let start = 0
    for (let match = pattern.exec(this.buffer); match; match = pattern.exec(this.buffer)) {
      // A CR at the very end may be the first half of a CRLF split across chunks.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) {
        lines.push(this.buffer.slice(start, match.index))
        start = this.buffer.length
        this.lastWasCr = true
        this.buffer = ''
        return lines
      }
      lines.push(this.buffer.slice(start, match.index))
      start = match.index + match[0].length
    }
    this.lastWasCr = false
    this.buffer = this.buffer.slice(start)
    return lines
  }
}

export function eventSeq(event: ServerSentEvent): number | null {
  if (event.id && /^[0-9]+$/.test(event.id)) return Number(event.id)
  try {
    const seq: unknown = JSON.parse(event.data)?.seq
    return typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : null
  } catch {
    return null
  }
}

export interface FollowOptions {
  db: BeatDB
  api: ApiClient
  // Usually a sync; the seq is stored only after it returns, so a change is never marked
  // seen before it was handled.
  onChange: (seq: number) => Promise<void>
  // Anything that ends the follow (a lost session, a wipe): the engine decides.
  onFatal?: (error: unknown) => void
  random?: () => number
  pollTimeoutS?: number
  failuresBeforePolling?: number
  pollsBeforeStreamingAgain?: number
  silenceMs?: number
  backoff?: { attempts: number; baseMs: number; capMs: number }
}

class StreamUnavailable extends Error {}
class StreamSilent extends Error {}

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
  })
}

export class EventFollower {
  private controller: AbortController | null = null
  private readonly options: Required<Omit<FollowOptions, 'onFatal'>> &
    Pick<FollowOptions, 'onFatal'>

  constructor(options: FollowOptions) {
    this.options = {
      random: Math.random,
      pollTimeoutS: 25,
      failuresBeforePolling: 3,
      pollsBeforeStreamingAgain: 20,
      silenceMs: STREAM_SILENCE_MS,
      backoff: { attempts: 0, baseMs: 500, capMs: 30_000 },
      ...options,
    }
  }

  get running(): boolean {
    return this.controller !== null
  }

  start(): void {
    if (this.controller) return
    const controller = new AbortController()
    this.controller = controller
    void this.loop(controller.signal).then(
      () => undefined,
      (error: unknown) => {
        if (this.controller === controller) this.controller = null
        if (!controller.signal.aborted) this.options.onFatal?.(error)
      },
    )
  }

  stop(): void {
    this.controller?.abort()
    this.controller = null
  }

  private async loop(signal: AbortSignal): Promise<void> {
    const o = this.options
    let failures = 0
    let polls = 0
    let backoff = 0
    while (!signal.aborted) {
      let atLeast = 0
      try {
        if (failures < o.failuresBeforePolling) {
          const { healthy, retryMs } = await this.stream(signal)
          atLeast = retryMs ?? 0
          failures = healthy ? 0 : failures + 1
          if (healthy) backoff = 0
        } else {
          await this.waitOnce(signal)
          backoff = 0
          polls++
          if (polls >= o.pollsBeforeStreamingAgain) failures = polls = 0
          continue // the server did the waiting
        }
      } catch (error) {
        if (signal.aborted) return
        if (error instanceof StreamUnavailable) {
          failures = o.failuresBeforePolling
          continue
        }
        if (!isTransient(error)) throw error
        if (failures < o.failuresBeforePolling) failures++
      }
      await abortable(Math.max(atLeast, backoffMs(backoff, o.backoff, o.random)), signal)
      backoff = Math.min(backoff + 1, 10)
    }
  }

  // One connection of the event stream: whether it carried anything, and its retry.
  private async stream(signal: AbortSignal): Promise<{ healthy: boolean; retryMs: number | null }> {
    const o = this.options
    const last = (await readState<number>(o.db, 'event_seq')) ?? 0
    const parser = new EventStreamParser()
    const connection = new AbortController()
    const forward = () => connection.abort()
    signal.addEventListener('abort', forward)
    let body: ReadableStream<Uint8Array>
    try {
      body = await o.api.events(last, connection.signal)
    } catch (error) {
      signal.removeEventListener('abort', forward)
      if (error instanceof ProblemError) {
        if (error.status === 404 || error.status === 405) throw new StreamUnavailable()
        if (RETRY_STATUSES.has(error.status)) return { healthy: false, retryMs: null }
      }
      throw error
    }
    const reader = body.getReader()
    const lines = new LineSplitter()
    // Without an event id the server only tells of changes after it subscribed us, which
    // its first line proves; whatever changed before is fetched then.
    let catchUp = !last
    let healthy = false
    try {
      for (;;) {
        const chunk = await this.readWithin(reader, connection)
        if (chunk.done) break
        for (const line of lines.push(chunk.value)) {
          healthy = true
          if (catchUp) {
            catchUp = false
            await o.onChange(0)
          }
          const event = parser.feed(line)
          if (event?.event === 'scope_changed') await this.changed(eventSeq(event))
          if (signal.aborted) break
        }
        if (signal.aborted) break
      }
    } finally {
      signal.removeEventListener('abort', forward)
      connection.abort()
      reader.releaseLock()
    }
    return { healthy, retryMs: parser.retryMs }
  }

  private readWithin(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    connection: AbortController,
  ): Promise<ReadableStreamReadResult<Uint8Array>> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        connection.abort()
        reject(new StreamSilent('event stream silent'))
      }, this.options.silenceMs)
    })
    return Promise.race([reader.read(), silent]).finally(() => clearTimeout(timer))
  }

  private async waitOnce(signal: AbortSignal): Promise<void> {
    const o = this.options
    const after = (await readState<number>(o.db, 'event_seq')) ?? 0
    const answer = await o.api.wait(after, o.pollTimeoutS, signal)
    if (answer.changed) await this.changed(answer.seq)
  }

  private async changed(seq: number | null): Promise<void> {
    await this.options.onChange(seq ?? 0)
    if (seq) {
      const db = this.options.db
      await db.transaction('rw', db.state, async () => {
        if (seq > ((await readState<number>(db, 'event_seq')) ?? 0)) {
          await writeState(db, 'event_seq', seq)
        }
      })
    }
  }
}

function isTransient(error: unknown): boolean {
  if (error instanceof OfflineError || error instanceof StreamSilent) return true
  if (error instanceof ProblemError) return RETRY_STATUSES.has(error.status)
  // A stream cut mid-read surfaces as the platform's own error (TypeError, AbortError).
  if (error instanceof TypeError) return true
  return error instanceof DOMException && error.name === 'AbortError'
}
