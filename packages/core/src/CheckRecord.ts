/**
 * The outcome record of `aicr check` (docs/adr/0005): what a check running as a pod reports to the orchestrator,
 * and how the orchestrator reads it back from the pod's log or termination message. Pure functions.
 *
 * Details: the record is `{ status, message, metrics, artifacts }`, `status` one of `passed | failed | skipped |
 * inconclusive`. `aicr check` prints it on stdout as one JSON line between the lines {@link BEGIN} and {@link END}
 * ({@link block}) and writes {@link compact} — status, message cut to fit, metrics — of at most
 * {@link TERMINATION_LIMIT} bytes to the termination log. Its exit code is {@link exitCode}. The orchestrator reads
 * {@link fromLog} first, {@link fromTerminationMessage} second, and never the exit code alone: no record is
 * inconclusive.
 *
 * Gotchas: a metric value that is not a finite number is written as `null` (JSON has no NaN) and read back as NaN.
 * Unknown fields are ignored when reading, so a newer check's record still reads.
 */
import * as z from "zod"
import type * as Validator from "./Validator.ts"

/** The line before the record on stdout. */
export const BEGIN = "##AICR-OUTCOME-BEGIN##"
/** The line after the record on stdout. */
export const END = "##AICR-OUTCOME-END##"
/** The kubelet keeps at most 4096 bytes of a container's termination message. */
export const TERMINATION_LIMIT = 4096

export type Status = "passed" | "failed" | "skipped" | "inconclusive"

export const STATUSES: ReadonlyArray<Status> = ["passed", "failed", "skipped", "inconclusive"]

export interface CheckRecord {
  readonly status: Status
  readonly message: string
  readonly metrics: ReadonlyArray<Validator.Metric>
  readonly artifacts: ReadonlyArray<Validator.Artifact>
}

/** `aicr check`'s exit code per status: 0 passed, 1 failed, 2 skipped, 3 inconclusive. */
export const EXIT_CODES: Readonly<Record<Status, number>> = { passed: 0, failed: 1, skipped: 2, inconclusive: 3 }

/** The exit code of `aicr check` for a record's status. */
export const exitCode = (status: Status): number => EXIT_CODES[status]

/** A record without evidence. */
export const make = (status: Status, message: string, evidence: Partial<Pick<CheckRecord, "metrics" | "artifacts">> = {}): CheckRecord => ({
  status,
  message,
  metrics: evidence.metrics ?? [],
  artifacts: evidence.artifacts ?? []
})

const MetricSchema = z.looseObject({
  name: z.string(),
  value: z.number().nullable().transform((value) => value ?? Number.NaN),
  unit: z.string(),
  threshold: z.string().optional(),
  passed: z.boolean().optional()
})

const ArtifactSchema = z.looseObject({ name: z.string(), contentType: z.string(), content: z.string() })

const RecordSchema = z.looseObject({
  status: z.enum(["passed", "failed", "skipped", "inconclusive"]),
  message: z.string(),
  metrics: z.array(MetricSchema).optional(),
  artifacts: z.array(ArtifactSchema).optional()
})

const metricOf = (metric: Validator.Metric): Validator.Metric => ({
  name: metric.name,
  value: metric.value,
  unit: metric.unit,
  ...(metric.threshold === undefined ? {} : { threshold: metric.threshold }),
  ...(metric.passed === undefined ? {} : { passed: metric.passed })
})

/** The record as one JSON line (no newline inside: JSON escapes them). */
export const encode = (record: CheckRecord): string =>
  JSON.stringify({
    status: record.status,
    message: record.message,
    metrics: record.metrics.map(metricOf),
    artifacts: record.artifacts.map((artifact) => ({ name: artifact.name, contentType: artifact.contentType, content: artifact.content }))
  })

/** The record from its JSON text; undefined when it is not JSON or not a record. */
export const decode = (text: string): CheckRecord | undefined => {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = RecordSchema.safeParse(data)
  if (!parsed.success) return undefined
  return {
    status: parsed.data.status,
    message: parsed.data.message,
    metrics: (parsed.data.metrics ?? []).map((metric) => metricOf(metric as Validator.Metric)),
    artifacts: (parsed.data.artifacts ?? []).map((artifact) => ({ name: artifact.name, contentType: artifact.contentType, content: artifact.content }))
  }
}

/** What `aicr check` prints on stdout: the begin line, the record, the end line, each ending in a newline. */
export const block = (record: CheckRecord): string => `${BEGIN}\n${encode(record)}\n${END}\n`

