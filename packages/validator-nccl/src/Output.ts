/** Where the output was read: the launcher's log, or the result rows its script wrote to the termination message. */
export type Source = "log" | "termination-message"

/** What one placement (out-of-place or in-place) of a row says about data correctness. */
export type Check =
  /** Current nccl-tests `#wrong`: elements that differ from the expected result (0 when correct). */
  | { readonly kind: "wrong"; readonly count: number }
  /** Older nccl-tests `error`: the largest relative error, a float — reported, not judged. */
  | { readonly kind: "error"; readonly value: number }
  /** `N/A`: the run did not check results (`-c 0`). */
  | { readonly kind: "unchecked" }

/** One placement of a row: time in microseconds, algorithm and bus bandwidth in GB/s (1e9 bytes/s). */
export interface Placement {
  readonly timeUs: number
  readonly algBw: number
  readonly busBw: number
  readonly check: Check
}

/** One row of the table: one message size. */
export interface Row {
  readonly sizeBytes: number
  readonly count: number
  readonly type: string
  readonly redop: string
  /** `-1` for all_reduce; undefined in tables without the `root` column. */
  readonly root: number | undefined
  readonly outOfPlace: Placement
  readonly inPlace: Placement
}

/** The columns of a table: with `root` (current nccl-tests), or the older layout without it. */
export type Layout = "with-root" | "without-root"

/** One nccl-tests result table. */
export interface Table {
  readonly layout: Layout
  /** Whether the column header was seen (a termination message holds rows only). */
  readonly headed: boolean
  readonly rows: ReadonlyArray<Row>
  /** `# Out of bounds values : N OK|FAILED`, when printed. */
  readonly outOfBounds: { readonly count: number; readonly failed: boolean } | undefined
  /** `# Avg bus bandwidth : X` (GB/s, the mean over every row), when printed. */
  readonly avgBusBw: number | undefined
  /** Lines that start like a row but cannot be read as one (cut, interleaved or of an unknown layout). */
  readonly unreadable: ReadonlyArray<string>
  /** The table as printed (header, rows, trailer; without MPI prefixes and interleaved log lines). */
  readonly text: string
}

/** The `# nThread … nGpus … minBytes … maxBytes … step: … warmup iters: … iters: …` line. */
export interface Parameters {
  readonly threads: number
  readonly gpusPerRank: number
  readonly minBytes: number
  readonly maxBytes: number
  readonly step: number
  readonly stepKind: "factor" | "bytes"
  readonly warmupIterations: number
  readonly iterations: number
  readonly aggregatedIterations: number | undefined
  readonly validation: number | undefined
  readonly cudaGraph: number | undefined
}

/** A `#  Rank  r … on <host> device d [<bus id>] <GPU>` line. */
export interface RankLine {
  readonly rank: number
  readonly host: string
  readonly device: number
  readonly gpu: string
}

/** What the output says about the run, besides the table. */
export interface Info {
  readonly ncclTestsVersion: string | undefined
  /** NCCL's version: from its `NCCL version X` banner, else from nccl-tests' `nccl-library=` code. */
  readonly ncclVersion: string | undefined
  readonly collective: string | undefined
  readonly parameters: Parameters | undefined
  readonly ranks: ReadonlyArray<RankLine>
  /** The network transports NCCL reports (`NCCL INFO Using network <name>`), distinct, in order of appearance. */
  readonly networks: ReadonlyArray<string>
  /** `NCCL WARN` messages, distinct, at most {@link MAX_NOTES}. */
  readonly warnings: ReadonlyArray<string>
  /** Lines telling that NCCL, CUDA, the test or MPI failed, distinct, at most {@link MAX_NOTES}. */
  readonly failures: ReadonlyArray<string>
}

/** A data-correctness failure: rows with `#wrong` above 0, or out-of-bounds values. */
export interface Corruption {
  readonly wrong: ReadonlyArray<{ readonly sizeBytes: number; readonly placement: "out-of-place" | "in-place"; readonly count: number }>
  readonly outOfBounds: number | undefined
  readonly message: string
}

