// Pages that must stay current without a reload. They re-fetch when the server says
// something changed in the supervisor's jurisdiction (/api/v1/reports/events: a warning
// arrived, a visit was recorded, a review, an escalation), every 60 s (a warning turns
// overdue by the clock alone, with no write to tell of it), and when the tab comes back
// into view. A page that lists escalations also follows their own stream for the step.
import { onBeforeUnmount, onMounted, ref } from 'vue'
import { PATHS, api, type Schemas } from './api'

const EVERY_MS = 60_000
const REOPEN_MS = 5_000

export function useLive(refresh: () => Promise<void>, onEscalation?: (e: Schemas['EscalationOut']) => void) {
  const lastUpdated = ref<Date | null>(null)
  const connected = ref(false)
  const sources = new Set<EventSource>()
  let timer: ReturnType<typeof setInterval> | undefined
  let running: Promise<void> | null = null
  let again = false
  const reopens = new Set<ReturnType<typeof setTimeout>>()
  let stopped = false

  // Bursts of events (an escalation run, a phone pushing a day's visits) collapse into
  // one re-fetch at a time, and one more after it if anything came in meanwhile.
  async function run(): Promise<void> {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      do {
        again = false
        try {
          await refresh()
          lastUpdated.value = new Date()
        } catch {
          // The page shows its own error; the next tick tries again.
        }
      } while (again)
    })().finally(() => (running = null))
    return running
  }

  function follow(path: string, event: string, heard: (data: string) => void, primary: boolean): void {
    const source = new EventSource(path, { withCredentials: true })
    sources.add(source)
    source.onopen = () => {
      if (primary) connected.value = true
    }
    source.addEventListener(event, (msg) => {
      heard((msg as MessageEvent<string>).data)
      void run()
    })
    source.onerror = () => {
      if (primary) connected.value = false
      // A dropped connection is retried by the browser; a refusal (401: the access cookie
      // expired) closes the stream for good. A request through the client refreshes the
      // session, then the stream is opened again.
      if (source.readyState !== EventSource.CLOSED) return
      sources.delete(source)
      const reopen = setTimeout(() => {
        reopens.delete(reopen)
        void api.GET('/api/v1/auth/me').finally(() => {
          if (!stopped) follow(path, event, heard, primary)
        })
      }, REOPEN_MS)
      reopens.add(reopen)
    }
  }

  function visible(): void {
    if (document.visibilityState === 'visible') void run()
  }

  onMounted(() => {
    void run()
    follow(PATHS.activity, 'changed', () => undefined, true)
    if (onEscalation) {
      follow(PATHS.escalations, 'escalation', (data) => {
        try {
          onEscalation(JSON.parse(data) as Schemas['EscalationOut'])
        } catch {
          // A malformed event still means something changed.
        }
      }, false)
    }
    timer = setInterval(() => void run(), EVERY_MS)
    document.addEventListener('visibilitychange', visible)
  })
  onBeforeUnmount(() => {
    stopped = true
    reopens.forEach(clearTimeout)
    sources.forEach((s) => s.close())
    clearInterval(timer)
    document.removeEventListener('visibilitychange', visible)
  })

  return { lastUpdated, connected, refresh: run }
}
