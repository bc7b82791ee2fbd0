/**
 * Go duration strings (`90s`, `2m`, `1h30m`, `1.5h`, `500ms`), as upstream's catalog timeouts and every `AICR_*`
 * duration knob are written: parsing to milliseconds and rendering milliseconds back.
 */
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  "\u00b5s": 1e-3,
  "\u03bcs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000
}

const WHOLE = /^[-+]?((\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+$/
const PART = /(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/g

/**
 * Parses a Go duration string (`90s`, `2m`, `1h30m`, `1.5h`, `500ms`, `0`) into milliseconds; `undefined` when
 * the text is not one. A leading sign is accepted as in Go.
 */
export const parse = (text: string): number | undefined => {
  if (text === "0" || text === "+0" || text === "-0") return 0
  if (!WHOLE.test(text)) return undefined
  const sign = text.startsWith("-") ? -1 : 1
  let total = 0
  for (const match of text.matchAll(PART)) total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? Number.NaN)
  return sign * total
}

/** A duration knob's value: `parse` of the trimmed text, refusing a negative sign (`+` is allowed, as in Go). */
export const parseUnsigned = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (trimmed.startsWith("-")) return undefined
  const ms = parse(trimmed)
  return ms !== undefined && Number.isFinite(ms) ? ms : undefined
}

/** Milliseconds as the shortest whole Go duration (`1800000` → `30m`, `90000` → `90s`, `500` → `500ms`). */
export const format = (ms: number): string => {
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}
