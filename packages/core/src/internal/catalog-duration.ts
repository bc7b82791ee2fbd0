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
export const parseGoDuration = (text: string): number | undefined => {
  if (text === "0" || text === "+0" || text === "-0") return 0
  if (!WHOLE.test(text)) return undefined
  const sign = text.startsWith("-") ? -1 : 1
  let total = 0
  for (const match of text.matchAll(PART)) total += Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? Number.NaN)
  return sign * total
}
