// Every word on screen exists in both languages, and every code the server can answer with
// has a sentence: a code added to docs/errors.md or sync/PROTOCOL.md without words here
// fails this test rather than showing a raw code to an officer.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import en from './en'
import zhCN from './zh-CN'

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url))

function keys(tree: object, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    v && typeof v === 'object' ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k}`],
  )
}

// The codes of a markdown table's first column, written as `code`.
function tableCodes(markdown: string): string[] {
  return [...markdown.matchAll(/^\|\s*`([a-z_]+)`\s*\|/gm)].map((m) => m[1] as string)
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(heading)
  expect(start, heading).toBeGreaterThanOrEqual(0)
  const next = markdown.indexOf('\n## ', start + heading.length)
  return markdown.slice(start, next < 0 ? undefined : next)
}

const errorsMd = readFileSync(`${ROOT}docs/errors.md`, 'utf8')
const protocolMd = readFileSync(`${ROOT}sync/PROTOCOL.md`, 'utf8')

describe('messages', () => {
  it('zh-CN and en have the same keys', () => {
    expect(keys(en).sort()).toEqual(keys(zhCN).sort())
  })

  it('no message is empty', () => {
    for (const tree of [zhCN, en]) {
      for (const key of keys(tree)) {
        const value = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], tree)
        expect(typeof value === 'string' && value.trim().length > 0, key).toBe(true)
      }
    }
  })

  it('every problem code of docs/errors.md has a sentence', () => {
    const codes = tableCodes(errorsMd)
    expect(codes.length).toBeGreaterThan(20)
    for (const code of codes) {
      expect(zhCN.problem, code).toHaveProperty(code)
      expect(en.problem, code).toHaveProperty(code)
    }
  })

  it('every push rejection code of sync/PROTOCOL.md has a sentence', () => {
    const codes = tableCodes(section(protocolMd, 'Rejection codes'))
    expect(codes).toContain('not_assigned')
    for (const code of codes) {
      expect(zhCN.problem, code).toHaveProperty(code)
      expect(en.problem, code).toHaveProperty(code)
    }
  })

  it('every conflict rule of sync/PROTOCOL.md has a sentence', () => {
    const rules = [
      ...section(protocolMd, '## Conflict rules').matchAll(/^\d+\.\s+\*\*`([a-z_]+)`\*\*/gm),
    ].map((m) => m[1] as string)
    expect(rules.length).toBeGreaterThanOrEqual(4)
    for (const rule of rules) {
      expect(zhCN.conflict, rule).toHaveProperty(rule)
      expect(en.conflict, rule).toHaveProperty(rule)
    }
  })
})

describe('console messages', () => {
  it('zh-CN and en have the same keys', async () => {
    const zh = (await import('./console.zh-CN')).default
    const enC = (await import('./console.en')).default
    expect(keys(enC).sort()).toEqual(keys(zh).sort())
    for (const tree of [zh, enC]) {
      for (const key of keys(tree)) {
        const value = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], tree)
        expect(typeof value === 'string' && value.trim().length > 0, key).toBe(true)
      }
    }
  })
})
