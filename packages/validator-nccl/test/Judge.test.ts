import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import type * as Inputs from "../src/Inputs.ts"
import * as Judge from "../src/Judge.ts"
import * as Output from "../src/Output.ts"

const read = (name: string) => readFileSync(new URL(`./fixtures/nccl/${name}`, import.meta.url), "utf8")

/** 450.30 GB/s at 16 GiB, one rank line (node1). */
const EKS = read("aicr-v0.11.1-unit-test-fixture-eks-16G.txt")
/** 43.81 GB/s at 4 GiB, 16 ranks on two hosts, AWS Libfabric. */
const LEGACY = read("aws-eks-p4d-efa-launcher-log-legacy-format.txt")
/** 333.51 GB/s at 8 GiB, no rank lines. */
const GKE = read("aicr-v0.11.1-unit-test-fixture-gke-8G.txt")

const BENCHMARK: Inputs.Benchmark = { minBytes: 1024, maxBytes: 16 * 1024 ** 3, stepFactor: 2, iterations: 20, warmupIterations: 5 }
const IMAGE = "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9"

const RUN: Judge.Run = {
  runId: "1a2b3c4d",
  nodes: ["gpu-a", "gpu-b"],
  gpusPerNode: 8,
  mode: "inter-node",
  platform: "EKS H100, EFA",
  fabric: "efa",
  benchmark: BENCHMARK,
  runtimeImage: IMAGE,
  runtimeImageOverridden: false
}

/** The legacy log's run: 2 nodes × 8 A100s, 4 GiB. */
const LEGACY_RUN: Judge.Run = { ...RUN, nodes: ["nccl-tests-efa-16-worker-0", "nccl-tests-efa-16-worker-1"], benchmark: { ...BENCHMARK, minBytes: 8, maxBytes: 4 * 1024 ** 3 } }

const atLeast = (value: number): Inputs.Gate => ({ operator: ">=", value })

const verdict = (judgement: Judge.Judgement) => {
  if (judgement._tag !== "Verdict") throw new Error(`expected a verdict, got: ${judgement.reason}`)
  return judgement
}

const outcome = (judgement: Judge.Judgement) => {
  const { outcome } = verdict(judgement)
  if (outcome.status === "skipped") throw new Error("a judgement is never skipped")
  return outcome
}

const reason = (judgement: Judge.Judgement) => {
  if (judgement._tag !== "Inconclusive") throw new Error(`expected inconclusive, got ${judgement.outcome.status}`)
  return judgement.reason
}

const judge = (gate: Inputs.Gate | undefined, text: string, run: Partial<Judge.Run> = {}) =>
  Judge.judge({ gate, parsed: Output.parse(text), run: { ...LEGACY_RUN, ...run } })

const CONTEXT = "[inter-node on nccl-tests-efa-16-worker-0, nccl-tests-efa-16-worker-1 (2 nodes × 8 GPUs, 16 ranks) over AWS Libfabric; sizes 8–4G, largest message 4G; run 1a2b3c4d]"

