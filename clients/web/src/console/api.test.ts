// The console's session rules: writes carry the CSRF cookie's value, an expired access
// cookie is refreshed once and the request sent again, and a 401 that a refresh cannot
// cure signs the supervisor out.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { api, onSignedOut } from './api'

type Call = { url: string; method: string; csrf: string | null }

function problem(status: number, code: string): Response {
  return new Response(JSON.stringify({ status, code, title: code, type: 'about:blank' }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  })
}

const json = (body: unknown) =>
  new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })

describe('console api client', () => {
  let calls: Call[]

  beforeEach(() => {
    calls = []
    vi.stubGlobal('document', { cookie: 'other=1; beatsync_csrf=token%2B1' })
  })
  afterEach(() => vi.unstubAllGlobals())

  function serve(answers: ((call: Call) => Response)[]): void {
    vi.stubGlobal('fetch', async (input: Request | string, init?: RequestInit) => {
      const request = typeof input === 'string' ? new Request(`http://console.test${input}`, init) : input
      const call = { url: new URL(request.url).pathname, method: request.method, csrf: request.headers.get('x-csrf-token') }
      calls.push(call)
      const answer = answers.shift()
      if (!answer) throw new Error(`unexpected ${call.method} ${call.url}`)
      return answer(call)
    })
  }

  it('sends the CSRF cookie on writes and not on reads', async () => {
    serve([() => json({ items: [], next_cursor: null }), () => json({})])
    await api.GET('/api/v1/warnings', { baseUrl: 'http://console.test' })
    await api.POST('/api/v1/review/{entry_id}/approve', { baseUrl: 'http://console.test', params: { path: { entry_id: 'e1' } }, body: {} })
    expect(calls.map((c) => [c.method, c.csrf])).toEqual([
      ['GET', null],
      ['POST', 'token+1'],
    ])
  })

  it('refreshes once on token_expired and sends the request again', async () => {
    serve([() => problem(401, 'token_expired'), () => json({}), () => json([])])
    const { data } = await api.GET('/api/v1/units', { baseUrl: 'http://console.test' })
    expect(data).toEqual([])
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET /api/v1/units',
      'POST /api/v1/auth/session/refresh',
      'GET /api/v1/units',
    ])
    expect(calls[1]?.csrf).toBe('token+1')
  })

  it('signs out when the refresh is refused', async () => {
    const out = vi.fn()
    onSignedOut(out)
    serve([() => problem(401, 'token_expired'), () => problem(401, 'refresh_token_invalid')])
    const { response } = await api.GET('/api/v1/units', { baseUrl: 'http://console.test' })
    expect(response.status).toBe(401)
    expect(out).toHaveBeenCalledWith('token_expired')
  })
})
