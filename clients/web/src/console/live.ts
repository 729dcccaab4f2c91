// Pages that must stay current without a reload: they re-fetch when an escalation event
// arrives on the server's stream, every 60 s (visits recorded by officers have no stream
// a supervisor can follow), and when the tab comes back into view.
import { onBeforeUnmount, onMounted, ref } from 'vue'
import { PATHS, api, type Schemas } from './api'

const EVERY_MS = 60_000
const REOPEN_MS = 5_000

export function useLive(refresh: () => Promise<void>, onEscalation?: (e: Schemas['EscalationOut']) => void) {
  const lastUpdated = ref<Date | null>(null)
  const connected = ref(false)
  let source: EventSource | null = null
  let timer: ReturnType<typeof setInterval> | undefined
  let running: Promise<void> | null = null
  let again = false
  let reopen: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  // Bursts of events (escalation runs many at once) collapse into one re-fetch at a time.
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

  function open(): void {
    source = new EventSource(PATHS.events, { withCredentials: true })
    source.onopen = () => (connected.value = true)
    source.addEventListener('escalation', (msg) => {
      try {
        onEscalation?.(JSON.parse((msg as MessageEvent<string>).data) as Schemas['EscalationOut'])
      } catch {
        // A malformed event still means something changed.
      }
      void run()
    })
    source.onerror = () => {
      connected.value = false
      // A dropped connection is retried by the browser; a refusal (401: the access cookie
      // expired) closes the stream for good. A request through the client refreshes the
      // session, then the stream is opened again.
      if (source?.readyState !== EventSource.CLOSED) return
      source = null
      reopen = setTimeout(() => {
        void api.GET('/api/v1/auth/me').finally(() => {
          if (!stopped) open()
        })
      }, REOPEN_MS)
    }
  }

  function visible(): void {
    if (document.visibilityState === 'visible') void run()
  }

  onMounted(() => {
    void run()
    open()
    timer = setInterval(() => void run(), EVERY_MS)
    document.addEventListener('visibilitychange', visible)
  })
  onBeforeUnmount(() => {
    stopped = true
    clearTimeout(reopen)
    source?.close()
    clearInterval(timer)
    document.removeEventListener('visibilitychange', visible)
  })

  return { lastUpdated, connected, refresh: run }
}
