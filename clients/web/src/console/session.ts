// Who is logged in, and the reference data every page names things with (units, users).
// Nothing here is a secret: the session itself is in HttpOnly cookies.
import { computed, ref, shallowRef } from 'vue'
import { api, ok, whoAmI, type Me, type Schemas } from './api'

export const me = shallowRef<Me | null>(null)
export const units = shallowRef<Schemas['UnitOut'][]>([])
export const users = shallowRef<Schemas['UserOut'][]>([])
const loaded = ref(false)

export const isAdmin = computed(() => me.value?.role === 'city_admin')

export const unitName = (id: string | null | undefined): string =>
  (id && units.value.find((u) => u.id === id)?.name) || id || ''

export const userName = (id: number | null | undefined): string =>
  id == null ? '' : (users.value.find((u) => u.id === id)?.name ?? `#${id}`)

export async function loadReference(force = false): Promise<void> {
  if (loaded.value && !force) return
  const [u, p] = await Promise.all([
    ok(api.GET('/api/v1/units')),
    ok(api.GET('/api/v1/users', { params: { query: {} } })).catch(() => []),
  ])
  units.value = u
  users.value = p
  loaded.value = true
}

// The session from the cookies, if any: asked once at start, so a reload stays logged in.
export async function restore(): Promise<Me | null> {
  me.value = await whoAmI().catch(() => null)
  return me.value
}

export function clear(): void {
  me.value = null
  units.value = []
  users.value = []
  loaded.value = false
}
