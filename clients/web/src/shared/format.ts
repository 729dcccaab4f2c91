// Dates, money and time left, the way Chinese police read them: the clock of Asia/Shanghai
// whatever the phone is set to, yuan with thousands separators. No words here: callers
// put the numbers into i18n messages.

export const TIME_ZONE = 'Asia/Shanghai'
const CST_OFFSET_MS = 8 * 60 * 60 * 1000

const dateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
})

const shortDateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TIME_ZONE,
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
})

const yuan = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 0 })

function toDate(value: string | number | Date): Date | null {
  const d = value instanceof Date ? value : new Date(value)
  return Number.isNaN(d.getTime()) ? null : d
}

// 2024/05/01 14:05
export function formatDateTime(value: string | number | Date | null | undefined): string {
  const d = value == null ? null : toDate(value)
  return d ? dateTime.format(d) : ''
}

// 05/01 14:05, for cards and lists where the year goes without saying.
export function formatShortDateTime(value: string | number | Date | null | undefined): string {
  const d = value == null ? null : toDate(value)
  return d ? shortDateTime.format(d) : ''
}

// A publicity window's day (YYYY-MM-DD on the wire) as 05月01日.
export function formatDay(day: string | null | undefined): string {
  const m = day ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(day) : null
  return m ? `${m[2]}月${m[3]}日` : (day ?? '')
}

// 100,000 (the caller adds 元).
export function formatYuan(amount: number | null | undefined): string {
  return amount == null ? '' : yuan.format(amount)
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

export interface TimeLeft {
  overdue: boolean
  // The unit the message should use, and the parts of the span in it.
  unit: 'min' | 'hour' | 'day'
  d: number
  h: number
  m: number
}

// How long until (or since) a deadline, in whole minutes rounded towards "less time
// left": an officer must never read more time than there is.
export function timeLeft(dueMs: number, nowMs: number): TimeLeft {
  const diff = dueMs - nowMs
  const overdue = diff < 0
  const minutes = overdue ? Math.ceil(-diff / 60000) : Math.floor(diff / 60000)
  const d = Math.floor(minutes / 1440)
  const h = Math.floor((minutes % 1440) / 60)
  const m = minutes % 60
  const unit = minutes < 60 ? 'min' : minutes < 1440 ? 'hour' : 'day'
  return { overdue, unit, d, h, m: unit === 'min' ? minutes : m }
}

// The value of an <input type="datetime-local"> for an instant, in China Standard Time.
export function toLocalInput(value: string | number | Date): string {
  const d = toDate(value)
  if (!d) return ''
  return new Date(d.getTime() + CST_OFFSET_MS).toISOString().slice(0, 16)
}

// An <input type="datetime-local"> value read as China Standard Time, as an ISO instant.
export function fromLocalInput(value: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null
  const ms = Date.parse(`${value.length === 16 ? `${value}:00` : value}+08:00`)
  return Number.isNaN(ms) ? null : new Date(ms).toISOString()
}
