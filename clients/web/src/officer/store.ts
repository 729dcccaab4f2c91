// The one place pages read the device's data from: refs kept current by Dexie's liveQuery
// on the engine's database, plus what the engine tells by events (sync phase, new tasks,
// a wipe). Pages change nothing here; they call the engine, and these refs follow.
import { liveQuery } from 'dexie'
import {
  computed,
  getCurrentScope,
  onScopeDispose,
  readonly,
  ref,
  shallowRef,
  watch,
  type Ref,
  type ShallowRef,
} from 'vue'
import type { MeOut, TaskKind } from '../api/types'
import type { SyncPhase, SyncReport } from '../sync/engine-contract'
import type { PhotoRow, RecordedRow, TaskRow } from '../sync/store'
import { db, engine } from './engine'

// A ref that follows a Dexie query for as long as the calling component (or effect scope)
// lives. Outside a component it follows for the life of the app.
export function live<T>(query: () => T | Promise<T>, initial: T): Readonly<ShallowRef<T>> {
  const out = shallowRef(initial) as ShallowRef<T>
  const sub = liveQuery(query).subscribe({
    next: (value) => {
      out.value = value
    },
    error: (error: unknown) => console.error('liveQuery failed', error),
  })
  if (getCurrentScope()) onScopeDispose(() => sub.unsubscribe())
  return out
}

// As `live`, for a query that depends on reactive input (a route parameter): it follows
// the new query whenever the input changes.
export function liveOf<A, T>(
  source: () => A,
  query: (arg: A) => T | Promise<T>,
  initial: T,
): Readonly<ShallowRef<T>> {
  const out = shallowRef(initial) as ShallowRef<T>
  let sub: { unsubscribe(): void } | null = null
  const stop = watch(
    source,
    (arg) => {
      sub?.unsubscribe()
      sub = liveQuery(() => query(arg)).subscribe({
        next: (value) => {
          out.value = value
        },
        error: (error: unknown) => console.error('liveQuery failed', error),
      })
    },
    { immediate: true },
  )
  if (getCurrentScope())
    onScopeDispose(() => {
      stop()
      sub?.unsubscribe()
    })
  return out
}

// ---- who is signed in, and on which device -------------------------------------------

const userRef = ref<MeOut | null>(null)
export const user = readonly(userRef)
export const deviceId = ref<string>('')

let readyPromise: Promise<void> | null = null

// Settles once the engine has said whether someone is signed in; the router waits on it.
export function ready(): Promise<void> {
  readyPromise ??= (async () => {
    try {
      const [me, device] = await Promise.all([engine.currentUser(), engine.deviceId()])
      userRef.value = me
      deviceId.value = device
      if (me) engine.start()
    } catch (error) {
      // IndexedDB refused (private mode, storage full): show the login page with what can
      // be shown rather than a blank screen.
      console.error('could not read the device store', error)
    }
  })()
  return readyPromise
}

// The first pull after signing in brings the whole scope; every task in it is "new" to the
// device but not news to the officer, so that one pull raises no notice.
let quietUntilSynced = false

// With an initial password: choose one's own, then log in with it.
export async function choosePasswordAndLogIn(login: string, password: string, newPassword: string): Promise<MeOut> {
  await engine.choosePassword(login, password, newPassword)
  return logIn(login, newPassword)
}

export async function logIn(login: string, password: string): Promise<MeOut> {
  const me = await engine.login(login, password)
  quietUntilSynced = true
  userRef.value = me
  deviceId.value = await engine.deviceId()
  engine.start()
  return me
}

export async function logOut(): Promise<void> {
  engine.stop()
  await engine.logout()
  userRef.value = null
}

// Why the officer was sent back to the login page, for it to say.
export const signedOutReason = ref<{ kind: 'wiped' | 'signed_out'; code: string } | null>(null)

// ---- sync state --------------------------------------------------------------------

export const online = ref(typeof navigator === 'undefined' ? true : navigator.onLine)
window.addEventListener('online', () => (online.value = true))
window.addEventListener('offline', () => (online.value = false))

