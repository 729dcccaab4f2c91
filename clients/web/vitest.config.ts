// Unit tests of the sync engine and the API client: Node, with IndexedDB from
// fake-indexeddb and the network replaced by in-test server doubles.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    setupFiles: ['./src/sync/test-setup.ts'],
  },
})
