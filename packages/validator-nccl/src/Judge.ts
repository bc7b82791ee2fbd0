import * as Constraint from "@aicr/core/Constraint"
import * as Validator from "@aicr/core/Validator"
import * as Inputs from "./Inputs.ts"
import type * as Output from "./Output.ts"

/** What was benchmarked: the facts a verdict reports next to the numbers. */
export interface Run {
  /** The run ID (`AICR_RUN_ID`), whose hash suffixes the run's object names. */
  readonly runId: string
  /** The worker nodes, one per node (intra-node: the one node). */
  readonly nodes: ReadonlyArray<string>
  /** GPUs of each node, one MPI rank each. */
  readonly gpusPerNode: number
  readonly mode: "inter-node" | "intra-node"
  /** The template, for people (`EKS H100/H200, EFA`). */
  readonly platform?: string | undefined
  /** The fabric the template set up (`efa`, `tcp`, `tcpxo`, `nccl-default`): shown when NCCL names no network. */
  readonly fabric?: string | undefined
  /** The sweep asked of nccl-tests. */
  readonly benchmark: Inputs.Benchmark
  readonly runtimeImage: string
  /** True when `AICR_NCCL_RUNTIME_IMAGE` replaced the catalog image. */
  readonly runtimeImageOverridden: boolean
}

export interface JudgeInput {
  readonly gate: Inputs.Gate | undefined
  /** Relative slack, default {@link Inputs.TOLERANCE} (10 %). */
  readonly tolerance?: number | undefined
  readonly parsed: Output.Parsed
  readonly run: Run
}

/** Every fact of a verdict, as written to {@link RESULT_ARTIFACT}. */
export interface Result {
  readonly runId: string
  readonly verdict: "passed" | "failed"
  readonly mode: Run["mode"]
  readonly nodes: ReadonlyArray<string>
  readonly gpusPerNode: number
  readonly ranks: number
  readonly transport: string | undefined
  readonly platform: string | undefined
  readonly fabric: string | undefined
  readonly runtimeImage: string
  readonly runtimeImageOverridden: boolean
  readonly ncclVersion: string | undefined
  readonly ncclTestsVersion: string | undefined
  readonly sweep: Inputs.Benchmark
  readonly sizeBytes: number
  readonly constraint: string
  readonly threshold: number
  readonly tolerance: number
  /** The threshold after tolerance: the number the measurement is compared with. */
  readonly effectiveThreshold: number
  readonly busBw: number
  readonly inPlaceBusBw: number
  readonly algBw: number
  readonly avgBusBw: number | undefined
  readonly maxError: number | undefined
  readonly corruption: Output.Corruption | undefined
  readonly source: Output.Source
  readonly warnings: ReadonlyArray<string>
  readonly table: { readonly layout: Output.Layout; readonly rows: ReadonlyArray<Output.Row> }
}

/**
 * A verdict (passed or failed, with metrics and artifacts) or why none can be given; the pipeline turns
 * `Inconclusive` into its error channel.
 */
export type Judgement =
  | { readonly _tag: "Verdict"; readonly outcome: Validator.CheckOutcome; readonly result: Result }
  | { readonly _tag: "Inconclusive"; readonly reason: string }

/** The artifact with the nccl-tests table as printed. */
export const TABLE_ARTIFACT = "nccl-tests-table.txt"

/** The artifact with every fact of the verdict as JSON. */
export const RESULT_ARTIFACT = "nccl-all-reduce-bw-result.json"

const GB_S = "GB/s"

const percent = (tolerance: number) => `${Number((tolerance * 100).toPrecision(6))}%`

const gbs = (value: number) => `${value.toFixed(2)} ${GB_S}`

/** The transport NCCL reported, else the one the template set up. */
const transportOf = (info: Output.Info, run: Run): string | undefined =>
  info.networks.length > 0 ? info.networks.join(", ") : run.fabric === undefined ? undefined : `${run.fabric} (configured; NCCL did not report its network)`

const expectedRanks = (run: Run) => run.nodes.length * run.gpusPerNode

const describe = (run: Run, transport: string | undefined, sizeBytes: number | undefined): string => {
  const nodes = `${run.nodes.join(", ")} (${run.nodes.length} node${run.nodes.length === 1 ? "" : "s"} × ${run.gpusPerNode} GPUs, ${expectedRanks(run)} ranks)`
  const over = transport === undefined ? "" : ` over ${transport}`
  const size = sizeBytes === undefined ? "" : `, largest message ${Inputs.formatSize(sizeBytes)}`
  const sweep = `sizes ${Inputs.formatSize(run.benchmark.minBytes)}–${Inputs.formatSize(run.benchmark.maxBytes)}`
  const image = run.runtimeImageOverridden ? ` (runtime image: ${run.runtimeImage})` : ""
  return `[${run.mode} on ${nodes}${over}; ${sweep}${size}; run ${run.runId}]${image}`
}

const rankProblem = (info: Output.Info, run: Run): string | undefined => {
  if (info.ranks.length === 0) return undefined
  const gpusPerRank = info.parameters?.gpusPerRank ?? 1
  const observed = info.ranks.length * gpusPerRank
  if (observed === expectedRanks(run)) return undefined
  const hosts = [...new Set(info.ranks.map((rank) => rank.host))]
  return `nccl-tests ran on ${observed} GPUs (hosts ${hosts.join(", ")}) but the run placed ${expectedRanks(run)} ` +
    `(${run.nodes.length} × ${run.gpusPerNode}): the bandwidth would not describe the nodes benchmarked`
}