/** The judged figure and what goes with it. */
export interface Measurement {
  /** Out-of-place bus bandwidth at the largest message size (GB/s): the judged figure, as upstream. */
  readonly busBw: number
  readonly inPlaceBusBw: number
  readonly algBw: number
  readonly sizeBytes: number
  readonly row: Row
  readonly avgBusBw: number | undefined
  readonly corruption: Corruption | undefined
  /** The largest legacy `error` over every row, when the table has that column. */
  readonly maxError: number | undefined
}

/** The outcome of reading nccl-tests output: a measurement, or why none can be trusted. */
export type Parsed =
  | { readonly _tag: "Measured"; readonly measurement: Measurement; readonly table: Table; readonly info: Info; readonly source: Source }
  | { readonly _tag: "Inconclusive"; readonly reason: string; readonly table: Table | undefined; readonly info: Info; readonly source: Source }

/** What the caller asked nccl-tests to run: tells a truncated table from a complete one when the output lacks its parameters. */
export interface Expected {
  readonly maxBytes: number
  readonly stepFactor: number
}

export interface ParseOptions {
  readonly source?: Source | undefined
  readonly expected?: Expected | undefined
}

/** Most warnings and failure lines kept. */
export const MAX_NOTES = 10

// ---------------------------------------------------------------------------------------------------------------
// Lines

const MPI_TAG = /^\[\d+,\d+\]<(?:stdout|stderr|stddiag)>:/
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const WHOLE = /^\d+$/
const WORD = /^[A-Za-z_][A-Za-z0-9_]*$/

const VERSION_LINE = /^#\s*nccl-tests version (\S+)(?:\s+nccl-headers=(\d+))?(?:\s+nccl-library=(\d+))?/
const COLLECTIVE_LINE = /^#\s*Collective test starting:\s*(\S+)/
const PARAMETERS_LINE = /^#\s*nThread\s+(\d+)\s+nGpus\s+(\d+)\s+minBytes\s+(\d+)\s+maxBytes\s+(\d+)\s+step:\s*(\d+)\((factor|bytes)\)\s+warmup iters:\s*(\d+)\s+iters:\s*(\d+)(.*)$/
const USING_DEVICES_LINE = /^#\s*Using devices\s*$/
const RANK_LINE = /^#\s*Rank\s+(\d+)\s+(?:Group\s+\d+\s+)?Pid\s+\d+\s+on\s+(\S+)\s+device\s+(\d+)\s+\[[^\]]*\]\s+(.*)$/
const HEADER_LINE = /^#\s*size\s+count\s+type\s+redop\b/
const BANNER_LINE = /^#.*out-of-place.*in-place/
const OUT_OF_BOUNDS_LINE = /^#\s*Out of bounds values\s*:\s*(\d+)\s+(OK|FAILED)\b/
const AVERAGE_LINE = /^#\s*Avg bus bandwidth\s*:\s*(\S+)/
const NCCL_VERSION_LINE = /(?:^|NCCL INFO )NCCL version (\d+\.\d+\.\d+)/
const NETWORK_LINE = /NCCL INFO Using network (.+)$/
const WARN_LINE = /NCCL WARN\s+(.*)$/
const FAILURE_LINE = /NCCL failure|CUDA failure|Cuda failure|Test failure|mpirun noticed|exited on signal|Segmentation fault|ORTE has lost communication/

/** Bytes per element of the data types nccl-tests names. */
const WORD_SIZE: Readonly<Record<string, number>> = {
  int8: 1,
  uint8: 1,
  char: 1,
  f8e4m3: 1,
  f8e5m2: 1,
  half: 2,
  float16: 2,
  bfloat16: 2,
  int32: 4,
  uint32: 4,
  int: 4,
  float: 4,
  float32: 4,
  int64: 8,
  uint64: 8,
  double: 8,
  float64: 8
}

/** The text of a line without its MPI `--tag-output` prefix (`[1,0]<stdout>:`) and carriage return. */
export const stripPrefix = (line: string): string => line.replace(/\r$/, "").replace(MPI_TAG, "")

