/**
 * CTRF (Common Test Report Format, spec `0.0.1`) reports: the machine-readable result of a run.
 *
 * Details: one report per phase is built with {@link build}; the reports of a run are combined with
 * {@link merge} and written with {@link toJson}. Every function here is pure: clock values (ms since the epoch)
 * are passed in by the caller. Reports are kept canonical — optional fields that are empty (`message: ""`,
 * `stdout: []`, `suite: []`, `extra: {}`, an environment without values) are absent — so that
 * `decode(toJson(report))` gives back an equal report.
 */
import * as z from "zod"
import * as Problem from "./Problem.ts"

/** The status of one test. `other` means inconclusive: the check could not determine a verdict. */
export type Status = "passed" | "failed" | "skipped" | "pending" | "other"

/** The result of one check. */
export interface TestResult {
  readonly name: string
  readonly status: Status
  /** Milliseconds, a non-negative integer. */
  readonly duration: number
  /** `[phase]` for the checks of a phase. */
  readonly suite?: ReadonlyArray<string> | undefined
  readonly message?: string | undefined
  readonly stdout?: ReadonlyArray<string> | undefined
  /** Measured figures and other JSON-serializable values (`{ "throughput": 5120, "unit": "tokens/s" }`). */
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/** Counters of a report; `start` and `stop` are milliseconds since the epoch. */
export interface Summary {
  readonly tests: number
  readonly passed: number
  readonly failed: number
  readonly skipped: number
  readonly pending: number
  readonly other: number
  readonly start: number
  readonly stop: number
}

/** Where the report was produced: application, version, cluster. */
export interface Environment {
  readonly appName?: string | undefined
  readonly appVersion?: string | undefined
  readonly testEnvironment?: string | undefined
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/** A CTRF report. */
export interface Report {
  readonly reportFormat: "CTRF"
  readonly specVersion: "0.0.1"
  /** RFC 3339, UTC, whole seconds (`2026-03-21T10:00:00Z`). */
  readonly timestamp: string
  readonly generatedBy: "aicr"
  readonly results: {
    readonly tool: { readonly name: "aicr"; readonly version?: string | undefined }
    readonly summary: Summary
    readonly tests: ReadonlyArray<TestResult>
    readonly environment?: Environment | undefined
  }
}

/** The outcome of {@link decode}: the report, or every problem found in the text. */
export type DecodeResult =
  | { readonly _tag: "Ok"; readonly report: Report }
  | { readonly _tag: "Error"; readonly problems: ReadonlyArray<Problem.Problem> }

/** Formats milliseconds since the epoch as RFC 3339 UTC with whole seconds, as upstream does. */
export const timestampOf = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z")

const isEmptyRecord = (record: Readonly<Record<string, unknown>> | undefined): boolean =>
  record === undefined || Object.keys(record).length === 0

const normalizeDuration = (ms: number): number => (Number.isFinite(ms) && ms > 0 ? Math.round(ms) : 0)

const normalizeTest = (test: TestResult): TestResult => ({
  name: test.name,
  status: test.status,
  duration: normalizeDuration(test.duration),
  ...(test.suite !== undefined && test.suite.length > 0 ? { suite: [...test.suite] } : {}),
  ...(test.message !== undefined && test.message !== "" ? { message: test.message } : {}),
  ...(test.stdout !== undefined && test.stdout.length > 0 ? { stdout: [...test.stdout] } : {}),
  ...(!isEmptyRecord(test.extra) ? { extra: { ...test.extra } } : {})
})

const normalizeEnvironment = (environment: Environment | undefined): Environment | undefined => {
  if (environment === undefined) return undefined
  const normalized: Environment = {
    ...(environment.appName !== undefined && environment.appName !== "" ? { appName: environment.appName } : {}),
    ...(environment.appVersion !== undefined && environment.appVersion !== ""
      ? { appVersion: environment.appVersion }
      : {}),
    ...(environment.testEnvironment !== undefined && environment.testEnvironment !== ""
      ? { testEnvironment: environment.testEnvironment }
      : {}),
    ...(!isEmptyRecord(environment.extra) ? { extra: { ...environment.extra } } : {})
  }
  return Object.keys(normalized).length === 0 ? undefined : normalized
}

const countStatuses = (
  tests: ReadonlyArray<TestResult>
): Pick<Summary, "tests" | "passed" | "failed" | "skipped" | "pending" | "other"> => {
  const counts = { tests: tests.length, passed: 0, failed: 0, skipped: 0, pending: 0, other: 0 }
  for (const test of tests) counts[test.status] += 1
  return counts
}

const assemble = (input: {
  readonly version?: string | undefined
  readonly timestamp: string
  readonly summary: Summary
  readonly tests: ReadonlyArray<TestResult>
  readonly environment?: Environment | undefined
}): Report => {
  const environment = normalizeEnvironment(input.environment)
  return {
    reportFormat: "CTRF",
    specVersion: "0.0.1",
    timestamp: input.timestamp,
    generatedBy: "aicr",
    results: {
      tool: input.version !== undefined && input.version !== "" ? { name: "aicr", version: input.version } : { name: "aicr" },
      summary: input.summary,
      tests: input.tests,
      ...(environment !== undefined ? { environment } : {})
    }
  }
}

/**
 * Builds a report from test results: counts the statuses, takes `start`/`stop` as given and sets `timestamp`
 * to `stop`.
 *
 * Details: tests keep their order; empty optional fields are dropped and durations are rounded to whole
 * non-negative milliseconds.
 */
export const build = (input: {
  readonly version?: string | undefined
  readonly start: number
  readonly stop: number
  readonly tests: ReadonlyArray<TestResult>
  readonly environment?: Environment | undefined
}): Report => {
  const tests = input.tests.map(normalizeTest)
  return assemble({
    version: input.version,
    timestamp: timestampOf(input.stop),
    summary: { ...countStatuses(tests), start: input.start, stop: input.stop },
    tests,
    environment: input.environment
  })
}

/** A synthetic skipped result for a check that was not run: duration 0, suite `[phase]`, message `reason`. */
export const skipped = (name: string, phase: string, reason: string): TestResult =>
  normalizeTest({ name, status: "skipped", duration: 0, suite: [phase], message: reason })

/**
 * Combines the reports of a run's phases into one.
 *
 * Details: `undefined` entries are ignored. Exactly one report is returned unchanged (the same object).
 * Otherwise tests are concatenated in the given order, counters summed, `start` is the earliest, `stop` the
 * latest, `timestamp` the first report's, the environment the last one present, and the tool version
 * `version` when given, else the first report's. No report gives an empty report stamped `now`.
 */
export const merge = (reports: ReadonlyArray<Report | undefined>, now: number, version?: string): Report => {
  const present = reports.filter((report): report is Report => report !== undefined)
  const [first] = present
  if (first === undefined) {
    return assemble({
      version,
      timestamp: timestampOf(now),
      summary: { tests: 0, passed: 0, failed: 0, skipped: 0, pending: 0, other: 0, start: now, stop: now },
      tests: []
    })
  }
  if (present.length === 1) return first
  const summaries = present.map((report) => report.results.summary)
  const sum = (key: "tests" | "passed" | "failed" | "skipped" | "pending" | "other"): number =>
    summaries.reduce((total, summary) => total + summary[key], 0)
  return assemble({
    version: version ?? first.results.tool.version,
    timestamp: first.timestamp,
    summary: {
      tests: sum("tests"),
      passed: sum("passed"),
      failed: sum("failed"),
      skipped: sum("skipped"),
      pending: sum("pending"),
      other: sum("other"),
      start: Math.min(...summaries.map((summary) => summary.start)),
      stop: Math.max(...summaries.map((summary) => summary.stop))
    },
    tests: present.flatMap((report) => report.results.tests),
    environment: present.findLast((report) => report.results.environment !== undefined)?.results.environment
  })
}

const canonical = (report: Report): Report =>
  assemble({
    version: report.results.tool.version,
    timestamp: report.timestamp,
    summary: report.results.summary,
    tests: report.results.tests.map(normalizeTest),
    environment: report.results.environment
  })

/**
 * Serializes a report as 2-space-indented JSON, leaving out empty optional fields.
 *
 * *Gotchas*: no trailing newline; a writer of a file adds one.
 */
export const toJson = (report: Report): string => JSON.stringify(canonical(report), null, 2)

const StatusSchema = z.enum(["passed", "failed", "skipped", "pending", "other"])
const Count = z.number().int().nonnegative()
const JsonRecord = z.record(z.string(), z.json())

const ReportSchema = z.object({
  reportFormat: z.literal("CTRF"),
  specVersion: z.literal("0.0.1"),
  timestamp: z.iso.datetime({ offset: true }),
  generatedBy: z.literal("aicr"),
  results: z.object({
    tool: z.object({ name: z.literal("aicr"), version: z.string().optional() }),
    summary: z.object({
      tests: Count,
      passed: Count,
      failed: Count,
      skipped: Count,
      pending: Count,
      other: Count,
      start: z.number().int(),
      stop: z.number().int()
    }),
    tests: z.array(z.object({
      name: z.string().min(1),
      status: StatusSchema,
      duration: z.number().nonnegative(),
      suite: z.array(z.string()).optional(),
      message: z.string().optional(),
      stdout: z.array(z.string()).optional(),
      extra: JsonRecord.optional()
    })),
    environment: z.object({
      appName: z.string().optional(),
      appVersion: z.string().optional(),
      testEnvironment: z.string().optional(),
      extra: JsonRecord.optional()
    }).optional()
  })
})

/**
 * Parses and validates a CTRF report produced by aicr (JSON text), collecting every problem.
 *
 * Details: `source` (file, URL or `cm://ns/name`) is put on each problem. Unknown fields are dropped and the
 * result is canonical, so `decode(toJson(r))` equals `r` for a report made by {@link build} or {@link merge}.
 */
export const decode = (json: string, source?: string): DecodeResult => {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return { _tag: "Error", problems: [{ message: `not valid JSON (${reason}); expected a CTRF report`, source }] }
  }
  const parsed = ReportSchema.safeParse(value)
  if (!parsed.success) {
    return {
      _tag: "Error",
      problems: parsed.error.issues.map((issue) => ({
        message: issue.message,
        source,
        path: Problem.pathOf(issue.path.filter((segment) => typeof segment !== "symbol"))
      }))
    }
  }
  return { _tag: "Ok", report: canonical(parsed.data) }
}

/**
 * The status of a phase from its summary: `failed` if any test failed, else `other` if any was inconclusive,
 * else `skipped` if no test passed (none at all, or all skipped or pending), else `passed`.
 *
 * *Gotchas*: unlike upstream, a phase whose tests were all skipped is `skipped`, never `passed`.
 */
export const phaseStatus = (summary: Summary): "passed" | "failed" | "skipped" | "other" => {
  if (summary.failed > 0) return "failed"
  if (summary.other > 0) return "other"
  if (summary.tests === 0 || summary.passed === 0) return "skipped"
  return "passed"
}

/** The status of an in-cluster check from its container's exit code: 0 passed, 1 failed, 2 skipped, else other. */
export const fromExitCode = (code: number): Status => {
  switch (code) {
    case 0:
      return "passed"
    case 1:
      return "failed"
    case 2:
      return "skipped"
    default:
      return "other"
  }
}
