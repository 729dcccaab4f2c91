// A small in-memory double of the beatsync server for the engine's tests: login and
// refresh with single-use refresh tokens, pull (snapshot then change log, paged, with the
// checksum), push with verdicts, and tus uploads. Test code only; the real rules are the
// server's (tests/sync in Python run against it).
import { checksumOf } from './checksum'

type Kind = 'warning' | 'publicity'
type Json = Record<string, unknown>

interface LogEntry {
  seq: number
  kind: Kind
  id: number
  type: 'upsert' | 'remove'
}

export function warning(id: number, version = 1, extra: Json = {}): Json {
  return {
    kind: 'warning',
    id,
    version,
    state: 'dispatched',
    resident_name: `Resident ${id}`,
    resident_phone: '13800000000',
    resident_address: 'Somewhere 1',
    resident_id_number: '***1234',
    grid_code: 'G1',
    source: 'platform',
    fraud_type: 'investment',
    risk_level: 'high',
    summary: null,
    issued_at: '2026-11-25T08:00:00Z',
    deadline_at: `2026-11-25T${String(8 + (id % 10)).padStart(2, '0')}:00:00Z`,
    outcome: null,
    officer_id: 1,
    fields: {},
    ...extra,
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? 'application/problem+json' : 'application/json'
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': type, ...headers },
  })
}

export function problem(status: number, code: string, extra: Json = {}): Response {
  return json(status, { type: 'about:blank', title: code, status, code, ...extra })
}

interface Upload {
  length: number
  sha256: string
  bytes: Uint8Array
  gone?: boolean
}

export class FakeServer {
  seq = 0
  tasks = new Map<string, { task: Json; visits: Json[] }>()
  log: LogEntry[] = []
  received: Json[] = []
  pushes: Json[] = []
  requests: { method: string; path: string; auth: string | null }[] = []
  // Tokens: the valid access tokens, the ones past their lifetime, the unspent refreshes.
  access = new Set<string>()
  expired = new Set<string>()
  refreshes = new Set<string>()
  spentRefreshes = new Set<string>()
  private issued = 0
  // Faults a test switches on.
  wipeWith: string | null = null
  // With wipeWith: the hand-in token the wipe carries, good for a push alone.
  handinToken: string | null = null
  handinRefusals = 0
  goneOnce = false
  wrongChecksumTimes = 0
  failNextPushes = 0
  photos = new Map<string, Uint8Array>()
  uploads = new Map<string, Upload>()
  goneOnNextPatch = false
  userId = 1

  put(task: Json, visits: Json[] = []): void {
    const kind = task.kind as Kind
    const id = task.id as number
    this.tasks.set(`${kind}:${id}`, { task, visits })
    this.log.push({ seq: ++this.seq, kind, id, type: 'upsert' })
  }

  remove(kind: Kind, id: number): void {
    this.tasks.delete(`${kind}:${id}`)
    this.log.push({ seq: ++this.seq, kind, id, type: 'remove' })
  }

  bump(kind: Kind, id: number, extra: Json = {}): void {
    const held = this.tasks.get(`${kind}:${id}`)
    if (!held) throw new Error('no such task')
    this.put({ ...held.task, ...extra, version: (held.task.version as number) + 1 }, held.visits)
  }

  checksum(): string {
    return checksumOf(
      [...this.tasks.values()].map(
        ({ task }) => [task.kind as string, task.id as number, task.version as number] as const,
      ),
    )
  }

  expireAccessTokens(): void {
    for (const token of this.access) this.expired.add(token)
    this.access.clear()
  }

