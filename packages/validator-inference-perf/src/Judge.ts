import * as Constraint from "@aicr/core/Constraint"
import * as Validator from "@aicr/core/Validator"
import type * as Export from "./Export.ts"
import * as Inputs from "./Inputs.ts"

/** What was benchmarked: the facts a verdict reports next to the numbers. */
export interface Run {
  /** The 8-hex run hash that suffixes the run's object names. */
  readonly runId: string
  readonly node: string
  /** GPUs benchmarked: the node's free GPUs, one vLLM worker each. */
  readonly gpuCount: number
  /** GPUs the node has (allocatable). */
  readonly nodeGpuCount: number
  readonly model: string
  /** AIPerf's `--concurrency`: `concurrencyPerGpu × gpuCount`. */
  readonly concurrency: number
  readonly concurrencyPerGpu: number
}

export interface JudgeInput {
  readonly throughput: Inputs.ThroughputGate | undefined
  readonly ttftP99: Inputs.TtftGate | undefined
  /** Relative slack, default {@link Inputs.TOLERANCE} (10 %). */
  readonly tolerance?: number | undefined
  readonly parsed: Export.Parsed
  readonly run: Run
}

/** One gate, judged. */
export interface GateVerdict {
  readonly name: typeof Inputs.THROUGHPUT | typeof Inputs.TTFT_P99
  /** The recipe's constraint, normalised (`>= 5000`). */
  readonly constraint: string
  readonly threshold: number
  /** The threshold after scaling to the GPUs benchmarked (throughput only; otherwise the threshold). */
  readonly effectiveThreshold: number
  /** The effective threshold after tolerance: the number the measurement is compared with. */
  readonly limit: number
  readonly measured: number
  readonly unit: "tokens/s" | "ms"
  readonly scaled: boolean
  readonly passed: boolean
  readonly message: string
}

/**
 * A verdict (passed or failed, with metrics and artifacts) or why none can be given; the pipeline turns
 * `Inconclusive` into its error channel.
 */
export type Judgement =
  | { readonly _tag: "Verdict"; readonly outcome: Validator.CheckOutcome; readonly gates: ReadonlyArray<GateVerdict> }
  | { readonly _tag: "Inconclusive"; readonly reason: string }

/**
 * The throughput floor for a partly free node: `threshold × gpuCount / nodeGpuCount` when `0 < gpuCount <
 * nodeGpuCount`, the threshold otherwise. TTFT is never scaled.
 */
export const scaledThreshold = (threshold: number, gpuCount: number, nodeGpuCount: number): number =>
  gpuCount > 0 && gpuCount < nodeGpuCount ? Number(((threshold * gpuCount) / nodeGpuCount).toPrecision(12)) : threshold

const describe = (run: Run): string =>
  `${run.model} on node ${run.node}: ${run.gpuCount} of ${run.nodeGpuCount} GPUs, concurrency ${run.concurrency} ` +
  `(${run.concurrencyPerGpu} per GPU), run ${run.runId}`

const percent = (tolerance: number) => `${Number((tolerance * 100).toPrecision(6))}%`

const judgeGate = (
  name: GateVerdict["name"],
  gate: Inputs.ThroughputGate | Inputs.TtftGate,
  measured: number,
  tolerance: number,
  run: Run
): GateVerdict => {
  const throughput = name === Inputs.THROUGHPUT
  const effectiveThreshold = throughput ? scaledThreshold(gate.value, run.gpuCount, run.nodeGpuCount) : gate.value
  const scaled = effectiveThreshold !== gate.value
  const judgement = Constraint.judgeThreshold({ operator: gate.operator, value: effectiveThreshold }, measured, tolerance)
  const constraint = Constraint.formatThreshold(gate)
  const unit = throughput ? "tokens/s" : "ms"
  const label = throughput ? `inference throughput ${measured.toFixed(2)} tokens/s` : `inference TTFT p99 ${measured.toFixed(2)} ms`
  const verb = judgement.passed ? "satisfies" : "does not satisfy"
  const suffix = scaled
    ? ` — gate scaled to ${effectiveThreshold.toFixed(0)} for ${run.gpuCount} of ${run.nodeGpuCount} node GPUs benchmarked`
    : ""
  return {
    name,
    constraint,
    threshold: gate.value,
    effectiveThreshold,
    limit: judgement.limit,
    measured,
    unit,
    scaled,
    passed: judgement.passed,
    message: `${label} ${verb} constraint "${constraint}" (with ${percent(tolerance)} tolerance)${suffix}`
  }
}

