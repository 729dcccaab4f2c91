// The one sync engine of this app, on the one device database. Pages never talk to the
// server themselves: they call the engine and read what it wrote (store.ts).
import { createEngine } from '../sync/engine'
import { BeatDB } from '../sync/store'

export const db = new BeatDB()
export const engine = createEngine({ baseUrl: location.origin, db })
