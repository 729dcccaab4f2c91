// Web history under /console/: the server answers index.html for any /console/ path, so a
// link to a warning can be pasted into a chat and opened by another supervisor.
import { createRouter, createWebHistory } from 'vue-router'
import { isAdmin, me, restore } from './session'
import TodayPage from './pages/TodayPage.vue'

export const router = createRouter({
  history: createWebHistory('/console/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true } },
    { path: '/', name: 'today', component: TodayPage },
    { path: '/late', name: 'late', component: () => import('./pages/LatePage.vue') },
    { path: '/warnings', name: 'warnings', component: () => import('./pages/WarningsPage.vue') },
    { path: '/warnings/:id', name: 'warning', component: () => import('./pages/WarningPage.vue'), props: true },
    { path: '/review', name: 'review', component: () => import('./pages/ReviewPage.vue') },
    { path: '/conflicts', name: 'conflicts', component: () => import('./pages/ConflictsPage.vue') },
    { path: '/bulletin', name: 'bulletin', component: () => import('./pages/BulletinPage.vue') },
    { path: '/publicity', name: 'publicity', component: () => import('./pages/PublicityPage.vue') },
    { path: '/admin', name: 'admin', component: () => import('./pages/AdminPage.vue'), meta: { admin: true } },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

let restored = false
router.beforeEach(async (to) => {
  if (!restored) {
    restored = true
    await restore()
  }
  if (to.meta.public) return me.value && to.name === 'login' ? { name: 'today' } : true
  if (!me.value) return { name: 'login', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (to.meta.admin && !isAdmin.value) return { name: 'today' }
  return true
})