/** Renders NCCL's version code (`22807` → `2.28.7`; before 2.9 `2708` → `2.7.8`). */
export const versionOfCode = (code: number): string =>
  code >= 10000
    ? `${Math.floor(code / 10000)}.${Math.floor((code % 10000) / 100)}.${code % 100}`
    : `${Math.floor(code / 1000)}.${Math.floor((code % 1000) / 100)}.${code % 100}`

type Column = "size" | "count" | "type" | "redop" | "root" | "time" | "algbw" | "busbw" | "check"

const WITH_ROOT: ReadonlyArray<Column> = ["size", "count", "type", "redop", "root", "time", "algbw", "busbw", "check", "time", "algbw", "busbw", "check"]
const WITHOUT_ROOT: ReadonlyArray<Column> = ["size", "count", "type", "redop", "time", "algbw", "busbw", "check", "time", "algbw", "busbw", "check"]

interface HeaderLayout {
  readonly columns: ReadonlyArray<Column>
  readonly check: "wrong" | "error"
}

/** The columns of a header line, or undefined when it is not one this parser knows. */
const headerLayout = (text: string): HeaderLayout | undefined => {
  const words = text.replace(/^#/, "").trim().split(/\s+/)
  const columns = words.map((word): Column | undefined => {
    switch (word) {
      case "size":
      case "count":
      case "type":
      case "redop":
      case "root":
      case "algbw":
      case "busbw":
        return word
      case "time":
      case "cputime":
        return "time"
      case "#wrong":
      case "error":
        return "check"
      default:
        return undefined
    }
  })
  if (columns.some((column) => column === undefined)) return undefined
  const known = columns as ReadonlyArray<Column>
  const same = (layout: ReadonlyArray<Column>) => layout.length === known.length && layout.every((column, i) => known[i] === column)
  if (!same(WITH_ROOT) && !same(WITHOUT_ROOT)) return undefined
  return { columns: known, check: words.includes("error") ? "error" : "wrong" }
}

type RowRead = { readonly _tag: "Row"; readonly row: Row; readonly layout: Layout } | { readonly _tag: "Unreadable" } | { readonly _tag: "NotARow" }

/** True for a line that starts like a table row: size, count, then a type name. */
const looksLikeRow = (words: ReadonlyArray<string>): boolean =>
  words.length >= 3 && WHOLE.test(words[0] ?? "") && WHOLE.test(words[1] ?? "") && WORD.test(words[2] ?? "")

const readCheck = (word: string, kind: "wrong" | "error" | undefined): Check | undefined => {
  if (word === "N/A") return { kind: "unchecked" }
  if (!NUMBER.test(word)) return undefined
  const value = Number(word)
  const resolved = kind ?? (WHOLE.test(word) ? "wrong" : "error")
  if (resolved === "wrong") return Number.isInteger(value) && value >= 0 ? { kind: "wrong", count: value } : undefined
  return { kind: "error", value }
}

const readRow = (text: string, header: HeaderLayout | undefined): RowRead => {
  const words = text.trim().split(/\s+/)
  if (!looksLikeRow(words)) return { _tag: "NotARow" }
  const columns = header?.columns ?? (words.length === WITH_ROOT.length ? WITH_ROOT : words.length === WITHOUT_ROOT.length ? WITHOUT_ROOT : undefined)
  if (columns === undefined || words.length !== columns.length) return { _tag: "Unreadable" }
  const numbers: Partial<Record<Column, Array<number>>> = {}
  const checks: Array<Check> = []
  let type = ""
  let redop = ""
  for (const [i, column] of columns.entries()) {
    const word = words[i] ?? ""
    if (column === "type") type = word
    else if (column === "redop") {
      if (!WORD.test(word)) return { _tag: "Unreadable" }
      redop = word
    } else if (column === "check") {
      const check = readCheck(word, header?.check)
      if (check === undefined) return { _tag: "Unreadable" }
      checks.push(check)
    } else {
      if (!NUMBER.test(word)) return { _tag: "Unreadable" }
      const list = numbers[column] ?? []
      list.push(Number(word))
      numbers[column] = list
    }
  }
  const [sizeBytes = Number.NaN] = numbers.size ?? []
  const [count = Number.NaN] = numbers.count ?? []
  const [outTime = Number.NaN, inTime = Number.NaN] = numbers.time ?? []
  const [outAlg = Number.NaN, inAlg = Number.NaN] = numbers.algbw ?? []
  const [outBus = Number.NaN, inBus = Number.NaN] = numbers.busbw ?? []
  const [outCheck, inCheck] = checks
  const finite = [sizeBytes, count, outTime, inTime, outAlg, inAlg, outBus, inBus].every(Number.isFinite)
  const wordSize = WORD_SIZE[type]
  if (!finite || outCheck === undefined || inCheck === undefined || outBus < 0 || inBus < 0) return { _tag: "Unreadable" }
  if (wordSize !== undefined && sizeBytes !== count * wordSize) return { _tag: "Unreadable" }
  return {
    _tag: "Row",
    layout: columns.includes("root") ? "with-root" : "without-root",
    row: {
      sizeBytes,
      count,
      type,
      redop,
      root: numbers.root?.[0],
      outOfPlace: { timeUs: outTime, algBw: outAlg, busBw: outBus, check: outCheck },
      inPlace: { timeUs: inTime, algBw: inAlg, busBw: inBus, check: inCheck }
    }
  }
}

const readParameters = (match: RegExpExecArray): Parameters => {
  const rest = match[9] ?? ""
  const field = (name: string) => {
    const found = new RegExp(`${name}:\\s*(\\d+)`).exec(rest)
    return found === null ? undefined : Number(found[1])
  }
  return {
    threads: Number(match[1]),
    gpusPerRank: Number(match[2]),
    minBytes: Number(match[3]),
    maxBytes: Number(match[4]),
    step: Number(match[5]),
    stepKind: match[6] === "bytes" ? "bytes" : "factor",
    warmupIterations: Number(match[7]),
    iterations: Number(match[8]),
    aggregatedIterations: field("agg iters"),
    validation: field("validation"),
    cudaGraph: field("graph")
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scanning

interface TableDraft {
  header: HeaderLayout | undefined
  layout: Layout | undefined
  rows: Array<Row>
  outOfBounds: { count: number; failed: boolean } | undefined
  avgBusBw: number | undefined
  complete: boolean
  unreadable: Array<string>
  /** Unreadable lines after the last readable row. */
  trailingUnreadable: number
  lines: Array<string>
}

interface Scan {
  readonly tables: ReadonlyArray<TableDraft>
  readonly info: Info
}

const draft = (header: HeaderLayout | undefined, lines: Array<string>): TableDraft => ({
  header,
  layout: header === undefined ? undefined : header.columns.includes("root") ? "with-root" : "without-root",
  rows: [],
  outOfBounds: undefined,
  avgBusBw: undefined,
  complete: false,
  unreadable: [],
  trailingUnreadable: 0,
  lines
})

const pushDistinct = (list: Array<string>, value: string, limit: number) => {
  if (!list.includes(value) && list.length < limit) list.push(value)
}

const scan = (text: string): Scan => {
  const tables: Array<TableDraft> = []
  let current: TableDraft | undefined
  let banner: string | undefined
  let ncclTestsVersion: string | undefined
  let libraryCode: number | undefined
  let ncclVersion: string | undefined
  let collective: string | undefined
  let parameters: Parameters | undefined
  const ranks: Array<RankLine> = []
  const networks: Array<string> = []
  const warnings: Array<string> = []
  const failures: Array<string> = []

  const close = () => {
    if (current !== undefined && (current.rows.length > 0 || current.unreadable.length > 0)) tables.push(current)
    current = undefined
  }

  for (const raw of text.split("\n")) {
    const line = stripPrefix(raw)
    const trimmed = line.trim()
    if (trimmed === "") continue
    if (trimmed.startsWith("#")) {
      const version = VERSION_LINE.exec(trimmed)
      const starting = COLLECTIVE_LINE.exec(trimmed)
      const parametersLine = PARAMETERS_LINE.exec(trimmed)
      const rank = RANK_LINE.exec(trimmed)
      const outOfBounds = OUT_OF_BOUNDS_LINE.exec(trimmed)
      const average = AVERAGE_LINE.exec(trimmed)
      if (version !== null) {
        ncclTestsVersion = version[1]
        if (version[3] !== undefined) libraryCode = Number(version[3])
      } else if (starting !== null) collective = starting[1]
      else if (parametersLine !== null) parameters = readParameters(parametersLine)
      else if (USING_DEVICES_LINE.test(trimmed)) ranks.length = 0
      else if (rank !== null) {
        ranks.push({ rank: Number(rank[1]), host: rank[2] ?? "", device: Number(rank[3]), gpu: (rank[4] ?? "").trim() })
      } else if (HEADER_LINE.test(trimmed)) {
        close()
        current = draft(headerLayout(trimmed), banner === undefined ? [line] : [banner, line])
        banner = undefined
      } else if (BANNER_LINE.test(trimmed)) banner = line
      else if (outOfBounds !== null && current !== undefined) {
        current.outOfBounds = { count: Number(outOfBounds[1]), failed: outOfBounds[2] === "FAILED" }
        current.lines.push(line)
      } else if (average !== null && current !== undefined) {
        const value = Number(average[1])
        current.avgBusBw = Number.isFinite(value) ? value : undefined
        current.complete = true
        current.lines.push(line)
        close()
      } else if (current !== undefined && current.rows.length === 0 && current.unreadable.length === 0) {
        current.lines.push(line)
      }
      continue
    }
    const ncclBanner = NCCL_VERSION_LINE.exec(trimmed)
    if (ncclBanner !== null) ncclVersion ??= ncclBanner[1]
    const network = NETWORK_LINE.exec(trimmed)
    if (network !== null) pushDistinct(networks, (network[1] ?? "").trim(), Number.POSITIVE_INFINITY)
    const warn = WARN_LINE.exec(trimmed)
    if (warn !== null) pushDistinct(warnings, (warn[1] ?? "").trim(), MAX_NOTES)
    if (FAILURE_LINE.test(trimmed)) pushDistinct(failures, trimmed, MAX_NOTES)
    if (ncclBanner !== null || network !== null || warn !== null || trimmed.includes("NCCL INFO")) continue
    const read = readRow(line, current?.header)
    if (read._tag === "NotARow") continue
    current ??= draft(undefined, [])
    current.lines.push(line)
    if (read._tag === "Unreadable") {
      current.unreadable.push(trimmed)
      current.trailingUnreadable += 1
      continue
    }
    if (current.layout !== undefined && current.layout !== read.layout) {
      current.unreadable.push(trimmed)
      current.trailingUnreadable += 1
      continue
    }
    current.layout = read.layout
    current.rows.push(read.row)
    current.trailingUnreadable = 0
  }
  close()
  return {
    tables,
    info: {
      ncclTestsVersion,
      ncclVersion: ncclVersion ?? (libraryCode === undefined ? undefined : versionOfCode(libraryCode)),
      collective,
      parameters,
      ranks,
      networks,
      warnings,
      failures
    }
  }
}

const toTable = (table: TableDraft): Table => ({
  layout: table.layout ?? "with-root",
  headed: table.header !== undefined,
  rows: table.rows,
  outOfBounds: table.outOfBounds,
  avgBusBw: table.avgBusBw,
  unreadable: table.unreadable,
  text: `${table.lines.join("\n")}\n`
})

// ---------------------------------------------------------------------------------------------------------------
// Judging the table's soundness

const GiB = 1024 ** 3
const MiB = 1024 ** 2
const KiB = 1024

/** Bytes for messages: `17179869184 B (16 GiB)`. */
export const describeSize = (bytes: number): string => {
  for (const [unit, size] of [["GiB", GiB], ["MiB", MiB], ["KiB", KiB]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes} B (${bytes / size} ${unit})`
  }
  return `${bytes} B`
}

const largestRow = (rows: ReadonlyArray<Row>): Row | undefined =>
  rows.reduce<Row | undefined>((best, row) => (best === undefined || row.sizeBytes >= best.sizeBytes ? row : best), undefined)

/** The size the sweep ends at: the largest `min × factor^k` (or `min + k × step`) not above max. */
const sweepEnd = (minBytes: number, maxBytes: number, step: number, kind: "factor" | "bytes"): number => {
  if (minBytes <= 0 || step <= (kind === "factor" ? 1 : 0) || minBytes > maxBytes) return maxBytes
  if (kind === "bytes") return minBytes + Math.floor((maxBytes - minBytes) / step) * step
  let size = minBytes
  while (size * step <= maxBytes) size *= step
  return size
}

const corruptionOf = (table: TableDraft): Corruption | undefined => {
  const wrong: Array<Corruption["wrong"][number]> = []
  for (const row of table.rows) {
    for (const [placement, cell] of [["out-of-place", row.outOfPlace], ["in-place", row.inPlace]] as const) {
      if (cell.check.kind === "wrong" && cell.check.count > 0) wrong.push({ sizeBytes: row.sizeBytes, placement, count: cell.check.count })
    }
  }
  const outOfBounds = table.outOfBounds !== undefined && (table.outOfBounds.failed || table.outOfBounds.count > 0)
    ? table.outOfBounds.count
    : undefined
  if (wrong.length === 0 && outOfBounds === undefined) return undefined
  const parts: Array<string> = []
  if (wrong.length > 0) {
    const shown = wrong.slice(0, 3).map((entry) => `${entry.count} at ${entry.sizeBytes} B ${entry.placement}`)
    const more = wrong.length > 3 ? ` and ${wrong.length - 3} more` : ""
    parts.push(`nccl-tests found wrong results (#wrong: ${shown.join(", ")}${more})`)
  }
  if (outOfBounds !== undefined) parts.push(`nccl-tests reports "Out of bounds values : ${outOfBounds} FAILED"`)
  return { wrong, outOfBounds, message: `data corruption: ${parts.join("; ")}` }
}

const maxErrorOf = (rows: ReadonlyArray<Row>): number | undefined => {
  const errors = rows.flatMap((row) => [row.outOfPlace.check, row.inPlace.check]).flatMap((check) => (check.kind === "error" ? [check.value] : []))
  return errors.length === 0 ? undefined : Math.max(...errors)
}

const withFailures = (reason: string, info: Info): string =>
  info.failures.length === 0 ? reason : `${reason}; the output reports: ${info.failures.slice(0, 3).join(" | ")}`

/**
 * Reads nccl-tests `all_reduce_perf` output — a launcher log with MPI `--tag-output` prefixes, interleaved NCCL
 * INFO/WARN lines and MPI noise, or the bare result rows of a termination message — in both table layouts (with
 * and without the `root` column). The judged table is the last one with a readable row (upstream took the last row);
 * its figure is the out-of-place bus bandwidth at the largest message size.
 *
 * Inconclusive: no table; a truncated one (no `# Avg bus bandwidth` line after the rows, an unreadable last row, or
 * fewer sizes than the sweep's parameters, else `expected`, call for); another collective. Rows with `#wrong`
 * above 0 and `Out of bounds values : N FAILED` are a measurement with a {@link Corruption}; the legacy float
 * `error` column is kept as `maxError`.
 */
export const parse = (text: string, options: ParseOptions = {}): Parsed => {
  const source = options.source ?? "log"
  const { tables, info } = scan(text)
  const chosen = tables.findLast((candidate) => candidate.rows.length > 0) ?? tables.at(-1)
  const table = chosen === undefined ? undefined : toTable(chosen)
  const inconclusive = (reason: string): Parsed => ({ _tag: "Inconclusive", reason: withFailures(reason, info), table, info, source })
  const where = source === "log" ? "the launcher log" : "the launcher's termination message"
  if (info.collective !== undefined && !/^all_reduce_perf(_mpi)?$/.test(info.collective)) {
    return inconclusive(`${where} holds the output of ${info.collective}, not all_reduce_perf`)
  }
  if (chosen === undefined || chosen.rows.length === 0) {
    const unreadable = chosen?.unreadable[0]
    return inconclusive(
      unreadable === undefined
        ? `no nccl-tests result table found in ${where}`
        : `${where} has no readable nccl-tests result row (first unreadable: "${unreadable}")`
    )
  }
  const largest = largestRow(chosen.rows)!
  const last = chosen.rows.at(-1)!
  if (chosen.trailingUnreadable > 0) {
    return inconclusive(
      `the nccl-tests table in ${where} is truncated: the row after ${describeSize(last.sizeBytes)} cannot be read ` +
        `("${chosen.unreadable.at(-1)}")`
    )
  }
  if (!chosen.complete) {
    return inconclusive(
      `the nccl-tests table in ${where} is truncated: it stops after ${describeSize(last.sizeBytes)} without the ` +
        `"# Avg bus bandwidth" line nccl-tests prints once every size has run`
    )
  }
  const parameters = info.parameters
  const expectedEnd = parameters !== undefined
    ? sweepEnd(parameters.minBytes, parameters.maxBytes, parameters.step, parameters.stepKind)
    : options.expected !== undefined
    ? sweepEnd(Math.min(...chosen.rows.map((row) => row.sizeBytes)), options.expected.maxBytes, options.expected.stepFactor, "factor")
    : undefined
  if (expectedEnd !== undefined && largest.sizeBytes < expectedEnd) {
    return inconclusive(
      `the nccl-tests table in ${where} is truncated: its largest size is ${describeSize(largest.sizeBytes)} but the ` +
        `sweep goes to ${describeSize(expectedEnd)}`
    )
  }
  return {
    _tag: "Measured",
    measurement: {
      busBw: largest.outOfPlace.busBw,
      inPlaceBusBw: largest.inPlace.busBw,
      algBw: largest.outOfPlace.algBw,
      sizeBytes: largest.sizeBytes,
      row: largest,
      avgBusBw: chosen.avgBusBw,
      corruption: corruptionOf(chosen),
      maxError: maxErrorOf(chosen.rows)
    },
    table: table!,
    info,
    source
  }
}

const mergeInfo = (primary: Info, secondary: Info): Info => ({
  ncclTestsVersion: primary.ncclTestsVersion ?? secondary.ncclTestsVersion,
  ncclVersion: primary.ncclVersion ?? secondary.ncclVersion,
  collective: primary.collective ?? secondary.collective,
  parameters: primary.parameters ?? secondary.parameters,
  ranks: primary.ranks.length > 0 ? primary.ranks : secondary.ranks,
  networks: [...new Set([...primary.networks, ...secondary.networks])],
  warnings: [...new Set([...primary.warnings, ...secondary.warnings])].slice(0, MAX_NOTES),
  failures: [...new Set([...primary.failures, ...secondary.failures])].slice(0, MAX_NOTES)
})

/** The sweep a parameters line describes, as {@link Expected} (a step in bytes has none). */
const expectedOf = (parameters: Parameters | undefined): Expected | undefined =>
  parameters === undefined || parameters.stepKind !== "factor" ? undefined : { maxBytes: parameters.maxBytes, stepFactor: parameters.step }

/**
 * Reads the launcher's log and, when the log gives no measurement (rotated away, cut short), the result rows of its
 * termination message, checked against the sweep `expected` (else the log's parameters line) calls for. The log's
 * versions, ranks and transports are kept either way.
 */
export const fromLauncher = (
  outputs: { readonly log: string | undefined; readonly terminationMessage: string | undefined },
  expected?: Expected
): Parsed => {
  const fromLog = parse(outputs.log ?? "", { source: "log", expected })
  const message = outputs.terminationMessage?.trim() ?? ""
  if (fromLog._tag === "Measured" || message === "") return fromLog
  const fromMessage = parse(message, { source: "termination-message", expected: expected ?? expectedOf(fromLog.info.parameters) })
  const info = mergeInfo(fromLog.info, fromMessage.info)
  if (fromMessage._tag === "Measured") return { ...fromMessage, info }
  return { _tag: "Inconclusive", reason: `${fromLog.reason}; ${fromMessage.reason}`, table: fromLog.table ?? fromMessage.table, info, source: "log" }
}
