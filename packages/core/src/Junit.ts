/**
 * JUnit XML for CI systems (GitLab, Jenkins, GitHub test reporters), rendered from a CTRF report.
 *
 * Details: one `<testsuite>` per suite (phase), in order of first appearance; tests without a suite go in a
 * suite named `aicr`. A testcase's `classname` is `aicr.<phase>` (`aicr` without a suite). `failed` becomes
 * `<failure>`, `other` (inconclusive) `<error>`, `skipped` and `pending` `<skipped>`; stdout lines go in
 * `<system-out>` and `extra` values in `<properties>` (strings as they are, other values as JSON). The `<testsuites>` time is the run's wall clock (`stop − start`), a suite's the
 * sum of its tests' durations; times are seconds with 3 decimals.
 *
 * *Gotchas*: characters XML 1.0 forbids (NUL and other C0 controls except tab, LF and CR; lone surrogates;
 * U+FFFE/U+FFFF) are removed, not escaped. No trailing newline.
 */
import type * as Ctrf from "./Ctrf.ts"

const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu

const escapeText = (text: string): string =>
  text
    .replace(INVALID_XML, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;")

const escapeAttribute = (text: string): string =>
  escapeText(text).replace(/\t/g, "&#9;").replace(/\n/g, "&#10;").replace(/\r/g, "&#13;")

const seconds = (ms: number): string => (Math.max(0, ms) / 1000).toFixed(3)

const attributes = (pairs: ReadonlyArray<readonly [string, string | number]>): string =>
  pairs.map(([name, value]) => ` ${name}="${escapeAttribute(String(value))}"`).join("")

const propertyValue = (value: unknown): string =>
  typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value)

interface Suite {
  readonly name: string
  readonly classname: string
  readonly tests: Array<Ctrf.TestResult>
}

const groupBySuite = (tests: ReadonlyArray<Ctrf.TestResult>): ReadonlyArray<Suite> => {
  const suites = new Map<string, Suite>()
  for (const test of tests) {
    const phase = test.suite !== undefined && test.suite.length > 0 ? test.suite.join(".") : undefined
    const key = phase === undefined ? "" : `.${phase}`
    const suite = suites.get(key) ??
      { name: phase ?? "aicr", classname: phase === undefined ? "aicr" : `aicr.${phase}`, tests: [] }
    suite.tests.push(test)
    suites.set(key, suite)
  }
  return [...suites.values()]
}

const counts = (tests: ReadonlyArray<Ctrf.TestResult>) => ({
  tests: tests.length,
  failures: tests.filter((test) => test.status === "failed").length,
  errors: tests.filter((test) => test.status === "other").length,
  skipped: tests.filter((test) => test.status === "skipped" || test.status === "pending").length
})

const outcome = (test: Ctrf.TestResult): string | undefined => {
  const message = test.message !== undefined && test.message !== "" ? attributes([["message", test.message]]) : ""
  switch (test.status) {
    case "failed":
      return `<failure${message}/>`
    case "other":
      return `<error${message}/>`
    case "skipped":
      return `<skipped${message}/>`
    case "pending":
      return `<skipped${attributes([["message", test.message !== undefined && test.message !== "" ? test.message : "pending"]])}/>`
    case "passed":
      return undefined
  }
}

const testcase = (test: Ctrf.TestResult, classname: string): ReadonlyArray<string> => {
  const open = `<testcase${attributes([["name", test.name], ["classname", classname], ["time", seconds(test.duration)]])}`
  const extra = Object.entries(test.extra ?? {})
  const result = outcome(test)
  const stdout = test.stdout ?? []
  const children = [
    ...(extra.length > 0
      ? [
        "<properties>",
        ...extra.map(([name, value]) => `  <property${attributes([["name", name], ["value", propertyValue(value)]])}/>`),
        "</properties>"
      ]
      : []),
    ...(result !== undefined ? [result] : []),
    ...(stdout.length > 0 ? [`<system-out>${escapeText(stdout.join("\n"))}</system-out>`] : [])
  ]
  if (children.length === 0) return [`${open}/>`]
  return [`${open}>`, ...children.map((line) => `  ${line}`), "</testcase>"]
}

/** Renders a CTRF report as a JUnit XML document. */
export const toJunitXml = (report: Ctrf.Report): string => {
  const { tests, summary } = report.results
  const total = counts(tests)
  const simulated = report.results.environment?.extra?.["simulated"]
  const name = typeof simulated === "string" ? `aicr (simulated cluster: ${simulated})` : "aicr"
  const suites = groupBySuite(tests).flatMap((suite) => {
    const c = counts(suite.tests)
    const time = suite.tests.reduce((sum, test) => sum + test.duration, 0)
    return [
      `<testsuite${attributes([["name", suite.name], ["tests", c.tests], ["failures", c.failures], ["errors", c.errors], ["skipped", c.skipped], ["time", seconds(time)]])}>`,
      ...suite.tests.flatMap((test) => testcase(test, suite.classname)).map((line) => `  ${line}`),
      "</testsuite>"
    ]
  })
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites${attributes([["name", name], ["tests", total.tests], ["failures", total.failures], ["errors", total.errors], ["skipped", total.skipped], ["time", seconds(summary.stop - summary.start)]])}>`,
    ...suites.map((line) => `  ${line}`),
    "</testsuites>"
  ].join("\n")
}