const linesOf = (text: string): ReadonlyArray<string> => text.split("\n").map((line) => line.replace(/\r$/, ""))

/** The complete sentinel blocks of a log: the indexes of their begin and end lines. */
const blocksOf = (lines: ReadonlyArray<string>): ReadonlyArray<{ readonly begin: number; readonly end: number }> => {
  const blocks: Array<{ begin: number; end: number }> = []
  let begin: number | undefined
  lines.forEach((line, index) => {
    const trimmed = line.trim()
    if (trimmed === BEGIN) begin = index
    else if (trimmed === END && begin !== undefined) {
      blocks.push({ begin, end: index })
      begin = undefined
    }
  })
  return blocks
}

/**
 * The record of the last complete sentinel block of a pod log whose content decodes; other lines (stderr, the
 * plugin's own output) are ignored, as are lines interleaved inside the block. Undefined when there is none — no
 * block, or only a truncated one (begin without end, a cut JSON line).
 */
export const fromLog = (log: string): CheckRecord | undefined => {
  const lines = linesOf(log)
  const blocks = blocksOf(lines)
  for (let index = blocks.length - 1; index >= 0; index--) {
    const { begin, end } = blocks[index]!
    for (let line = end - 1; line > begin; line--) {
      const record = decode(lines[line]!)
      if (record !== undefined) return record
    }
  }
  return undefined
}

/** The log without its complete sentinel blocks (what is kept as the check's log). */
export const withoutRecord = (log: string): string => {
  const lines = linesOf(log)
  const blocks = blocksOf(lines)
  if (blocks.length === 0) return log
  return lines.filter((_, index) => !blocks.some((block) => index >= block.begin && index <= block.end)).join("\n")
}

const bytes = (text: string): number => Buffer.byteLength(text, "utf8")

/** `message` cut to its first `keep` characters (code points), saying how many were cut. */
const cut = (characters: ReadonlyArray<string>, keep: number): string =>
  keep >= characters.length ? characters.join("") : `${characters.slice(0, keep).join("")}… [${characters.length - keep} more characters cut]`

/** The longest cut of the message for which `render(message)` fits in `limit` bytes (at worst, the marker alone). */
const fitMessage = (message: string, limit: number, render: (message: string) => string): string | undefined => {
  const characters = Array.from(message)
  if (bytes(render(cut(characters, characters.length))) <= limit) return render(message)
  let low = 0
  let high = characters.length - 1
  if (bytes(render(cut(characters, 0))) > limit) return undefined
  while (low < high) {
    const middle = Math.ceil((low + high) / 2)
    if (bytes(render(cut(characters, middle))) <= limit) low = middle
    else high = middle - 1
  }
  return render(cut(characters, low))
}

/** Fewest characters of the message kept before the metrics are dropped to make room. */
const MIN_MESSAGE_CHARACTERS = 512

/**
 * The record for the termination log, as JSON of at most `limit` bytes (default {@link TERMINATION_LIMIT}):
 * status, message and metrics, without artifacts. When it does not fit, the message is cut (saying how much);
 * when even that leaves under 512 characters of it, the metrics are dropped (the message says how many) and the
 * message is cut to what fits.
 */
export const compact = (record: CheckRecord, limit: number = TERMINATION_LIMIT): string => {
  const metrics = record.metrics.map(metricOf)
  const withMetrics = (message: string) => JSON.stringify({ status: record.status, message, metrics })
  const whole = withMetrics(record.message)
  if (bytes(whole) <= limit) return whole
  const keptMessage = Math.min(Array.from(record.message).length, MIN_MESSAGE_CHARACTERS)
  const minimal = withMetrics(cut(Array.from(record.message), keptMessage))
  if (bytes(minimal) <= limit) return fitMessage(record.message, limit, withMetrics)!
  const note = ` [${metrics.length} metric${metrics.length === 1 ? "" : "s"} omitted: see the pod log]`
  const withoutMetrics = (message: string) => JSON.stringify({ status: record.status, message: `${message}${note}`, metrics: [] })
  return fitMessage(record.message, limit, withoutMetrics) ?? JSON.stringify({ status: record.status, message: "", metrics: [] })
}

/** The record of a termination message written by {@link compact}; undefined when it is not one. */
export const fromTerminationMessage = (text: string): CheckRecord | undefined => decode(text.trim())
