// The API client: problem documents, the network's failures, retries and token refresh.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BeatDB } from '../sync/store'
import { ApiClient } from './client'
import { OfflineError, ProblemError } from './problems'

async function db(): Promise<BeatDB> {
  const made = new BeatDB(`client-${Math.random()}`)
  await made.state.bulkPut([
    { key: 'access_token', value: 'old' },
    { key: 'refresh_token', value: 'r1' },
  ])
  return made
}

function problem(status: number, code: string, extra: Record<string, unknown> = {}): Response {
  const body = { status, code, title: code, type: 'about:blank', ...extra }
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  })
}

function ok(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  })
}

const page = { changes: [], cursor: 'c', has_more: false, checksum: null, server_hlc: '' }

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('ApiClient', () => {
  it('turns a problem document into a ProblemError with its code, field and action', async () => {
    const client = new ApiClient({
      baseUrl: 'http://s.test',
      db: await db(),
      fetch: (async () =>
        problem(400, 'validation_failed', { field: 'limit', detail: 'too big' })) as typeof fetch,
    })
    const error = await client.pull(null, 9999).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProblemError)
    expect(error).toMatchObject({
      status: 400,
      code: 'validation_failed',
      field: 'limit',
      detail: 'too big',
      action: null,
    })
  })

  it('retries 5xx and network failures, then gives up as offline', async () => {
    let calls = 0
    const client = new ApiClient({
      baseUrl: 'http://s.test',
      db: await db(),
      sleep: async () => undefined,
      fetch: (async () => {
        calls++
        if (calls === 1) return problem(503, 'internal_error')
        throw new TypeError('fetch failed')
      }) as typeof fetch,
    })
    await expect(client.pull(null, 10)).rejects.toBeInstanceOf(OfflineError)
    expect(calls).toBe(3)
  })

  it('does not even try when the browser says it is offline', async () => {
    vi.stubGlobal('navigator', { onLine: false })
    const fetch = vi.fn()
    const client = new ApiClient({ baseUrl: 'http://s.test', db: await db(), fetch })
    await expect(client.pull(null, 10)).rejects.toBeInstanceOf(OfflineError)
    expect(fetch).not.toHaveBeenCalled()
  })

  it('refreshes once on token_expired, stores the new pair first, and retries', async () => {
    const store = await db()
    const seen: string[] = []
    const fetch = async (request: Request) => {
      const path = new URL(request.url).pathname
      seen.push(`${path} ${request.headers.get('authorization')}`)
      if (path === '/api/v1/auth/refresh') {
        expect(await request.json()).toEqual({ refresh_token: 'r1' })
        return ok({ access_token: 'new', refresh_token: 'r2', user: {} })
      }
      const auth = request.headers.get('authorization')
      if (auth !== 'Bearer new') return problem(401, 'token_expired')
      expect((await store.state.get('refresh_token'))?.value).toBe('r2')
      return ok(page)
    }
    const client = new ApiClient({
      baseUrl: 'http://s.test',
      db: store,
      fetch: fetch as typeof globalThis.fetch,
    })
    await Promise.all([client.pull(null, 1), client.pull('c', 1), client.me().catch(() => null)])
    expect(seen.filter((s) => s.startsWith('/api/v1/auth/refresh'))).toHaveLength(1)
    expect((await store.state.get('access_token'))?.value).toBe('new')
  })

  it('calls for a wipe on action wipe, and signs out on a 401 a refresh cannot cure', async () => {
    const wiped: string[] = []
    const out: string[] = []
    let answer = problem(401, 'device_revoked', { action: 'wipe' })
    const client = new ApiClient({
      baseUrl: 'http://s.test',
      db: await db(),
      fetch: (async () => answer.clone()) as typeof fetch,
      onWipe: async (code) => {
        wiped.push(code)
      },
      onSignedOut: async (code) => {
        out.push(code)
      },
    })
    const wipe = { code: 'device_revoked', action: 'wipe' }
    await expect(client.pull(null, 1)).rejects.toMatchObject(wipe)
    answer = problem(401, 'token_invalid')
    await expect(client.pull(null, 1)).rejects.toMatchObject({ code: 'token_invalid' })
    expect(wiped).toEqual(['device_revoked'])
    expect(out).toEqual(['token_invalid'])
  })

  it('logs in without a token and never signs out on wrong credentials', async () => {
    const out: string[] = []
    const client = new ApiClient({
      baseUrl: 'http://s.test',
      db: await db(),
      fetch: (async (request: Request) => {
        expect(request.headers.get('authorization')).toBeNull()
        return problem(401, 'invalid_credentials')
      }) as typeof fetch,
      onSignedOut: async (code) => {
        out.push(code)
      },
    })
    const body = { login: 'a', password: 'b', device_id: 'web-1234', device_name: 'x' }
    await expect(client.login(body)).rejects.toMatchObject({ code: 'invalid_credentials' })
    expect(out).toEqual([])
  })

  it('gives tus an absolute endpoint', async () => {
    const client = new ApiClient({ baseUrl: 'http://s.test/', db: await db(), fetch: vi.fn() })
    expect(client.uploadsEndpoint).toBe('http://s.test/api/v1/uploads/')
    expect(await client.authorization()).toBe('Bearer old')
  })
})
