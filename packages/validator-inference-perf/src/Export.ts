import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

/** The line the AIPerf image prints before and after the export (upstream `aiperfResultSentinel`). */
export const RESULT_SENTINEL = "===AIPERF-RESULT==="

/** The summary export AIPerf writes into its artifact directory. */
export const EXPORT_FILE = "profile_export_aiperf.json"

/** The `schema` of the compact summary the aiperf-bench entrypoint writes to its termination log. */
export const SUMMARY_SCHEMA = "aicr.aiperf-bench/summary/v1"

/** The outcome of {@link extract}: the text between the first two sentinels, trimmed. */
export type Extracted =
  | { readonly _tag: "Ok"; readonly json: string }
  | { readonly _tag: "Error"; readonly message: string }

/**
 * Finds the export between the first `===AIPERF-RESULT===` and the next one in pod logs; noise around them, braces
 * included, is ignored.
 */
export const extract = (logs: string): Extracted => {
  const start = logs.indexOf(RESULT_SENTINEL)
  if (start === -1) {
    return {
      _tag: "Error",
      message: `AIPerf result sentinel "${RESULT_SENTINEL}" not found in pod logs (length=${Buffer.byteLength(logs, "utf8")}); ` +
        "benchmark likely failed"
    }
  }
  const from = start + RESULT_SENTINEL.length
  const end = logs.indexOf(RESULT_SENTINEL, from)
  if (end === -1) {
    return { _tag: "Error", message: "AIPerf result end sentinel not found in pod logs; benchmark may have been truncated" }
  }
  return { _tag: "Ok", json: logs.slice(from, end).trim() }
}

/** One line of AIPerf's own `error_summary`. */
export interface ErrorCount {
  readonly type: string | undefined
  readonly code: number | undefined
  readonly message: string | undefined
  readonly count: number
}

/** What a successful AIPerf run measured. */
export interface Measurement {
  /** `output_token_throughput.avg`, tokens per second. */
  readonly throughput: number
  /** `time_to_first_token.p99`, milliseconds. */
  readonly ttftP99Ms: number
  /** `request_count.avg`: requests that completed without error, when reported. */
  readonly requestCount: number | undefined
  /** `error_request_count.avg`, when reported. */
  readonly errorRequestCount: number | undefined
  /** `total_output_tokens.avg`, when reported. */
  readonly totalOutputTokens: number | undefined
  readonly errors: ReadonlyArray<ErrorCount>
  readonly aiperfVersion: string | undefined
  readonly schemaVersion: string | undefined
}

/** Where a result was read: the full export from the pod logs, or the compact summary of the termination message. */
export type Source = "logs" | "termination-message"

/**
 * The outcome of reading an AIPerf result: a measurement, or why none can be trusted. Never a zero standing in for
 * a missing value. `raw` is the JSON text read, when there was one.
 */
export type Parsed =
  | { readonly _tag: "Measured"; readonly measurement: Measurement; readonly raw: string; readonly source: Source }
  | { readonly _tag: "Inconclusive"; readonly reason: string; readonly raw: string | undefined; readonly source: Source }

const Number_ = Schema.optional(Schema.NullOr(Schema.Number))
const Text = Schema.optional(Schema.NullOr(Schema.String))

const Stat = Schema.Struct({ unit: Text, avg: Number_, p99: Number_ })

const ErrorEntry = Schema.Struct({
  error_details: Schema.optional(Schema.NullOr(Schema.Struct({ code: Number_, type: Text, message: Text }))),
  count: Number_
})

const AIPerfExport = Schema.Struct({
  schema_version: Text,
  aiperf_version: Text,
  records: Schema.optional(Schema.Unknown),
  output_token_throughput: Schema.optional(Schema.NullOr(Stat)),
  time_to_first_token: Schema.optional(Schema.NullOr(Stat)),
  request_count: Schema.optional(Schema.NullOr(Stat)),
  error_request_count: Schema.optional(Schema.NullOr(Stat)),
  total_output_tokens: Schema.optional(Schema.NullOr(Stat)),
  was_cancelled: Schema.optional(Schema.NullOr(Schema.Boolean)),
  error_summary: Schema.optional(Schema.NullOr(Schema.Array(ErrorEntry)))
})

type AIPerfExport = typeof AIPerfExport.Type
type StatBlock = typeof Stat.Type

const decodeJson = Schema.decodeUnknownResult(Schema.fromJsonString(Schema.Unknown))
const decodeExport = Schema.decodeUnknownResult(AIPerfExport)

const TIME_UNITS_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1_000, sec: 1_000 }
const THROUGHPUT_UNITS: ReadonlyArray<string> = ["tokens/sec", "tokens/s", "tok/s"]

const MAX_ERRORS_SHOWN = 5
const MAX_MESSAGE = 200

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text)

