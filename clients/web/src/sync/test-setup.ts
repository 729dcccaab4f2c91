// IndexedDB for Dexie under Node (Blob included: Node 20 clones it like a browser does).
import 'fake-indexeddb/auto'
