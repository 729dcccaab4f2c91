import { describe, expect, it } from 'vitest'
import { formatDateTime, formatYuan, fromLocalInput, timeLeft, toLocalInput } from './format'

describe('format', () => {
  it('shows times in China Standard Time', () => {
    expect(formatDateTime('2024-05-01T06:05:00Z')).toBe('2024/05/01 14:05')
  })
  it('round-trips the datetime input in CST', () => {
    expect(toLocalInput('2024-05-01T06:05:00Z')).toBe('2024-05-01T14:05')
    expect(fromLocalInput('2024-05-01T14:05')).toBe('2024-05-01T06:05:00.000Z')
  })
  it('groups yuan by thousands', () => {
    expect(formatYuan(100000)).toBe('100,000')
  })
  it('never shows more time left than there is', () => {
    const now = 0
    expect(timeLeft(35 * 60000 + 59000, now)).toMatchObject({ overdue: false, unit: 'min', m: 35 })
    expect(timeLeft(-(11 * 60000 + 1000), now)).toMatchObject({ overdue: true, unit: 'min', m: 12 })
    expect(timeLeft((2 * 60 + 5) * 60000, now)).toMatchObject({ unit: 'hour', h: 2, m: 5 })
    expect(timeLeft((26 * 60) * 60000, now)).toMatchObject({ unit: 'day', d: 1, h: 2 })
  })
})