/** AIPerf's own error summary as one line, or "" when it reported no error. */
export const formatErrors = (errors: ReadonlyArray<ErrorCount>, omitted = 0): string => {
  if (errors.length === 0 && omitted === 0) return ""
  const shown = errors.slice(0, MAX_ERRORS_SHOWN).map((error) => {
    const kind = [error.type ?? "error", error.code === undefined ? "" : ` (code ${error.code})`].join("")
    return `${error.count} × ${kind}${error.message === undefined ? "" : `: ${clip(error.message, MAX_MESSAGE)}`}`
  })
  const hidden = Math.max(errors.length - MAX_ERRORS_SHOWN, 0) + omitted
  const more = hidden > 0 ? [`${shown.length > 0 ? "and " : ""}${hidden} more kind${hidden === 1 ? "" : "s"} of error`] : []
  return `AIPerf error summary: ${[...shown, ...more].join("; ")}`
}

const errorsOf = (data: AIPerfExport): ReadonlyArray<ErrorCount> =>
  (data.error_summary ?? []).map((entry) => ({
    type: entry.error_details?.type ?? undefined,
    code: entry.error_details?.code ?? undefined,
    message: entry.error_details?.message ?? undefined,
    count: entry.count ?? 0
  }))

const valueOf = (block: StatBlock | null | undefined, field: "avg" | "p99"): number | undefined => {
  const value = block?.[field]
  return typeof value === "number" ? value : undefined
}

type Read = { readonly _tag: "Ok"; readonly value: number } | { readonly _tag: "Error"; readonly reason: string }

const readMetric = (data: AIPerfExport, key: "output_token_throughput" | "time_to_first_token", field: "avg" | "p99"): Read => {
  const block = data[key]
  const value = valueOf(block, field)
  const expected = key === "time_to_first_token" ? "ms" : "tokens/sec"
  if (value === undefined) {
    const hint = key === "time_to_first_token" ? "; AIPerf reports TTFT only for streaming runs" : ""
    return { _tag: "Error", reason: `the AIPerf export has no ${key}.${field} (${expected})${hint}` }
  }
  if (!Number.isFinite(value) || value < 0) {
    return { _tag: "Error", reason: `the AIPerf export's ${key}.${field} is ${value}, not a measurement` }
  }
  const unit = block?.unit ?? undefined
  if (key === "time_to_first_token") {
    const scale = unit === undefined ? 1 : TIME_UNITS_MS[unit]
    if (scale === undefined) {
      return { _tag: "Error", reason: `the AIPerf export gives ${key} in "${unit}", which is not a unit of time` }
    }
    return { _tag: "Ok", value: scale === 1 ? value : Number((value * scale).toPrecision(12)) }
  }
  if (unit !== undefined && !THROUGHPUT_UNITS.includes(unit)) {
    return { _tag: "Error", reason: `the AIPerf export gives ${key} in "${unit}", not tokens/sec` }
  }
  return { _tag: "Ok", value }
}

const withErrors = (reason: string, errors: ReadonlyArray<ErrorCount>, omitted = 0): string => {
  const summary = formatErrors(errors, omitted)
  return summary === "" ? reason : `${reason}; ${summary}`
}

const LEGACY =
  'the AIPerf export uses the legacy layout (metrics under "records", aiperf before October 2025), which aicr does ' +
  "not read: rebuild the aiperf-bench image with a current aiperf"

const judgeExport = (
  data: AIPerfExport,
  omitted = 0
): { readonly _tag: "Ok"; readonly measurement: Measurement } | { readonly _tag: "Error"; readonly reason: string } => {
  const errors = errorsOf(data)
  const fail = (reason: string) => ({ _tag: "Error", reason: withErrors(reason, errors, omitted) }) as const
  if (data.records !== undefined && data.output_token_throughput === undefined && data.time_to_first_token === undefined) {
    return fail(LEGACY)
  }
  if (data.was_cancelled === true) return fail("AIPerf reports the benchmark was cancelled before it finished (was_cancelled: true)")
  const requestCount = valueOf(data.request_count, "avg")
  const errorRequestCount = valueOf(data.error_request_count, "avg")
  const totalOutputTokens = valueOf(data.total_output_tokens, "avg")
  const throughputValue = valueOf(data.output_token_throughput, "avg")
  if (requestCount === 0 || (requestCount === undefined && throughputValue === undefined && (errorRequestCount ?? 0) > 0)) {
    const failed = errorRequestCount === undefined ? "" : ` (${errorRequestCount} failed)`
    return fail(`AIPerf completed no successful request${failed}`)
  }
  if (totalOutputTokens === 0 || throughputValue === 0) {
    return fail(
      "AIPerf measured zero output tokens: the endpoint answered without generating text (workers not serving?), " +
        "so there is no throughput to judge"
    )
  }
  const throughput = readMetric(data, "output_token_throughput", "avg")
  if (throughput._tag === "Error") return fail(throughput.reason)
  const ttft = readMetric(data, "time_to_first_token", "p99")
  if (ttft._tag === "Error") return fail(ttft.reason)
  return {
    _tag: "Ok",
    measurement: {
      throughput: throughput.value,
      ttftP99Ms: ttft.value,
      requestCount,
      errorRequestCount,
      totalOutputTokens,
      errors,
      aiperfVersion: data.aiperf_version ?? undefined,
      schemaVersion: data.schema_version ?? undefined
    }
  }
}