export const phase = ref<SyncPhase>(online.value ? 'idle' : 'offline')
export const phaseError = ref<string | null>(null)
export const lastReport = shallowRef<SyncReport | null>(null)

// What the header shows: offline wins over everything, since nothing can move then.
export const syncState = computed<'online' | 'offline' | 'syncing' | 'error'>(() => {
  if (!online.value || phase.value === 'offline') return 'offline'
  if (phase.value === 'syncing') return 'syncing'
  if (phase.value === 'error') return 'error'
  return 'online'
})

export const outboxCount = live(() => db.outbox.count(), 0)
export const photosPending = live(() => db.photos.where('state').equals('pending').count(), 0)
export const lastSyncAt = live(
  async () => ((await db.state.get('last_sync_at'))?.value as string | number | null) ?? null,
  null,
)
export const lastSyncError = live(
  async () => ((await db.state.get('last_sync_error'))?.value as unknown) ?? null,
  null,
)

// A new task's notice: shown once, by App.vue, naming the resident or the title.
export interface NewTaskNotice {
  kind: TaskKind
  id: number
  row: TaskRow | undefined
  count: number
}
export const newTaskNotice = shallowRef<NewTaskNotice | null>(null)

engine.on((event) => {
  switch (event.type) {
    case 'phase':
      phase.value = event.phase
      phaseError.value = event.error ?? null
      break
    case 'synced':
      lastReport.value = event.report
      quietUntilSynced = false
      break
    case 'new_tasks': {
      const first = event.tasks[0]
      if (!first || quietUntilSynced) break
      // The most urgent of the new ones is the one to name.
      void Promise.all(event.tasks.map((t) => db.tasks.get([t.kind, t.id]))).then((rows) => {
        const found = rows.filter((r): r is TaskRow => r !== undefined)
        found.sort((a, b) => (a.urgency < b.urgency ? -1 : 1))
        const top = found[0]
        newTaskNotice.value = {
          kind: top?.kind ?? first.kind,
          id: top?.id ?? first.id,
          row: top,
          count: event.tasks.length,
        }
      })
      break
    }
    case 'wiped':
    case 'signed_out':
      userRef.value = null
      signedOutReason.value = { kind: event.type, code: event.code }
      break
  }
})

// ---- a clock for "time left" --------------------------------------------------------

// One shared tick: every card's countdown moves together, and only twice a minute.
export const now = ref(Date.now())
setInterval(() => (now.value = Date.now()), 30_000)
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') now.value = Date.now()
})

// ---- the device's data, for pages ----------------------------------------------------

// Every task on the device, most urgent first (the engine keeps `urgency` as a sortable key).
export function useTasks(): Readonly<Ref<TaskRow[] | null>> {
  return live<TaskRow[] | null>(() => db.tasks.orderBy('urgency').toArray(), null)
}

export function useTask(
  key: () => [TaskKind, number],
): Readonly<Ref<TaskRow | undefined | null>> {
  return liveOf<[TaskKind, number], TaskRow | undefined | null>(
    key,
    ([kind, id]) => db.tasks.get([kind, id]),
    null,
  )
}

// Everything recorded on this device, newest first.
export function useRecorded(): Readonly<Ref<RecordedRow[]>> {
  return live(() => db.recorded.orderBy('created_at').reverse().toArray(), [] as RecordedRow[])
}

export function useRecordedFor(key: () => [TaskKind, number]): Readonly<Ref<RecordedRow[]>> {
  return liveOf<[TaskKind, number], RecordedRow[]>(
    key,
    ([kind, id]) => db.recorded.where('[kind+task_id]').equals([kind, id]).sortBy('created_at'),
    [],
  )
}

// Photos without their bytes' worth of work: the rows carry the Blob by reference.
export function usePhotos(): Readonly<Ref<PhotoRow[]>> {
  return live(() => db.photos.orderBy('sha256').toArray(), [] as PhotoRow[])
}

export function usePhoto(sha: () => string): Readonly<Ref<PhotoRow | undefined | null>> {
  return liveOf<string, PhotoRow | undefined | null>(sha, (s) => db.photos.get(s), null)
}
