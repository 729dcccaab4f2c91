// Following the event stream, and the long-poll fallback (PROTOCOL.md, Being told).
import { describe, expect, it, vi } from 'vitest'
import { ApiClient } from '../api/client'
import { EventFollower, EventStreamParser, LineSplitter, eventSeq } from './events'
import { BeatDB } from './store'

const encoder = new TextEncoder()
const BASE = 'http://s.test'

function streamOf(chunks: string[], keepOpen = false): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
      if (!keepOpen) controller.close()
    },
  })
}

async function signedIn(): Promise<BeatDB> {
  const db = new BeatDB(`events-${Math.random()}`)
  await db.state.bulkPut([
    { key: 'device_id', value: 'web-test' },
    { key: 'access_token', value: 'token' },
  ])
  return db
}

describe('event stream parsing', () => {
  it('splits lines across chunk boundaries, CRLF included', () => {
    const split = new LineSplitter()
    expect(split.push(encoder.encode('event: a\r'))).toEqual(['event: a'])
    expect(split.push(encoder.encode('\ndata: 1\n\nid'))).toEqual(['data: 1', ''])
    expect(split.push(encoder.encode(': 7\r\n'))).toEqual(['id: 7'])
  })

  it('parses events, comments, ids and retry', () => {
    const parser = new EventStreamParser()
    const lines = ['retry: 3000', '', ': ping', '', 'event: scope_changed', 'id: 42']
    lines.push('data: {"seq": 42}', '')
    const events = lines.map((line) => parser.feed(line)).filter((e) => e !== null)
    expect(events).toEqual([{ event: 'scope_changed', data: '{"seq": 42}', id: '42' }])
    expect(parser.retryMs).toBe(3000)
    expect(eventSeq(events[0]!)).toBe(42)
    expect(eventSeq({ event: 'scope_changed', data: '{"seq": 8}', id: null })).toBe(8)
  })
})

describe('following', () => {
  it('syncs on the first line, then on each change, and stores the seq after', async () => {
    const db = await signedIn()
    const seen: { path: string; lastId: string | null }[] = []
    const fetch = async (request: Request) => {
      const lastId = request.headers.get('last-event-id')
      seen.push({ path: new URL(request.url).pathname, lastId })
      if (seen.length > 1) return new Response(streamOf([': ping\n\n'], true), { status: 200 })
      return new Response(
        streamOf([
          'retry: 10\n\n',
          ': ping\n\n',
          'event: scope_changed\nid: 5\ndata: {"seq": 5}\n\n',
        ]),
        { status: 200 },
      )
    }
    const api = new ApiClient({ baseUrl: BASE, db, fetch: fetch as typeof globalThis.fetch })
    const changes: number[] = []
    const follower = new EventFollower({
      db,
      api,
      random: () => 0,
      onChange: async (seq) => {
        // Not stored yet while the change is being handled.
        if (seq) expect((await db.state.get('event_seq'))?.value).toBeUndefined()
        changes.push(seq)
      },
    })
    follower.start()
    await vi.waitFor(() => expect(seen.length).toBe(2))
    follower.stop()
    expect(changes).toEqual([0, 5])
    expect((await db.state.get('event_seq'))?.value).toBe(5)
    expect(seen[1]).toEqual({ path: '/api/v1/sync/events', lastId: '5' })
  })

  it('long-polls after three failures in a row, then tries the stream again', async () => {
    const db = await signedIn()
    const paths: string[] = []
    const fetch = async (request: Request) => {
      const url = new URL(request.url)
      paths.push(url.pathname)
      if (url.pathname.endsWith('/events')) {
        return new Response(JSON.stringify({ code: 'internal_error' }), { status: 503 })
      }
      const after = Number(url.searchParams.get('after'))
      return new Response(JSON.stringify({ seq: after + 1, changed: true }), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      })
    }
    const api = new ApiClient({ baseUrl: BASE, db, fetch: fetch as typeof globalThis.fetch })
    const changes: number[] = []
    const follower = new EventFollower({
      db,
      api,
      random: () => 0,
      pollsBeforeStreamingAgain: 2,
      onChange: async (seq) => {
        changes.push(seq)
      },
    })
    follower.start()
    await vi.waitFor(() => expect(paths.length).toBeGreaterThanOrEqual(6))
    follower.stop()
    const short = paths.slice(0, 6).map((p) => p.split('/').pop())
    expect(short).toEqual(['events', 'events', 'events', 'wait', 'wait', 'events'])
    expect(changes.slice(0, 2)).toEqual([1, 2])
    expect((await db.state.get('event_seq'))?.value).toBeGreaterThanOrEqual(2)
  })

  it('treats a silent stream as dead', async () => {
    const db = await signedIn()
    let connections = 0
    const fetch = async () => {
      connections++
      return new Response(streamOf([], true), { status: 200 })
    }
    const api = new ApiClient({ baseUrl: BASE, db, fetch: fetch as typeof globalThis.fetch })
    const follower = new EventFollower({
      db,
      api,
      random: () => 0,
      silenceMs: 20,
      onChange: async () => undefined,
    })
    follower.start()
    await vi.waitFor(() => expect(connections).toBeGreaterThanOrEqual(2))
    follower.stop()
  })

  it('ends on a lost session and says why', async () => {
    const db = await signedIn()
    const fetch = async () =>
      new Response(JSON.stringify({ status: 401, code: 'token_invalid' }), { status: 401 })
    const signedOut: string[] = []
    const api = new ApiClient({
      baseUrl: 'http://s.test',
      db,
      fetch: fetch as typeof globalThis.fetch,
      onSignedOut: async (code) => {
        signedOut.push(code)
      },
    })
    const fatal: unknown[] = []
    const follower = new EventFollower({
      db,
      api,
      onChange: async () => undefined,
      onFatal: (error) => fatal.push(error),
    })
    follower.start()
    await vi.waitFor(() => expect(fatal).toHaveLength(1))
    expect(signedOut).toEqual(['token_invalid'])
    expect(follower.running).toBe(false)
  })
})
