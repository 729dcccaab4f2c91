// Hybrid logical clocks, as sync/hlc.py defines them: (wall ms, counter, node), encoded
// as text that sorts like the clock. The wall clock is a number: milliseconds stay exact
// in a double until the year 287,396.
const WALL_DIGITS = 18
const COUNTER_DIGITS = 5
export const MAX_COUNTER = 10 ** COUNTER_DIGITS - 1

export interface HLC {
  wallMs: number
  counter: number
  node: string
}

export class HlcOverflowError extends Error {
  constructor() {
    super('HLC counter overflow')
    this.name = 'HlcOverflowError'
  }
}

export function encodeHlc(clock: HLC): string {
  const wall = String(clock.wallMs).padStart(WALL_DIGITS, '0')
  const counter = String(clock.counter).padStart(COUNTER_DIGITS, '0')
  return `${wall}-${counter}-${clock.node}`
}

const DIGITS = /^[0-9]+$/

// Throws a RangeError when the text is not an HLC (hlc.py raises ValueError for the same).
export function decodeHlc(text: string): HLC {
  const first = text.indexOf('-')
  const second = first < 0 ? -1 : text.indexOf('-', first + 1)
  if (second < 0) throw new RangeError(`not an HLC: ${JSON.stringify(text)}`)
  const wall = text.slice(0, first)
  const counter = text.slice(first + 1, second)
  const node = text.slice(second + 1)
  if (
    wall.length !== WALL_DIGITS ||
    counter.length !== COUNTER_DIGITS ||
    !node ||
    !DIGITS.test(wall) ||
    !DIGITS.test(counter)
  ) {
    throw new RangeError(`not an HLC: ${JSON.stringify(text)}`)
  }
  return { wallMs: Number(wall), counter: Number(counter), node }
}

export function zeroHlc(node: string): HLC {
  return { wallMs: 0, counter: 0, node }
}

// The clock for a local event (a record made on this device).
export function tick(last: HLC, nowMs: number): HLC {
  if (nowMs > last.wallMs) return { wallMs: nowMs, counter: 0, node: last.node }
  return { wallMs: last.wallMs, counter: nextCounter(last.counter), node: last.node }
}

// The clock after receiving `remote` (a pull, a push's answer).
export function merge(last: HLC, remote: HLC, nowMs: number): HLC {
  const wall = Math.max(last.wallMs, remote.wallMs, nowMs)
  let counter: number
  if (wall === last.wallMs && wall === remote.wallMs) {
    counter = nextCounter(Math.max(last.counter, remote.counter))
  } else if (wall === last.wallMs) {
    counter = nextCounter(last.counter)
  } else if (wall === remote.wallMs) {
    counter = nextCounter(remote.counter)
  } else {
    counter = 0
  }
  return { wallMs: wall, counter, node: last.node }
}

function nextCounter(counter: number): number {
  // Only a burst of 100,000 events within one millisecond gets here.
  if (counter >= MAX_COUNTER) throw new HlcOverflowError()
  return counter + 1
}
