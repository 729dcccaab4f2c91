// Hash history: every screen lives at /app/ itself, so the server needs no fallback route
// for deep links, the service worker's one precached index.html opens any screen offline,
// and a reload in a village with no signal never asks the network for /app/task/….
import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import LoginPage from './pages/LoginPage.vue'
import TasksPage from './pages/TasksPage.vue'
import { ready, user } from './store'

declare module 'vue-router' {
  interface RouteMeta {
    // Reachable without signing in.
    public?: boolean
    // Which tab of the bottom bar is lit; no tab bar when absent.
    tab?: 'tasks' | 'outbox' | 'me'
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/', redirect: '/tasks' },
  { path: '/login', name: 'login', component: LoginPage, meta: { public: true } },
  { path: '/tasks', name: 'tasks', component: TasksPage, meta: { tab: 'tasks' } },
  {
    path: '/task/:kind(warning|publicity)/:id(\\d+)',
    name: 'task',
    component: () => import('./pages/TaskPage.vue'),
  },
  {
    path: '/task/:kind(warning|publicity)/:id(\\d+)/record',
    name: 'record',
    component: () => import('./pages/RecordVisitPage.vue'),
  },
  {
    path: '/outbox',
    name: 'outbox',
    component: () => import('./pages/OutboxPage.vue'),
    meta: { tab: 'outbox' },
  },
  { path: '/me', name: 'me', component: () => import('./pages/MePage.vue'), meta: { tab: 'me' } },
  { path: '/:rest(.*)*', redirect: '/tasks' },
]

export const router = createRouter({
  history: createWebHashHistory(),
  routes,
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

router.beforeEach(async (to) => {
  await ready()
  if (!to.meta.public && !user.value) return { name: 'login', query: { next: to.fullPath } }
  if (to.name === 'login' && user.value) return { name: 'tasks' }
  return true
})
