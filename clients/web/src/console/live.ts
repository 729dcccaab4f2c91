// Pages that must stay current without a reload. They re-fetch when the server says
// something changed in the supervisor's jurisdiction (/api/v1/reports/events: a warning
// arrived, a visit was recorded, a review, an escalation), every 60 s (a warning turns
// overdue by the clock alone, with no write to tell of it), and when the tab comes back
// into view. A page that lists escalations also follows their own stream for the step.
import { onBeforeUnmount, onMounted, ref } from 'vue'
import { PATHS, api, type Schemas } from './api'

const EVERY_MS = 60_000
const REOPEN_MS = 5_000
// A city's desk hears of every visit in the city: at most one re-fetch of its figures
// (the 30-day trend among them) per this gap, however fast the events come.
const EVENT_GAP_MS = 3_000

export function useLive(refresh: () => Promise<void>, onEscalation?: (e: Schemas['EscalationOut']) => void) {
  const lastUpdated = ref<Date | null>(null)
  const connected = ref(false)
  const sources = new Set<EventSource>()
  let timer: ReturnType<typeof setInterval> | undefined
  let running: Promise<void> | null = null
  let again = false
  let lastRun = 0
  let pending: ReturnType<typeof setTimeout> | undefined
  const reopens = new Set<ReturnType<typeof setTimeout>>()
  let stopped = false

  // Re-fetches never overlap: one asked for while another runs follows it, once.
  async function run(): Promise<void> {
    if (running) {
      again = true
      return running
    }
    running = (async () => {
      do {
        again = false
        lastRun = Date.now()
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

  // What an event asks for: a re-fetch now, or once the gap since the last has passed.
  function soon(): void {
    if (pending !== undefined) return
    pending = setTimeout(() => {
      pending = undefined
      void run()
    }, Math.max(0, lastRun + EVENT_GAP_MS - Date.now()))
  }

  function follow(path: string, event: string, heard: (data: string) => void, primary: boolean): void {
    const source = new EventSource(path, { withCredentials: true })
    sources.add(source)
    source.onopen = () => {
      if (primary) connected.value = true
    }
    source.addEventListener(event, (msg) => {
      heard((msg as MessageEvent<string>).data)
      soon()
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
    clearTimeout(pending)
    reopens.forEach(clearTimeout)
    sources.forEach((s) => s.close())
    clearInterval(timer)
    document.removeEventListener('visibilitychange', visible)
  })

  return { lastUpdated, connected, refresh: run }
}
