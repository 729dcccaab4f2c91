// The console shares the officers' i18n set-up (problem codes, enum words, locale choice)
// and adds its own words as the `console` section, which the officers' app never loads.
import { i18n, word } from '../i18n'
import consoleEn from '../i18n/console.en'
import consoleZhCN from '../i18n/console.zh-CN'

export function installConsoleMessages(): void {
  i18n.global.mergeLocaleMessage('zh-CN', { console: consoleZhCN })
  i18n.global.mergeLocaleMessage('en', { console: consoleEn })
}

type Values = Record<string, unknown>
// A console message by its key under `console.`.
export function ct(key: string, values?: Values): string {
  const t = i18n.global.t as (k: string, v?: Values) => string
  return values ? t(`console.${key}`, values) : t(`console.${key}`)
}

// A code from the wire in words from the console's own groups (reason, queue, level…),
// or the code itself for one added after this build.
export function cword(group: string, value: string | null | undefined): string {
  if (!value) return ct('common.none')
  const key = `console.${group}.${value}`
  return i18n.global.te(key, 'zh-CN') ? ct(`${group}.${value}`) : value
}

export { word }
