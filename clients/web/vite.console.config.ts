// Builds the supervisors' console: served by beatsync at /console/, for desks on the police
// intranet. No service worker: a supervisor's figures must be live, never a cached copy.
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

const here = fileURLToPath(new URL('.', import.meta.url))
const at = (path: string) => fileURLToPath(new URL(path, import.meta.url))

// The demo server the dev server hands /api to; BEATSYNC_DEV_API points elsewhere.
const API = process.env.BEATSYNC_DEV_API ?? 'http://127.0.0.1:8791'

export default defineConfig({
  root: at('./src/console'),
  base: '/console/',
  publicDir: at('./public'),
  envDir: here,
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: at('./dist/console'),
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    // Element Plus and ECharts are each about 500 KB raw; ECharts loads only with the charts.
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      output: {
        // Libraries change less often than pages: separate chunks stay cached across builds.
        manualChunks(id: string) {
          if (id.includes('node_modules/element-plus') || id.includes('node_modules/@element-plus')) return 'element-plus'
          return undefined
        },
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: Number(process.env.BEATSYNC_DEV_PORT ?? 5192),
    strictPort: true,
    proxy: {
      '/api': { target: API, changeOrigin: false },
    },
  },
  preview: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: API, changeOrigin: false },
    },
  },
  plugins: [vue()],
})