describe("judge", () => {
  it("passes with everything a report needs: figure, threshold, effective threshold, nodes, transport, sizes, table", () => {
    const result = outcome(judge(atLeast(40), LEGACY))
    expect(result.status).toBe("passed")
    expect(result.message).toBe(
      `NCCL all-reduce bus bandwidth 43.81 GB/s satisfies constraint ">= 40" (with 10% tolerance: at least 36.00 GB/s) ${CONTEXT}`
    )
    expect(result.metrics).toEqual([
      { name: "nccl-all-reduce-bw", value: 43.81, unit: "GB/s", threshold: ">= 40", passed: true },
      { name: "nccl-all-reduce-bw-effective-threshold", value: 36, unit: "GB/s" },
      { name: "nccl-all-reduce-bw-in-place", value: 43.72, unit: "GB/s" },
      { name: "nccl-all-reduce-algbw", value: 23.36, unit: "GB/s" },
      { name: "nccl-avg-bus-bandwidth", value: 11.2432, unit: "GB/s" },
      { name: "nccl-message-size", value: 4_294_967_296, unit: "bytes" },
      { name: "nccl-nodes", value: 2, unit: "nodes" },
      { name: "nccl-gpus-per-node", value: 8, unit: "GPUs" },
      { name: "nccl-ranks", value: 16, unit: "ranks" },
      { name: "nccl-max-error", value: 5e-7, unit: "relative error" }
    ])
    expect(result.artifacts.map((artifact) => [artifact.name, artifact.contentType])).toEqual([
      ["nccl-tests-table.txt", "text/plain"],
      ["nccl-all-reduce-bw-result.json", "application/json"]
    ])
    const table = result.artifacts[0]!.content
    expect(table.split("\n")).toHaveLength(36)
    expect(table).toContain("  4294967296    1073741824   float     sum   183834   23.36   43.81  5e-07   184216   23.31   43.72  5e-07\n")
    const json = JSON.parse(result.artifacts[1]!.content)
    expect(json.table.rows).toHaveLength(30)
    expect({ ...json, table: undefined }).toEqual({
      runId: "1a2b3c4d",
      verdict: "passed",
      mode: "inter-node",
      nodes: ["nccl-tests-efa-16-worker-0", "nccl-tests-efa-16-worker-1"],
      gpusPerNode: 8,
      ranks: 16,
      transport: "AWS Libfabric",
      platform: "EKS H100, EFA",
      fabric: "efa",
      runtimeImage: IMAGE,
      runtimeImageOverridden: false,
      ncclVersion: "2.9.9",
      sweep: { minBytes: 8, maxBytes: 4_294_967_296, stepFactor: 2, iterations: 20, warmupIterations: 5 },
      sizeBytes: 4_294_967_296,
      constraint: ">= 40",
      threshold: 40,
      tolerance: 0.1,
      effectiveThreshold: 36,
      busBw: 43.81,
      inPlaceBusBw: 43.72,
      algBw: 23.36,
      avgBusBw: 11.2432,
      maxError: 5e-7,
      source: "log",
      warnings: []
    })
    expect(json.table.layout).toBe("without-root")
  })

  it("passes at exactly 90% of the floor, as upstream (>= 300 passes at 270.00)", () => {
    const at270 = EKS.replace("139.20  450.30      0  123456", "139.20  270.00      0  123456")
    const judged = verdict(judge(atLeast(300), at270, { nodes: ["node1"], gpusPerNode: 1, benchmark: BENCHMARK }))
    expect(judged.outcome.status).toBe("passed")
    expect(judged.result.effectiveThreshold).toBe(270)
    expect(judged.result.busBw).toBe(270)
  })

  it("fails just below 90% of the floor", () => {
    const at269 = EKS.replace("139.20  450.30      0  123456", "139.20  269.99      0  123456")
    const result = outcome(judge(atLeast(300), at269, { nodes: ["node1"], gpusPerNode: 1, benchmark: BENCHMARK, fabric: undefined }))
    expect(result.status).toBe("failed")
    expect(result.message).toBe(
      'NCCL all-reduce bus bandwidth 269.99 GB/s does not satisfy constraint ">= 300" (with 10% tolerance: at least 270.00 GB/s) ' +
        "[inter-node on node1 (1 node × 1 GPUs, 1 ranks); sizes 1K–16G, largest message 16G; run 1a2b3c4d]"
    )
    expect(result.metrics[0]).toEqual({ name: "nccl-all-reduce-bw", value: 269.99, unit: "GB/s", threshold: ">= 300", passed: false })
  })

  it("fails on the legacy fixture against upstream's EKS floor (43.81 is below 270), where upstream read 5", () => {
    const result = outcome(judge(atLeast(300), LEGACY))
    expect(result.status).toBe("failed")
    expect(result.message).toMatch(/^NCCL all-reduce bus bandwidth 43\.81 GB\/s does not satisfy constraint ">= 300"/)
  })

  it("fails on data corruption whatever the bandwidth, naming it first", () => {
    const corrupt = EKS.replace("# Out of bounds values : 0 OK", "# Out of bounds values : 7 FAILED")
      .replace("450.30      0  123456", "450.30      4  123456")
    const judged = verdict(judge(atLeast(300), corrupt, { nodes: ["node1"], gpusPerNode: 1, benchmark: BENCHMARK }))
    const result = judged.outcome
    expect(result.status).toBe("failed")
    expect(result.message).toBe(
      "NCCL all-reduce failed its data check: data corruption: nccl-tests found wrong results (#wrong: 4 at 17179869184 B out-of-place); " +
        'nccl-tests reports "Out of bounds values : 7 FAILED"; NCCL all-reduce bus bandwidth 450.30 GB/s satisfies constraint ">= 300" ' +
        "(with 10% tolerance: at least 270.00 GB/s) [inter-node on node1 (1 node × 1 GPUs, 1 ranks) over efa (configured; NCCL did not report its network); " +
        "sizes 1K–16G, largest message 16G; run 1a2b3c4d]"
    )
    if (result.status === "skipped") throw new Error("unreachable")
    expect(result.metrics).toContainEqual({ name: "nccl-all-reduce-bw", value: 450.3, unit: "GB/s", threshold: ">= 300", passed: true })
    expect(result.metrics).toContainEqual({ name: "nccl-wrong-elements", value: 4, unit: "elements", passed: false })
    expect(result.metrics).toContainEqual({ name: "nccl-out-of-bounds-values", value: 7, unit: "values", passed: false })
    expect(judged.result.verdict).toBe("failed")
    expect(judged.result.corruption?.outOfBounds).toBe(7)
  })

  it("reports zero wrong elements when the table checked them", () => {
    const result = outcome(judge(atLeast(300), EKS, { nodes: ["node1"], gpusPerNode: 1, benchmark: BENCHMARK }))
    expect(result.metrics).toContainEqual({ name: "nccl-wrong-elements", value: 0, unit: "elements", passed: true })
    expect(result.metrics.map((metric) => metric.name)).not.toContain("nccl-max-error")
  })

  it("names the runtime image when the knob replaced the catalog's, as upstream", () => {
    const result = outcome(judge(atLeast(40), LEGACY, { runtimeImage: "localhost:5001/nccl-tests:mine", runtimeImageOverridden: true }))
    expect(result.message).toBe(
      `NCCL all-reduce bus bandwidth 43.81 GB/s satisfies constraint ">= 40" (with 10% tolerance: at least 36.00 GB/s) ${CONTEXT} ` +
        "(runtime image: localhost:5001/nccl-tests:mine)"
    )
  })

  it("says when the figure came from the termination message", () => {
    const message = GKE.split("\n").filter((line) => !line.startsWith("#") || line.includes("Avg bus bandwidth")).join("\n")
    const parsed = Output.fromLauncher({ log: "", terminationMessage: message })
    const judged = verdict(Judge.judge({ gate: atLeast(300), parsed, run: { ...RUN, benchmark: { ...BENCHMARK, maxBytes: 8 * 1024 ** 3 } } }))
    expect(judged.outcome.message).toMatch(/\(read from the launcher's termination message\)$/)
    expect(judged.result.source).toBe("termination-message")
  })

  it("judges an intra-node run the same way and says so", () => {
    const result = outcome(judge(atLeast(300), GKE, { mode: "intra-node", nodes: ["gpu-a"], fabric: undefined }))
    expect(result.message).toBe(
      'NCCL all-reduce bus bandwidth 333.51 GB/s satisfies constraint ">= 300" (with 10% tolerance: at least 270.00 GB/s) ' +
        "[intra-node on gpu-a (1 node × 8 GPUs, 8 ranks); sizes 8–4G, largest message 8G; run 1a2b3c4d]"
    )
  })
})

describe("no verdict", () => {
  it("passes the parser's reason on, with the run's facts", () => {
    const truncated = LEGACY.slice(0, LEGACY.indexOf("# Avg bus bandwidth"))
    expect(reason(judge(atLeast(300), truncated))).toBe(
      'the nccl-tests table in the launcher log is truncated: it stops after 4294967296 B (4 GiB) without the "# Avg bus bandwidth" ' +
        "line nccl-tests prints once every size has run [inter-node on nccl-tests-efa-16-worker-0, nccl-tests-efa-16-worker-1 (2 nodes × 8 GPUs, 16 ranks) over AWS Libfabric; sizes 8–4G; run 1a2b3c4d]"
    )
  })

  it("without a gate there is nothing to judge", () => {
    expect(reason(judge(undefined, LEGACY))).toBe(`the recipe sets no nccl-all-reduce-bw constraint: there is nothing to judge ${CONTEXT}`)
  })

  it("when nccl-tests ran on other GPUs than the run placed", () => {
    expect(reason(judge(atLeast(40), LEGACY, { nodes: ["a", "b", "c"] }))).toBe(
      "nccl-tests ran on 16 GPUs (hosts nccl-tests-efa-16-worker-0, nccl-tests-efa-16-worker-1) but the run placed 24 (3 × 8): " +
        "the bandwidth would not describe the nodes benchmarked " +
        "[inter-node on a, b, c (3 nodes × 8 GPUs, 24 ranks) over AWS Libfabric; sizes 8–4G, largest message 4G; run 1a2b3c4d]"
    )
  })
})
