// Builds the officers' phone app: served by beatsync at /app/, installable, and usable with
// no signal once opened. The service worker is for this app only.
import { fileURLToPath } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'
import { VitePWA } from 'vite-plugin-pwa'

const here = fileURLToPath(new URL('.', import.meta.url))
const at = (path: string) => fileURLToPath(new URL(path, import.meta.url))

const THEME = '#0b2a5b'
// The beatsync server the dev server hands /api to (`beatsync serve --demo --port 8765`);
// BEATSYNC_DEV_API points it elsewhere when two developers share a machine.
const API = process.env.BEATSYNC_DEV_API ?? 'http://127.0.0.1:8765'

export default defineConfig({
  // The officer app's index.html is the page root, so the built file lands at
  // dist/app/index.html (what the server serves at /app/) and not under src/officer/.
  root: at('./src/officer'),
  base: '/app/',
  publicDir: at('./public'),
  envDir: here,
  define: {
    // vue-i18n's esm-bundler build asks for these; the legacy API is never used.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: at('./dist/app'),
    emptyOutDir: true,
    target: 'es2020',
    // Phones on village networks: no source maps to fetch. The first-load budget is 250 KB
    // gzipped (about 200 KB now, JS and CSS); the warning is on raw size, set to sound when
    // the main chunk nears that budget.
    sourcemap: false,
    chunkSizeWarningLimit: 650,
  },
  server: {
    host: '127.0.0.1',
    port: Number(process.env.BEATSYNC_DEV_PORT ?? 5173),
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
  plugins: [
    vue(),
    VitePWA({
      registerType: 'autoUpdate',
      strategies: 'generateSW',
      injectRegister: false,
      manifestFilename: 'manifest.webmanifest',
      includeAssets: ['icons/favicon-32.png', 'icons/apple-touch-icon.png'],
      manifest: {
        name: '反诈预警处置',
        short_name: '反诈预警',
        description: '民警接收预警指令和宣传任务，离线记录走访与现场照片，联网后自动上传。',
        lang: 'zh-CN',
        dir: 'ltr',
        display: 'standalone',
        orientation: 'portrait',
        start_url: '/app/',
        scope: '/app/',
        id: '/app/',
        theme_color: THEME,
        background_color: '#f2f4f8',
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          {
            src: 'icons/maskable-512.png',
            sizes: '512x512',
            type: 'image/png',
            purpose: 'maskable',
          },
        ],
      },
      workbox: {
        // The whole shell and every hashed asset, so the app opens in a village with no
        // signal; residents' data lives in IndexedDB, never in the cache.
        globPatterns: ['**/*.{js,css,html,png,svg,ico,webmanifest,woff2}'],
        navigateFallback: '/app/index.html',
        navigateFallbackDenylist: [/^\/api\//],
        // No runtimeCaching: /api/ answers carry residents' personal data and must never
        // be kept by the service worker; they go to the network untouched.
        runtimeCaching: [],
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
      devOptions: { enabled: false },
    }),
  ],
})
