// What can go wrong talking to the server, as errors the engine and the pages branch on:
// a problem document (RFC 9457, docs/errors.md) the server answered with, or no answer
// at all.

export class ProblemError extends Error {
  readonly status: number
  // Stable (docs/errors.md): branch on it, never on detail or title.
  readonly code: string
  readonly detail: string | null
  readonly field: string | null
  // 'wipe' when the device must drop every resident's data it holds.
  readonly action: string | null
  readonly problem: Record<string, unknown>

  constructor(status: number, problem: Record<string, unknown>) {
    const code = typeof problem.code === 'string' && problem.code ? problem.code : `http_${status}`
    const detail = typeof problem.detail === 'string' ? problem.detail : null
    const title = typeof problem.title === 'string' ? problem.title : ''
    super(`${status} ${code}: ${detail ?? title}`)
    this.name = 'ProblemError'
    this.status = status
    this.code = code
    this.detail = detail
    this.field = typeof problem.field === 'string' ? problem.field : null
    this.action = typeof problem.action === 'string' ? problem.action : null
    this.problem = problem
  }
}

// The request got no answer: no network, a timeout, a connection cut. Nothing was lost;
// try later.
export class OfflineError extends Error {
  constructor(message = 'offline', options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'OfflineError'
  }
}

// The server's answer does not fit the protocol (a bug on one side or the other).
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtocolError'
  }
}

// The problem document of an error response; {} when the body is not one.
export async function problemOf(response: Response): Promise<Record<string, unknown>> {
  try {
    const body: unknown = JSON.parse(await response.text())
    return body !== null && typeof body === 'object' && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : {}
  } catch {
    return {}
  }
}

export async function problemError(response: Response): Promise<ProblemError> {
  return new ProblemError(response.status, await problemOf(response))
}

export function isOffline(): boolean {
  return typeof navigator !== 'undefined' && navigator.onLine === false
}

// A fetch that threw: aborted on purpose is passed on as is, anything else is the network.
export function asNetworkError(error: unknown): unknown {
  if (error instanceof DOMException && error.name === 'AbortError') return error
  if (error instanceof ProblemError || error instanceof ProtocolError) return error
  return new OfflineError(error instanceof Error ? error.message : String(error), {
    cause: error,
  })
}
