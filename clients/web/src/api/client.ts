// The one place that talks HTTP to the server: every URL of the API is here, and so is
// the session (bearer token, single-use refresh tokens, the server's orders to wipe).
// JSON endpoints go through openapi-fetch with the types generated from the server's
// OpenAPI document; the event stream and tus get what they need from here too.
import createClient from 'openapi-fetch'
import type { HttpRequest, HttpResponse, HttpStack } from 'tus-js-client'
import type { BeatDB } from '../sync/store'
import type { paths } from './schema'
import type { LoginIn, MeOut, PasswordChangeIn, PullResponse, PushRequest, PushResponse, TokenOut } from './types'
import {
  OfflineError,
  ProblemError,
  ProtocolError,
  asNetworkError,
  isOffline,
  problemOf,
} from './problems'

export type WaitResponse = { seq: number; changed: boolean }

// Worth another attempt: the request may never have arrived, or the server could not
// serve it just now. Any other 4xx is an answer a retry would only repeat.
export const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504])

export interface RetryPolicy {
  attempts: number
  baseMs: number
  capMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseMs: 500, capMs: 8_000 }

export interface ApiClientOptions {
  baseUrl: string
  db: BeatDB
  fetch?: typeof fetch
  retry?: RetryPolicy
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  // The server said `action: "wipe"`: delete every resident's data, then show login. A
  // cut-off device gets a hand-in token with it: hand in the outbox first (PROTOCOL.md,
  // Being cut off).
  onWipe?: (code: string, handinToken: string | null) => Promise<void>
  // The session is over (a 401 that a refresh could not cure): show login, keep records.
  onSignedOut?: (code: string) => Promise<void>
}

type Fetch = (input: Request) => Promise<Response>

interface Answer<T> {
  data?: T
  error?: unknown
  response: Response
}

export const PATHS = {
  uploads: '/api/v1/uploads/',
  events: '/api/v1/sync/events',
} as const

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Exponential backoff with full jitter: phones coming back into coverage together do not
// hammer the server in lockstep.
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number): number {
  return random() * Math.min(policy.capMs, policy.baseMs * 2 ** retry)
}

function retryAfterMs(response: Response): number | null {
  const value = Number(response.headers.get('retry-after'))
  return Number.isFinite(value) && value >= 0 ? value * 1000 : null
}

export class ApiClient {
  readonly baseUrl: string
  private readonly db: BeatDB
  private readonly rawFetch: Fetch
  private readonly api: ReturnType<typeof createClient<paths>>
  private readonly retry: RetryPolicy
  private readonly sleep: (ms: number) => Promise<void>
  private readonly random: () => number
  private readonly onWipe: (code: string, handinToken: string | null) => Promise<void>
  private readonly onSignedOut: (code: string) => Promise<void>
  // Refresh tokens work once: refreshes run one after the other, never side by side.
  private refreshing: Promise<unknown> = Promise.resolve()

  constructor(options: ApiClientOptions) {
    const base = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.baseUrl = absoluteBase(options.baseUrl)
    this.db = options.db
    this.rawFetch = (request) => base(request)
    this.api = createClient<paths>({ baseUrl: this.baseUrl, fetch: this.rawFetch })
    this.retry = options.retry ?? DEFAULT_RETRY
    this.sleep = options.sleep ?? sleep
    this.random = options.random ?? Math.random
    this.onWipe = options.onWipe ?? (async () => {})
    this.onSignedOut = options.onSignedOut ?? (async () => {})
  }

  // -- session ---------------------------------------------------------------------------

  async accessToken(): Promise<string | null> {
    return stringState(await this.db.state.get('access_token'))
  }

  async refreshToken(): Promise<string | null> {
    return stringState(await this.db.state.get('refresh_token'))
  }

  private async saveTokens(access: string, refresh: string | null): Promise<void> {
    await this.db.transaction('rw', this.db.state, async () => {
      await this.db.state.put({ key: 'access_token', value: access })
      if (refresh !== null) await this.db.state.put({ key: 'refresh_token', value: refresh })
    })
  }

  // The tokens only; the engine keeps the user and decides what a new login clears.
  async login(body: LoginIn): Promise<TokenOut> {
    return this.call((fetch) => this.api.POST('/api/v1/auth/login', { body, fetch }), {
      auth: false,
    })
  }

  // One's own password, chosen with an initial one an administrator issued (which logs
  // nobody in: login answers password_change_required). No session is needed.
  async choosePassword(body: PasswordChangeIn): Promise<void> {
    await this.call((fetch) => this.api.POST('/api/v1/auth/password', { body, fetch }), {
      auth: false,
    })
  }

  async logout(): Promise<void> {
    await this.call((fetch) => this.api.POST('/api/v1/auth/logout', { fetch }), {
      retries: false,
    })
  }

  async me(): Promise<MeOut> {
    return this.call((fetch) => this.api.GET('/api/v1/auth/me', { fetch }))
  }

  // -- sync ------------------------------------------------------------------------------

