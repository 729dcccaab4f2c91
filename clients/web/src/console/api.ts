// The console's one client of the API. The session lives in cookies the server sets
// (HttpOnly access and refresh cookies, and a readable CSRF cookie): no token is ever held
// where a script could read it. Every write echoes the CSRF cookie in X-CSRF-Token, and an
// expired access cookie is refreshed once, then the request is sent again.
import createClient from 'openapi-fetch'
import type { components, paths } from '../api/schema'
import { ProblemError, problemOf } from '../api/problems'
import { errorText } from '../i18n'

export type Schemas = components['schemas']
export type Me = Schemas['MeOut']

const CSRF_COOKIE = 'beatsync_csrf'
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

export const PATHS = {
  activity: '/api/v1/reports/events',
  escalations: '/api/v1/escalations/events',
  photoThumb: (sha: string) => `/api/v1/photos/${encodeURIComponent(sha)}/thumbnail`,
  photoContent: (sha: string) => `/api/v1/photos/${encodeURIComponent(sha)}/content`,
  bulletinFile: (format: 'csv' | 'xlsx', day: string, period: string) =>
    `/api/v1/reports/bulletin/${format}?${new URLSearchParams({ day, period })}`,
} as const

function csrfToken(): string {
  const match = document.cookie.split('; ').find((c) => c.startsWith(`${CSRF_COOKIE}=`))
  return match ? decodeURIComponent(match.slice(CSRF_COOKIE.length + 1)) : ''
}

function prepared(request: Request): Request {
  const headers = new Headers(request.headers)
  if (WRITES.has(request.method)) headers.set('X-CSRF-Token', csrfToken())
  return new Request(request, { headers, credentials: 'same-origin' })
}

// Told when a 401 could not be cured by a refresh: the app shows the login page.
let signedOut: (code: string) => void = () => {}
export function onSignedOut(handler: (code: string) => void): void {
  signedOut = handler
}

// Several requests may hit an expired cookie at once; they share one refresh, since each
// refresh token works only once and a reused one ends the session.
let refreshing: Promise<boolean> | null = null
function refreshSession(): Promise<boolean> {
  refreshing ??= fetch('/api/v1/auth/session/refresh', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrfToken() },
  })
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null
    })
  return refreshing
}

async function send(request: Request): Promise<Response> {
  const again = request.clone()
  let response = await fetch(prepared(request))
  if (response.status === 401 && !request.url.includes('/auth/session')) {
    const { code } = await problemOf(response.clone())
    if (code === 'token_expired' && (await refreshSession())) {
      response = await fetch(prepared(again))
    }
    if (response.status === 401) {
      const after = await problemOf(response.clone())
      signedOut(typeof after.code === 'string' ? after.code : 'not_authenticated')
    }
  }
  return response
}

export const api = createClient<paths>({ baseUrl: '', fetch: send })

// An answer's data, or a ProblemError carrying the server's code for the page to word.
export async function ok<T>(
  pending: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await pending
  if (!response.ok || error !== undefined) {
    const problem =
      error && typeof error === 'object' ? (error as Record<string, unknown>) : { code: `http_${response.status}` }
    throw new ProblemError(response.status, problem)
  }
  return data as T
}

// Any failure as a Chinese sentence (problem codes through i18n).
export function failure(error: unknown): string {
  if (error instanceof TypeError) return errorText({ name: 'OfflineError' })
  const text = errorText(error)
  // Which field was refused helps a supervisor correct a form; the code alone does not say.
  return error instanceof ProblemError && error.field ? `${text}（${error.field}）` : text
}

export async function login(name: string, password: string): Promise<Me> {
  const session = await ok(
    api.POST('/api/v1/auth/session', { body: { login: name, password, device_id: browserId() } }),
  )
  return session.user
}

// Choose one's own password: with an initial one an administrator issued, the only thing
// it is good for. Public: no session yet.
export async function choosePassword(name: string, password: string, newPassword: string): Promise<void> {
  await ok(api.POST('/api/v1/auth/password', { body: { login: name, password, new_password: newPassword } }))
}

export async function logout(): Promise<void> {
  await api.DELETE('/api/v1/auth/session').catch(() => undefined)
}

export async function whoAmI(): Promise<Me | null> {
  const { data, response } = await api.GET('/api/v1/auth/me')
  return response.ok && data ? data : null
}

// Each browser is a device of its own, so that one desk can be revoked without the others.
// Only an id is kept: it grants nothing by itself.
function browserId(): string {
  const KEY = 'beatsync.console.device'
  try {
    let id = localStorage.getItem(KEY)
    if (!id) {
      id = `web-${randomHex(16)}`
      localStorage.setItem(KEY, id)
    }
    return id
  } catch {
    return 'web-console'
  }
}

// crypto.randomUUID needs a secure context, which an intranet http:// address is not.
function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')
}