  private tokens(): Json {
    const n = ++this.issued
    this.access.add(`access-${n}`)
    this.refreshes.add(`refresh-${n}`)
    return {
      access_token: `access-${n}`,
      refresh_token: `refresh-${n}`,
      token_type: 'Bearer',
      expires_in: 900,
      refresh_expires_at: null,
      user: {
        id: this.userId,
        login: 'officer',
        name: 'Officer',
        role: 'officer',
        unit_id: 'S1',
        city_id: 'C1',
        county_id: 'K1',
        station_id: 'S1',
        device_id: 'web',
      },
    }
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init)
    const url = new URL(request.url)
    const auth = request.headers.get('authorization')
    this.requests.push({ method: request.method, path: url.pathname, auth })
    const path = url.pathname
    if (path === '/api/v1/auth/login') return json(200, this.tokens())
    if (path === '/api/v1/auth/refresh') {
      const { refresh_token: token } = (await request.json()) as { refresh_token: string }
      if (this.spentRefreshes.has(token)) {
        return problem(401, 'refresh_token_reused', { action: 'wipe' })
      }
      if (!this.refreshes.delete(token)) return problem(401, 'refresh_token_invalid')
      this.spentRefreshes.add(token)
      return json(200, this.tokens())
    }
    if (this.wipeWith && this.handinToken && auth === `Bearer ${this.handinToken}`) {
      if (path !== '/api/v1/sync/push') return problem(401, 'token_invalid')
      if (this.handinRefusals > 0) {
        this.handinRefusals--
        return problem(401, this.wipeWith, { action: 'wipe' })
      }
      return this.push((await request.json()) as Json)
    }
    if (this.wipeWith) {
      const extra = this.handinToken ? { handin_token: this.handinToken } : {}
      return problem(401, this.wipeWith, { action: 'wipe', ...extra })
    }
    const token = auth?.replace(/^Bearer /, '') ?? ''
    if (this.expired.has(token)) return problem(401, 'token_expired')
    if (!this.access.has(token)) return problem(401, 'token_invalid')
    if (path === '/api/v1/auth/logout') return new Response(null, { status: 204 })
    if (path === '/api/v1/sync/pull') return this.pull(url)
    if (path === '/api/v1/sync/push') return this.push((await request.json()) as Json)
    if (path.startsWith('/api/v1/uploads/')) return this.tus(request, path)
    return problem(404, 'not_found')
  }

  private pull(url: URL): Response {
    const limit = Number(url.searchParams.get('limit') ?? 200)
    const cursor = url.searchParams.get('cursor')
    if (cursor !== null && this.goneOnce) {
      this.goneOnce = false
      return problem(410, 'resync_required')
    }
    let changes: Json[]
    let next: string
    let hasMore: boolean
    if (cursor === null || cursor.startsWith('snap:')) {
      const [, offsetText, atText] = (cursor ?? `snap:0:${this.seq}`).split(':')
      const offset = Number(offsetText)
      const at = Number(atText)
      const all = [...this.tasks.values()].sort((a, b) =>
        String(a.task.deadline_at).localeCompare(String(b.task.deadline_at)),
      )
      const page = all.slice(offset, offset + limit)
      changes = page.map(({ task, visits }) => ({ type: 'upsert', seq: at, task, visits }))
      hasMore = offset + limit < all.length
      next = hasMore ? `snap:${offset + limit}:${at}` : `seq:${at}`
      if (!hasMore) {
        const rest = this.since(at, limit)
        if (rest.changes.length) {
          next = `seq:${at}`
          hasMore = true
        }
      }
    } else {
      const after = Number(cursor.slice(4))
      const page = this.since(after, limit)
      changes = page.changes
      hasMore = page.hasMore
      next = `seq:${page.last}`
    }
    let checksum: string | null = null
    if (!hasMore) {
      checksum = this.checksum()
      if (this.wrongChecksumTimes > 0) {
        this.wrongChecksumTimes--
        checksum = 'ffffffffffffffff'
      }
    }
    return json(200, {
      changes,
      cursor: next,
      has_more: hasMore,
      checksum,
      server_hlc: `${String(1_764_057_600_000 + this.seq).padStart(18, '0')}-00000-server`,
    })
  }

  private since(after: number, limit: number) {
    const latest = new Map<string, LogEntry>()
    for (const entry of this.log) {
      if (entry.seq <= after) continue
      const key = `${entry.kind}:${entry.id}`
      latest.delete(key)
      latest.set(key, entry)
    }
    const ordered = [...latest.values()].sort((a, b) => a.seq - b.seq)
    const page = ordered.slice(0, limit)
    const changes = page.map((entry) => {
      const held = this.tasks.get(`${entry.kind}:${entry.id}`)
      if (entry.type === 'remove' || !held) {
        const { seq, kind, id } = entry
        return { type: 'remove', seq, kind, id, reason: 'reassigned' }
      }
      return { type: 'upsert', seq: entry.seq, task: held.task, visits: held.visits }
    })
    return {
      changes,
      hasMore: ordered.length > limit,
      last: page.length ? page[page.length - 1]!.seq : after,
    }
  }

  private push(body: Json): Response {
    this.pushes.push(body)
    if (this.failNextPushes > 0) {
      this.failNextPushes--
      return problem(503, 'internal_error')
    }
    const results = (body.mutations as Json[]).map((mutation) => {
      const id = mutation.mutation_id as string
      if (this.received.some((m) => m.mutation_id === id)) {
        return { mutation_id: id, status: 'applied', hlc: mutation.hlc }
      }
      this.received.push(mutation)
      const key = `${mutation.task_kind}:${mutation.task_id}`
      const held = this.tasks.get(key)
      if (!held) {
        return {
          mutation_id: id,
          status: 'rejected',
          problem: { code: 'not_assigned', detail: 'never assigned', field: null },
        }
      }
      if (mutation.type === 'set_field') {
        const fields = { ...(held.task.fields as Json) }
        fields[mutation.field as string] = { value: mutation.value, hlc: mutation.hlc }
        this.bump(held.task.kind as Kind, held.task.id as number, { fields })
      } else {
        const entry = mutation.entry as Json
        held.visits = [...held.visits, { ...entry, officer_id: 1, received_at: entry.recorded_at }]
        this.bump(held.task.kind as Kind, held.task.id as number)
      }
      return { mutation_id: id, status: 'applied', hlc: mutation.hlc }
    })
    return json(200, {
      results,
      server_hlc: `${String(1_764_057_600_000).padStart(18, '0')}-00009-server`,
      clock_offset_ms: 0,
      clock_skew_flagged: false,
    })
  }

  private async tus(request: Request, path: string): Promise<Response> {
    const tus = { 'tus-resumable': '1.0.0' }
    if (request.method === 'POST' && path === '/api/v1/uploads/') {
      const meta = Object.fromEntries(
        (request.headers.get('upload-metadata') ?? '').split(',').map((pair) => {
          const [key, value] = pair.trim().split(' ')
          return [key, atob(value ?? '')]
        }),
      )
      if (!String(meta.filetype).startsWith('image/')) return problem(415, 'unsupported_image_type')
      const length = Number(request.headers.get('upload-length'))
      const id = `u${this.uploads.size + 1}`
      const sha256 = String(meta.sha256)
      const had = this.photos.get(sha256)
      this.uploads.set(id, { length, sha256, bytes: had ?? new Uint8Array() })
      return new Response(null, {
        status: 201,
        headers: {
          ...tus,
          location: `/api/v1/uploads/${id}`,
          'upload-offset': String(had ? length : 0),
        },
      })
    }
    const upload = this.uploads.get(path.split('/').pop() ?? '')
    if (!upload || upload.gone) return problem(410, 'upload_gone')
    if (request.method === 'HEAD') {
      return new Response(null, {
        status: 200,
        headers: {
          ...tus,
          'upload-offset': String(upload.bytes.length),
          'upload-length': String(upload.length),
        },
      })
    }
    if (request.method === 'PATCH') {
      if (this.goneOnNextPatch) {
        this.goneOnNextPatch = false
        upload.gone = true
        return problem(410, 'upload_gone')
      }
      const offset = Number(request.headers.get('upload-offset'))
      if (offset !== upload.bytes.length) return problem(409, 'upload_offset_mismatch')
      const chunk = new Uint8Array(await request.arrayBuffer())
      const joined = new Uint8Array(upload.bytes.length + chunk.length)
      joined.set(upload.bytes)
      joined.set(chunk, upload.bytes.length)
      upload.bytes = joined
      if (joined.length === upload.length) this.photos.set(upload.sha256, joined)
      const headers = { ...tus, 'upload-offset': String(joined.length) }
      return new Response(null, { status: 204, headers })
    }
    return problem(405, 'method_not_allowed')
  }
}
