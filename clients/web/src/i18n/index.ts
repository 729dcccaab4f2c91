// One i18n instance for the officers' app: Chinese first, English second. Codes that come
// from the server (problems, conflict rules, enum values) are turned into words here, with
// a sentence for codes this build does not know yet rather than a raw key on screen.
import { createI18n } from 'vue-i18n'
import en from './en'
import zhCN, { type Messages } from './zh-CN'

export type Locale = 'zh-CN' | 'en'

const LOCALE_KEY = 'beatsync.locale'

function startLocale(): Locale {
  try {
    return localStorage.getItem(LOCALE_KEY) === 'en' ? 'en' : 'zh-CN'
  } catch {
    return 'zh-CN'
  }
}

export const i18n = createI18n<[Messages], Locale, false>({
  legacy: false,
  locale: startLocale(),
  fallbackLocale: 'zh-CN',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
})

export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  document.documentElement.lang = locale
  try {
    localStorage.setItem(LOCALE_KEY, locale)
  } catch {
    // Private mode: the choice lasts for this session only.
  }
}

const t = (key: string, values?: Record<string, unknown>): string =>
  values ? i18n.global.t(key, values) : i18n.global.t(key)

const has = (key: string): boolean => i18n.global.te(key, 'zh-CN')

// A server code as a sentence; `problem.unknown` names a code this build has no words for.
export function problemText(code: string | null | undefined): string {
  if (!code) return t('problem.unknown', { code: '-' })
  return has(`problem.${code}`) ? t(`problem.${code}`) : t('problem.unknown', { code })
}

export function conflictText(rule: string | null | undefined): string {
  return rule && has(`conflict.${rule}`) ? t(`conflict.${rule}`) : t('conflict.unknown')
}

// An enum value from the wire in words (fraud type, state, venue…); an unknown value shows
// as itself, which is still better than nothing for a value added after this build.
export function word(group: keyof Messages, value: string | null | undefined): string {
  if (!value) return t('task.none')
  return has(`${group}.${value}`) ? t(`${group}.${value}`) : value
}

// Any error thrown by the engine as a sentence for the officer.
export function errorText(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { name?: string; code?: unknown; message?: unknown }
    if (e.name === 'OfflineError') return t('errors.offline')
    if (typeof e.code === 'string') return problemText(e.code)
    if (typeof e.message === 'string') return t('errors.unknown', { reason: e.message })
  }
  return t('errors.unknown', { reason: String(error) })
}