/**
 * Reads an AIPerf summary export (`profile_export_aiperf.json`, or the compact summary of {@link compact}): the
 * throughput and TTFT p99, or why the run cannot be judged — invalid JSON, the legacy `records` layout, a cancelled
 * run, no successful request, zero output tokens, a missing or unusable metric. AIPerf's error summary is appended.
 */
export const parse = (json: string, source: Source = "logs"): Parsed => {
  const raw = json.trim()
  const inconclusive = (reason: string): Parsed => ({ _tag: "Inconclusive", reason, raw, source })
  const parsed = decodeJson(raw)
  if (Result.isFailure(parsed)) {
    return inconclusive(`failed to parse AIPerf JSON output: ${Buffer.byteLength(raw, "utf8")} bytes that are not valid JSON`)
  }
  const decoded = decodeExport(parsed.success)
  if (Result.isFailure(decoded)) {
    return inconclusive(`the AIPerf export does not have the expected shape: ${decoded.failure.message.replaceAll("\n", " ")}`)
  }
  const judged = judgeExport(decoded.success)
  return judged._tag === "Ok"
    ? { _tag: "Measured", measurement: judged.measurement, raw, source }
    : inconclusive(judged.reason)
}

/** Extracts the export from pod logs ({@link extract}) and reads it ({@link parse}). */
export const fromLogs = (logs: string): Parsed => {
  const extracted = extract(logs)
  return extracted._tag === "Ok"
    ? parse(extracted.json, "logs")
    : { _tag: "Inconclusive", reason: extracted.message, raw: undefined, source: "logs" }
}

const SummaryError = Schema.Struct({ code: Number_, type: Text, message: Text, count: Number_ })

const TerminationSummary = Schema.Struct({
  schema: Schema.Literal(SUMMARY_SCHEMA),
  status: Schema.Literals(["ok", "error"]),
  exit_code: Number_,
  aiperf_version: Text,
  output_token_throughput_avg: Number_,
  output_token_throughput_unit: Text,
  time_to_first_token_p99: Number_,
  time_to_first_token_unit: Text,
  request_count: Number_,
  error_request_count: Number_,
  was_cancelled: Schema.optional(Schema.NullOr(Schema.Boolean)),
  error_summary: Schema.optional(Schema.NullOr(Schema.Array(SummaryError))),
  error_summary_omitted: Number_,
  error: Text
})

type TerminationSummary = typeof TerminationSummary.Type

const decodeSummary = Schema.decodeUnknownResult(TerminationSummary)

const stat = (unit: string | null | undefined, field: "avg" | "p99", value: number | null | undefined) =>
  value === null || value === undefined ? undefined : { unit, [field]: value }

/** The summary's fields under the export's own keys, so one set of rules judges both. */
const asExport = (summary: TerminationSummary): AIPerfExport => ({
  aiperf_version: summary.aiperf_version,
  output_token_throughput: stat(summary.output_token_throughput_unit, "avg", summary.output_token_throughput_avg),
  time_to_first_token: stat(summary.time_to_first_token_unit, "p99", summary.time_to_first_token_p99),
  request_count: stat(undefined, "avg", summary.request_count),
  error_request_count: stat(undefined, "avg", summary.error_request_count),
  was_cancelled: summary.was_cancelled,
  error_summary: summary.error_summary?.map(({ count, ...details }) => ({ error_details: details, count }))
})

/**
 * Reads the compact summary the aiperf-bench entrypoint writes to its termination log (schema
 * {@link SUMMARY_SCHEMA}): the fallback when the pod's logs no longer hold the export. A failed run gives the
 * entrypoint's own reason; a successful one is judged by the same rules as the export. Anything else is reported
 * in the pod's own words.
 */
export const fromTerminationMessage = (message: string): Parsed => {
  const raw = message.trim()
  const inconclusive = (reason: string): Parsed => ({ _tag: "Inconclusive", reason, raw: raw === "" ? undefined : raw, source: "termination-message" })
  if (raw === "") return inconclusive("the AIPerf pod left no termination message")
  const json = decodeJson(raw)
  const summary = Result.isSuccess(json) ? decodeSummary(json.success) : undefined
  if (summary === undefined || Result.isFailure(summary)) {
    return inconclusive(`the AIPerf pod's termination message is not an ${SUMMARY_SCHEMA} summary: ${JSON.stringify(clip(raw, 500))}`)
  }
  const data = summary.success
  const omitted = data.error_summary_omitted ?? 0
  const errors = errorsOf(asExport(data))
  if (data.status === "error") {
    const code = data.exit_code === null || data.exit_code === undefined ? "" : ` (aiperf-bench exit code ${data.exit_code})`
    return inconclusive(withErrors(`AIPerf produced no result: ${data.error ?? "no reason given"}${code}`, errors, omitted))
  }
  const judged = judgeExport(asExport(data), omitted)
  return judged._tag === "Ok"
    ? { _tag: "Measured", measurement: judged.measurement, raw, source: "termination-message" }
    : inconclusive(judged.reason)
}