  async pull(cursor: string | null, limit: number): Promise<PullResponse> {
    const query = cursor === null ? { limit } : { cursor, limit }
    return this.call((fetch) => this.api.GET('/api/v1/sync/pull', { params: { query }, fetch }))
  }

  // `build` runs once per attempt: device_time must be the clock when sending.
  async push(build: () => PushRequest): Promise<PushResponse> {
    return this.call((fetch) => this.api.POST('/api/v1/sync/push', { body: build(), fetch }))
  }

  // A cut-off device hands in its outbox under the token the wipe came with. Its refusal
  // is the caller's to read: it never wipes or signs out again from here.
  async handIn(token: string, build: () => PushRequest): Promise<PushResponse> {
    return this.call(
      (fetch) =>
        this.api.POST('/api/v1/sync/push', {
          body: build(),
          fetch,
          headers: { authorization: `Bearer ${token}` },
        }),
      { auth: false, quiet: true },
    )
  }

  async wait(after: number, timeout: number, signal?: AbortSignal): Promise<WaitResponse> {
    const answer = await this.call(
      (fetch) =>
        this.api.GET('/api/v1/sync/wait', {
          params: { query: { after, timeout } },
          fetch,
          ...(signal ? { signal } : {}),
        }),
      { retries: false },
    )
    if (typeof answer?.seq !== 'number') throw new ProtocolError('wait answer does not decode')
    return { seq: answer.seq, changed: answer.changed === true }
  }

  // The event stream's body. Not EventSource: it cannot send the Authorization header.
  async events(lastEventId: number, signal: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const headers: Record<string, string> = {
      accept: 'text/event-stream',
      'cache-control': 'no-cache',
    }
    if (lastEventId) headers['last-event-id'] = String(lastEventId)
    const request = new Request(this.url(PATHS.events), { headers, signal })
    const response = await this.send(request, true, true)
    if (!response.body) throw new ProtocolError('event stream without a body')
    return response.body
  }

  // -- what tus needs --------------------------------------------------------------------

  get uploadsEndpoint(): string {
    return this.url(PATHS.uploads)
  }

  async authorization(): Promise<string | null> {
    const token = await this.accessToken()
    return token ? `Bearer ${token}` : null
  }

  // After a `401 token_expired` on an upload: true once a fresh token is stored.
  async refreshAfter(used: string | null): Promise<boolean> {
    if (!used) return false
    return typeof (await this.refreshOnce(used)) === 'string'
  }

  // A tus answer the uploader does not handle itself (a wipe, a lost session): handled as
  // any other request's, then thrown.
  async failWith(status: number, body: string): Promise<never> {
    let problem: Record<string, unknown> = {}
    try {
      const parsed: unknown = JSON.parse(body)
      if (parsed && typeof parsed === 'object') problem = parsed as Record<string, unknown>
    } catch {
      // not a problem document: the status speaks for itself
    }
    throw await this.settle(new ProblemError(status, problem), true)
  }

  // A tus HttpStack on this client's fetch: the bearer token and its refresh work as for
  // every other request, and the tests drive the same path. Progress is reported per chunk
  // (fetch has no upload progress), which is also when the offset is saved.
  httpStack(): HttpStack {
    const send: Fetch = (request) => this.send(request, true)
    return {
      getName: () => 'beatsync-fetch',
      createRequest: (method: string, url: string) => new FetchTusRequest(send, method, url),
    }
  }

  // -- plumbing --------------------------------------------------------------------------

  private url(path: string): string {
    return `${this.baseUrl}${path}`
  }

  // One call, retried with backoff while the network or the server fails it. Every
  // request retried here is safe to repeat (pushes by mutation id, pulls by cursor).
  private async call<T>(
    run: (fetch: Fetch) => Promise<Answer<T>>,
    {
      auth = true,
      retries = true,
      quiet = false,
    }: { auth?: boolean; retries?: boolean; quiet?: boolean } = {},
  ): Promise<T> {
    const attempts = retries ? this.retry.attempts : 1
    let waitAtLeast: number | null = null
    for (let attempt = 0; ; attempt++) {
      if (attempt) {
        const jitter = backoffMs(attempt - 1, this.retry, this.random)
        await this.sleep(Math.max(jitter, Math.min(waitAtLeast ?? 0, this.retry.capMs)))
      }
      waitAtLeast = null
      const last = attempt + 1 >= attempts
      let answer: Answer<T>
      try {
        answer = await run((request) => this.send(request, auth))
      } catch (error) {
        const failure = asNetworkError(error)
        if (failure instanceof OfflineError && !last && !isOffline()) continue
        throw failure
      }
      const { response } = answer
      if (response.ok) return answer.data as T
      if (RETRY_STATUSES.has(response.status) && !last) {
        waitAtLeast = retryAfterMs(response)
        continue
      }
      const problem =
        answer.error && typeof answer.error === 'object'
          ? (answer.error as Record<string, unknown>)
          : {}
      const refused = new ProblemError(response.status, problem)
      throw quiet ? refused : await this.settle(refused, auth)
    }
  }

