import { createApp } from 'vue'
import { registerSW } from 'virtual:pwa-register'
import { i18n } from '../i18n'
import App from './App.vue'
import { router } from './router'
import { useVant } from './vant'
import './theme.css'

const app = createApp(App)
app.use(i18n)
app.use(router)
useVant(app)
app.mount('#app')

// A new build replaces the old one at the next start (autoUpdate); the outbox lives in
// IndexedDB, so reloading onto a new version loses nothing.
registerSW({ immediate: true })