const metricsOf = (result: Result, passed: boolean): ReadonlyArray<Validator.Metric> => {
  const metrics: Array<Validator.Metric> = [
    { name: Inputs.BANDWIDTH, value: result.busBw, unit: GB_S, threshold: result.constraint, passed },
    { name: `${Inputs.BANDWIDTH}-effective-threshold`, value: result.effectiveThreshold, unit: GB_S },
    { name: `${Inputs.BANDWIDTH}-in-place`, value: result.inPlaceBusBw, unit: GB_S },
    { name: "nccl-all-reduce-algbw", value: result.algBw, unit: GB_S }
  ]
  if (result.avgBusBw !== undefined) metrics.push({ name: "nccl-avg-bus-bandwidth", value: result.avgBusBw, unit: GB_S })
  metrics.push(
    { name: "nccl-message-size", value: result.sizeBytes, unit: "bytes" },
    { name: "nccl-nodes", value: result.nodes.length, unit: "nodes" },
    { name: "nccl-gpus-per-node", value: result.gpusPerNode, unit: "GPUs" },
    { name: "nccl-ranks", value: result.ranks, unit: "ranks" }
  )
  const checks = result.table.rows.flatMap((row) => [row.outOfPlace.check, row.inPlace.check])
  if (checks.some((check) => check.kind === "wrong")) {
    const wrong = checks.reduce((sum, check) => sum + (check.kind === "wrong" ? check.count : 0), 0)
    metrics.push({ name: "nccl-wrong-elements", value: wrong, unit: "elements", passed: wrong === 0 })
  }
  if (result.corruption?.outOfBounds !== undefined) {
    metrics.push({ name: "nccl-out-of-bounds-values", value: result.corruption.outOfBounds, unit: "values", passed: false })
  }
  if (result.maxError !== undefined) metrics.push({ name: "nccl-max-error", value: result.maxError, unit: "relative error" })
  return metrics
}

/**
 * Judges nccl-tests output against the recipe's gate: the out-of-place bus bandwidth at the largest message size
 * `>=` the threshold × (1 − tolerance). Wrong results (`#wrong` above 0, out-of-bounds values) fail whatever the
 * bandwidth. Inconclusive: output without a sound table, no gate, or a rank count other than the GPUs placed.
 */
export const judge = (input: JudgeInput): Judgement => {
  const { parsed, run } = input
  const tolerance = input.tolerance ?? Inputs.TOLERANCE
  const transport = transportOf(parsed.info, run)
  if (parsed._tag === "Inconclusive") return { _tag: "Inconclusive", reason: `${parsed.reason} ${describe(run, transport, undefined)}` }
  const { measurement } = parsed
  const context = describe(run, transport, measurement.sizeBytes)
  if (input.gate === undefined) {
    return { _tag: "Inconclusive", reason: `the recipe sets no ${Inputs.BANDWIDTH} constraint: there is nothing to judge ${context}` }
  }
  const ranks = rankProblem(parsed.info, run)
  if (ranks !== undefined) return { _tag: "Inconclusive", reason: `${ranks} ${context}` }
  const judged = Constraint.judgeThreshold(input.gate, measurement.busBw, tolerance)
  const constraint = Constraint.formatThreshold(input.gate)
  const corruption = measurement.corruption
  const passed = judged.passed && corruption === undefined
  const bandwidth = `NCCL all-reduce bus bandwidth ${gbs(measurement.busBw)} ` +
    `${judged.passed ? "satisfies" : "does not satisfy"} constraint "${constraint}" ` +
    `(with ${percent(tolerance)} tolerance: at least ${gbs(judged.limit)})`
  const from = parsed.source === "termination-message" ? " (read from the launcher's termination message)" : ""
  const message = corruption === undefined
    ? `${bandwidth} ${context}${from}`
    : `NCCL all-reduce failed its data check: ${corruption.message}; ${bandwidth} ${context}${from}`
  const result: Result = {
    runId: run.runId,
    verdict: passed ? "passed" : "failed",
    mode: run.mode,
    nodes: run.nodes,
    gpusPerNode: run.gpusPerNode,
    ranks: expectedRanks(run),
    transport,
    platform: run.platform,
    fabric: run.fabric,
    runtimeImage: run.runtimeImage,
    runtimeImageOverridden: run.runtimeImageOverridden,
    ncclVersion: parsed.info.ncclVersion,
    ncclTestsVersion: parsed.info.ncclTestsVersion,
    sweep: run.benchmark,
    sizeBytes: measurement.sizeBytes,
    constraint,
    threshold: input.gate.value,
    tolerance,
    effectiveThreshold: judged.limit,
    busBw: measurement.busBw,
    inPlaceBusBw: measurement.inPlaceBusBw,
    algBw: measurement.algBw,
    avgBusBw: measurement.avgBusBw,
    maxError: measurement.maxError,
    corruption,
    source: parsed.source,
    warnings: parsed.info.warnings,
    table: { layout: parsed.table.layout, rows: parsed.table.rows }
  }
  const evidence = {
    metrics: metricsOf(result, judged.passed),
    artifacts: [
      { name: TABLE_ARTIFACT, contentType: "text/plain", content: parsed.table.text },
      { name: RESULT_ARTIFACT, contentType: "application/json", content: `${JSON.stringify(result, null, 2)}\n` }
    ]
  }
  return { _tag: "Verdict", outcome: passed ? Validator.passed(message, evidence) : Validator.failed(message, evidence), result }
}
