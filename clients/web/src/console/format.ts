// Figures as supervisors read them: rates as percentages with one decimal, minutes whole,
// days in China Standard Time whatever the desk's clock is set to.
import { TIME_ZONE, formatDateTime, formatYuan } from '../shared/format'
import { ct } from './i18n'

export { formatDateTime, formatYuan }

const dayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' })
const clockFormat = new Intl.DateTimeFormat('zh-CN', { timeZone: TIME_ZONE, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })

// YYYY-MM-DD in Beijing time, the day every report is cut on.
export function cstDay(at: Date = new Date()): string {
  return dayFormat.format(at)
}

export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`)
  d.setUTCDate(d.getUTCDate() + n)
  return d.toISOString().slice(0, 10)
}

export function clock(at: Date): string {
  return clockFormat.format(at)
}

export function rate(value: number | null | undefined): string {
  return value == null ? ct('kpi.none') : `${(value * 100).toFixed(1)}%`
}

export function minutes(value: number | null | undefined): string {
  return value == null ? ct('kpi.none') : ct('kpi.minutes', { n: Math.round(value) })
}

// How long since an instant, in the largest unit that reads well.
export function since(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return ct('kpi.none')
  const mins = Math.max(0, Math.floor((now - Date.parse(iso)) / 60000))
  if (mins < 60) return ct('common.minutes', { n: mins })
  if (mins < 1440) return ct('common.hours', { h: Math.floor(mins / 60), m: mins % 60 })
  return ct('common.days', { d: Math.floor(mins / 1440), h: Math.floor((mins % 1440) / 60) })
}