  // Sends one request with the bearer token; on `401 token_expired` refreshes once and
  // sends it again. `checked`: a failure becomes a thrown ProblemError here.
  private async send(request: Request, auth: boolean, checked = false): Promise<Response> {
    if (isOffline()) throw new OfflineError()
    let response: Response
    try {
      response = await this.sendOnce(request, auth)
    } catch (error) {
      throw asNetworkError(error)
    }
    if (!checked || response.ok) return response
    throw await this.settle(await this.problemOfResponse(response), auth)
  }

  private async sendOnce(request: Request, auth: boolean): Promise<Response> {
    if (!auth) return this.rawFetch(request)
    const template = request.clone()
    const used = await this.accessToken()
    const response = await this.rawFetch(withToken(request, used))
    if (response.status !== 401 || !used) return response
    const problem = await problemOf(response.clone())
    if (problem.code !== 'token_expired') return response
    const fresh = await this.refreshOnce(used)
    if (fresh === null) return response
    // The refresh's own answer (log in again, or wipe) is the caller's answer.
    if (typeof fresh !== 'string') return fresh
    return this.rawFetch(withToken(template, fresh))
  }

  private refreshOnce(used: string): Promise<string | Response | null> {
    const run = this.refreshing.then(() => this.refresh(used))
    this.refreshing = run.catch(() => undefined)
    return run
  }

  private async refresh(used: string): Promise<string | Response | null> {
    const current = await this.accessToken()
    // Another request refreshed while this one waited: use its token.
    if (current && current !== used) return current
    const refresh = await this.refreshToken()
    if (!refresh) return null
    const { data, error, response } = await this.api.POST('/api/v1/auth/refresh', {
      body: { refresh_token: refresh },
      fetch: this.rawFetch,
    })
    if (!response.ok || !data) {
      return new Response(JSON.stringify(error ?? {}), {
        status: response.status,
        headers: { 'content-type': 'application/problem+json' },
      })
    }
    // Stored before the retry: the server has spent the old refresh token already.
    await this.saveTokens(data.access_token, data.refresh_token)
    return data.access_token
  }

  private async problemOfResponse(response: Response): Promise<ProblemError> {
    return new ProblemError(response.status, await problemOf(response))
  }

  // What a refusal means for the device, done before it is thrown.
  private async settle(problem: ProblemError, auth: boolean): Promise<ProblemError> {
    if (problem.action === 'wipe') {
      const token = problem.problem.handin_token
      await this.onWipe(problem.code, typeof token === 'string' && token ? token : null)
    } else if (problem.status === 401 && auth) {
      await this.db.transaction('rw', this.db.state, async () => {
        await this.db.state.bulkDelete(['access_token', 'refresh_token'])
      })
      await this.onSignedOut(problem.code)
    }
    return problem
  }
}

function stringState(row: { value: unknown } | undefined): string | null {
  return typeof row?.value === 'string' && row.value ? row.value : null
}

function withToken(request: Request, token: string | null): Request {
  if (!token) return request
  const headers = new Headers(request.headers)
  headers.set('authorization', `Bearer ${token}`)
  return new Request(request, { headers })
}

// tus resolves an upload's Location against the endpoint, which must therefore be
// absolute; '' means the page's own origin.
function absoluteBase(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '')
  if (/^https?:\/\//.test(trimmed)) return trimmed
  const origin = typeof location !== 'undefined' ? location.origin : 'http://localhost'
  return `${origin}${trimmed}`
}

class FetchTusRequest implements HttpRequest {
  private readonly headers = new Headers()
  private readonly controller = new AbortController()
  private progress: (bytesSent: number) => void = () => {}

  constructor(
    private readonly rawFetch: Fetch,
    private readonly method: string,
    private readonly url: string,
  ) {}

  getMethod(): string {
    return this.method
  }

  getURL(): string {
    return this.url
  }

  setHeader(header: string, value: string): void {
    this.headers.set(header, value)
  }

  getHeader(header: string): string | undefined {
    return this.headers.get(header) ?? undefined
  }

  setProgressHandler(handler: (bytesSent: number) => void): void {
    this.progress = handler
  }

  async send(body?: Blob | null): Promise<HttpResponse> {
    const size = body?.size ?? 0
    this.progress(0)
    const response = await this.rawFetch(
      new Request(this.url, {
        method: this.method,
        headers: this.headers,
        body: body ?? null,
        signal: this.controller.signal,
      }),
    )
    const text = await response.text()
    if (size) this.progress(size)
    return {
      getStatus: () => response.status,
      getHeader: (name: string) => response.headers.get(name) ?? undefined,
      getBody: () => text,
      getUnderlyingObject: () => response,
    }
  }

  async abort(): Promise<void> {
    this.controller.abort()
  }

  getUnderlyingObject(): unknown {
    return this.controller
  }
}