const metricsOf = (
  measurement: Export.Measurement,
  gates: ReadonlyArray<GateVerdict>,
  run: Run
): ReadonlyArray<Validator.Metric> => {
  const gateOf = (name: GateVerdict["name"]) => gates.find((gate) => gate.name === name)
  const throughput = gateOf(Inputs.THROUGHPUT)
  const ttft = gateOf(Inputs.TTFT_P99)
  const metrics: Array<Validator.Metric> = [
    { name: Inputs.THROUGHPUT, value: measurement.throughput, unit: "tokens/s", threshold: throughput?.constraint, passed: throughput?.passed }
  ]
  if (throughput !== undefined) {
    metrics.push(
      { name: `${Inputs.THROUGHPUT}-effective-threshold`, value: throughput.effectiveThreshold, unit: "tokens/s" },
      { name: `${Inputs.THROUGHPUT}-limit`, value: throughput.limit, unit: "tokens/s" }
    )
  }
  metrics.push({ name: Inputs.TTFT_P99, value: measurement.ttftP99Ms, unit: "ms", threshold: ttft?.constraint, passed: ttft?.passed })
  if (ttft !== undefined) metrics.push({ name: `${Inputs.TTFT_P99}-limit`, value: ttft.limit, unit: "ms" })
  metrics.push(
    { name: "inference-gpus", value: run.gpuCount, unit: "GPUs" },
    { name: "inference-node-gpus", value: run.nodeGpuCount, unit: "GPUs" },
    { name: "inference-concurrency", value: run.concurrency, unit: "requests" }
  )
  if (measurement.requestCount !== undefined) {
    metrics.push({ name: "inference-successful-requests", value: measurement.requestCount, unit: "requests" })
  }
  if (measurement.errorRequestCount !== undefined) {
    metrics.push({ name: "inference-failed-requests", value: measurement.errorRequestCount, unit: "requests" })
  }
  return metrics
}

/** The artifact name of the raw AIPerf result, by where it was read. */
export const rawArtifactName = (source: Export.Source): string =>
  source === "logs" ? "profile_export_aiperf.json" : "aiperf-summary.json"

/** The artifact with every fact of the verdict as JSON. */
export const RESULT_ARTIFACT = "inference-perf-result.json"

/**
 * Judges an AIPerf result against the recipe's gates: throughput `>=` (scaled to the GPUs benchmarked when the node
 * was only partly free) and TTFT p99 `<=`, both with the tolerance. Every gate is judged (upstream stopped at the
 * first failure). An unreadable result, or a recipe with neither gate, is `Inconclusive`.
 */
export const judge = (input: JudgeInput): Judgement => {
  const { parsed, run } = input
  const tolerance = input.tolerance ?? Inputs.TOLERANCE
  if (parsed._tag === "Inconclusive") return { _tag: "Inconclusive", reason: `${parsed.reason} [${describe(run)}]` }
  if (input.throughput === undefined && input.ttftP99 === undefined) {
    return {
      _tag: "Inconclusive",
      reason: `the recipe sets neither ${Inputs.THROUGHPUT} nor ${Inputs.TTFT_P99}: there is nothing to judge [${describe(run)}]`
    }
  }
  const { measurement } = parsed
  const gates: Array<GateVerdict> = []
  if (input.throughput !== undefined) {
    gates.push(judgeGate(Inputs.THROUGHPUT, input.throughput, measurement.throughput, tolerance, run))
  }
  if (input.ttftP99 !== undefined) gates.push(judgeGate(Inputs.TTFT_P99, input.ttftP99, measurement.ttftP99Ms, tolerance, run))
  const failed = gates.filter((gate) => !gate.passed)
  const ordered = [...failed, ...gates.filter((gate) => gate.passed)]
  const from = parsed.source === "termination-message" ? " (read from the AIPerf pod's termination-message summary)" : ""
  const message = `${ordered.map((gate) => gate.message).join("; ")} [${describe(run)}]${from}`
  const result = {
    runId: run.runId,
    node: run.node,
    gpuCount: run.gpuCount,
    nodeGpuCount: run.nodeGpuCount,
    model: run.model,
    concurrency: run.concurrency,
    concurrencyPerGpu: run.concurrencyPerGpu,
    tolerance,
    verdict: failed.length === 0 ? "passed" : "failed",
    gates: gates.map(({ message: _message, ...gate }) => gate),
    measurement: {
      throughput: measurement.throughput,
      ttftP99Ms: measurement.ttftP99Ms,
      requestCount: measurement.requestCount,
      errorRequestCount: measurement.errorRequestCount,
      totalOutputTokens: measurement.totalOutputTokens,
      aiperfVersion: measurement.aiperfVersion,
      source: parsed.source
    }
  }
  const evidence = {
    metrics: metricsOf(measurement, gates, run),
    artifacts: [
      { name: rawArtifactName(parsed.source), contentType: "application/json", content: parsed.raw },
      { name: RESULT_ARTIFACT, contentType: "application/json", content: `${JSON.stringify(result, null, 2)}\n` }
    ]
  }
  return {
    _tag: "Verdict",
    outcome: failed.length === 0 ? Validator.passed(message, evidence) : Validator.failed(message, evidence),
    gates
  }
}
