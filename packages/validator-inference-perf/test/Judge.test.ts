import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import * as Export from "../src/Export.ts"
import type * as Inputs from "../src/Inputs.ts"
import * as Judge from "../src/Judge.ts"

const read = (name: string) => readFileSync(new URL(`./fixtures/aiperf/${name}`, import.meta.url), "utf8")

/** output_token_throughput.avg 5388.8 tokens/sec, time_to_first_token.p99 195 ms. */
const EXPORT = read("flat-format-with-ttft_tests-fixtures-operator_ui-aiperf-llama3-c128_profile_export_aiperf.json")
const PARSED = Export.parse(EXPORT)

const RUN: Judge.Run = {
  runId: "1a2b3c4d",
  node: "gpu-a",
  gpuCount: 8,
  nodeGpuCount: 8,
  model: "Qwen/Qwen3-0.6B",
  concurrency: 128,
  concurrencyPerGpu: 16
}
const CONTEXT = "[Qwen/Qwen3-0.6B on node gpu-a: 8 of 8 GPUs, concurrency 128 (16 per GPU), run 1a2b3c4d]"

const atLeast = (value: number): Inputs.ThroughputGate => ({ operator: ">=", value })
const atMost = (value: number): Inputs.TtftGate => ({ operator: "<=", value })

const verdict = (judgement: Judge.Judgement) => {
  if (judgement._tag !== "Verdict") throw new Error(`expected a verdict, got: ${judgement.reason}`)
  return judgement
}

const outcome = (judgement: Judge.Judgement) => {
  const { outcome } = verdict(judgement)
  if (outcome.status === "skipped") throw new Error("a judgement is never skipped")
  return outcome
}

const judge = (gates: { throughput?: Inputs.ThroughputGate; ttftP99?: Inputs.TtftGate }, run: Partial<Judge.Run> = {}, parsed = PARSED) =>
  Judge.judge({ throughput: gates.throughput, ttftP99: gates.ttftP99, parsed, run: { ...RUN, ...run } })

describe("judge", () => {
  it("passes both gates with everything a report needs: values, thresholds, limits, run facts, raw export", () => {
    const result = outcome(judge({ throughput: atLeast(5000), ttftP99: atMost(200) }))
    expect(result.status).toBe("passed")
    expect(result.message).toBe(
      'inference throughput 5388.80 tokens/s satisfies constraint ">= 5000" (with 10% tolerance); ' +
        `inference TTFT p99 195.00 ms satisfies constraint "<= 200" (with 10% tolerance) ${CONTEXT}`
    )
    expect(result.metrics).toEqual([
      { name: "inference-throughput", value: 5388.8, unit: "tokens/s", threshold: ">= 5000", passed: true },
      { name: "inference-throughput-effective-threshold", value: 5000, unit: "tokens/s" },
      { name: "inference-throughput-limit", value: 4500, unit: "tokens/s" },
      { name: "inference-ttft-p99", value: 195, unit: "ms", threshold: "<= 200", passed: true },
      { name: "inference-ttft-p99-limit", value: 220, unit: "ms" },
      { name: "inference-gpus", value: 8, unit: "GPUs" },
      { name: "inference-node-gpus", value: 8, unit: "GPUs" },
      { name: "inference-concurrency", value: 128, unit: "requests" }
    ])
    expect(result.artifacts.map((artifact) => [artifact.name, artifact.contentType])).toEqual([
      ["profile_export_aiperf.json", "application/json"],
      ["inference-perf-result.json", "application/json"]
    ])
    expect(result.artifacts[0]!.content).toBe(EXPORT.trim())
    expect(JSON.parse(result.artifacts[1]!.content)).toEqual({
      runId: "1a2b3c4d",
      node: "gpu-a",
      gpuCount: 8,
      nodeGpuCount: 8,
      model: "Qwen/Qwen3-0.6B",
      concurrency: 128,
      concurrencyPerGpu: 16,
      tolerance: 0.1,
      verdict: "passed",
      gates: [
        { name: "inference-throughput", constraint: ">= 5000", threshold: 5000, effectiveThreshold: 5000, limit: 4500, measured: 5388.8, unit: "tokens/s", scaled: false, passed: true },
        { name: "inference-ttft-p99", constraint: "<= 200", threshold: 200, effectiveThreshold: 200, limit: 220, measured: 195, unit: "ms", scaled: false, passed: true }
      ],
      measurement: { throughput: 5388.8, ttftP99Ms: 195, aiperfVersion: "0.0.0-e2e", source: "logs" }
    })
  })

  it("judges every gate (upstream stopped at the first failure) and lists the failures first", () => {
    const judgement = verdict(judge({ throughput: atLeast(5000), ttftP99: atMost(150) }))
    expect(judgement.outcome.status).toBe("failed")
    expect(judgement.outcome.message).toBe(
      'inference TTFT p99 195.00 ms does not satisfy constraint "<= 150" (with 10% tolerance); ' +
        `inference throughput 5388.80 tokens/s satisfies constraint ">= 5000" (with 10% tolerance) ${CONTEXT}`
    )
    expect(judgement.gates.map((gate) => [gate.name, gate.passed, gate.limit])).toEqual([
      ["inference-throughput", true, 4500],
      ["inference-ttft-p99", false, 165]
    ])
  })

  it.each([
    [atLeast(5987.5), true, 5388.75],
    [atLeast(5988), false, 5389.2],
    [atLeast(6000), false, 5400]
  ])("throughput %j at the tolerance edge: passed %s (limit %d)", (gate, passed, limit) => {
    const [result] = verdict(judge({ throughput: gate })).gates
    expect(result).toMatchObject({ passed, limit, measured: 5388.8 })
  })

  it.each([
    [atMost(177.3), true, 195.03],
    [atMost(177.2), false, 194.92],
    [atMost(195), true, 214.5]
  ])("TTFT %j at the tolerance edge: passed %s (limit %d)", (gate, passed, limit) => {
    const [result] = verdict(judge({ ttftP99: gate })).gates
    expect(result).toMatchObject({ passed, limit, measured: 195 })
  })

  it("scales the throughput floor to the free GPUs and reports the effective threshold; TTFT is not scaled", () => {
    const judgement = verdict(judge({ throughput: atLeast(50000), ttftP99: atMost(200) }, { gpuCount: 4, concurrency: 64 }))
    const result = outcome(judgement)
    expect(result.status).toBe("failed")
    expect(result.message).toBe(
      'inference throughput 5388.80 tokens/s does not satisfy constraint ">= 50000" (with 10% tolerance) — gate scaled to ' +
        '25000 for 4 of 8 node GPUs benchmarked; inference TTFT p99 195.00 ms satisfies constraint "<= 200" (with 10% tolerance) ' +
        "[Qwen/Qwen3-0.6B on node gpu-a: 4 of 8 GPUs, concurrency 64 (16 per GPU), run 1a2b3c4d]"
    )
    expect(judgement.gates).toEqual([
      {
        name: "inference-throughput",
        constraint: ">= 50000",
        threshold: 50000,
        effectiveThreshold: 25000,
        limit: 22500,
        measured: 5388.8,
        unit: "tokens/s",
        scaled: true,
        passed: false,
        message: 'inference throughput 5388.80 tokens/s does not satisfy constraint ">= 50000" (with 10% tolerance) — gate scaled to 25000 for 4 of 8 node GPUs benchmarked'
      },
      {
        name: "inference-ttft-p99",
        constraint: "<= 200",
        threshold: 200,
        effectiveThreshold: 200,
        limit: 220,
        measured: 195,
        unit: "ms",
        scaled: false,
        passed: true,
        message: 'inference TTFT p99 195.00 ms satisfies constraint "<= 200" (with 10% tolerance)'
      }
    ])
    expect(result.metrics.slice(0, 3)).toEqual([
      { name: "inference-throughput", value: 5388.8, unit: "tokens/s", threshold: ">= 50000", passed: false },
      { name: "inference-throughput-effective-threshold", value: 25000, unit: "tokens/s" },
      { name: "inference-throughput-limit", value: 22500, unit: "tokens/s" }
    ])
  })

  it("passes a scaled gate that the full-node gate would fail", () => {
    const result = outcome(judge({ throughput: atLeast(6000) }, { gpuCount: 7, concurrency: 112 }))
    expect(result.status).toBe("passed")
    expect(result.message).toBe(
      'inference throughput 5388.80 tokens/s satisfies constraint ">= 6000" (with 10% tolerance) — gate scaled to 5250 for 7 of 8 ' +
        "node GPUs benchmarked [Qwen/Qwen3-0.6B on node gpu-a: 7 of 8 GPUs, concurrency 112 (16 per GPU), run 1a2b3c4d]"
    )
  })

  it("reports a metric without a gate as measured only, and request counts when AIPerf gives them", () => {
    const parsed = Export.parse(JSON.stringify({
      output_token_throughput: { unit: "tokens/sec", avg: 38367.2 },
      time_to_first_token: { unit: "ms", p99: 127.9 },
      request_count: { avg: 1024 },
      error_request_count: { avg: 0 }
    }))
    expect(outcome(judge({ ttftP99: atMost(2000) }, {}, parsed)).metrics).toEqual([
      { name: "inference-throughput", value: 38367.2, unit: "tokens/s", threshold: undefined, passed: undefined },
      { name: "inference-ttft-p99", value: 127.9, unit: "ms", threshold: "<= 2000", passed: true },
      { name: "inference-ttft-p99-limit", value: 2200, unit: "ms" },
      { name: "inference-gpus", value: 8, unit: "GPUs" },
      { name: "inference-node-gpus", value: 8, unit: "GPUs" },
      { name: "inference-concurrency", value: 128, unit: "requests" },
      { name: "inference-successful-requests", value: 1024, unit: "requests" },
      { name: "inference-failed-requests", value: 0, unit: "requests" }
    ])
  })

  it("says when the numbers come from the termination-message summary, and keeps that summary", () => {
    const summary = read("entrypoint-summary_flat-format-with-ttft.json")
    const result = outcome(judge({ throughput: atLeast(5000) }, {}, Export.fromTerminationMessage(summary)))
    expect(result.message).toBe(
      `inference throughput 5388.80 tokens/s satisfies constraint ">= 5000" (with 10% tolerance) ${CONTEXT} ` +
        "(read from the AIPerf pod's termination-message summary)"
    )
    expect(result.artifacts[0]).toEqual({ name: "aiperf-summary.json", contentType: "application/json", content: summary.trim() })
  })

  it("honours another tolerance", () => {
    const judgement = verdict(Judge.judge({ throughput: atLeast(5500), ttftP99: undefined, tolerance: 0, parsed: PARSED, run: RUN }))
    expect(judgement.gates[0]).toMatchObject({ passed: false, limit: 5500 })
    expect(judgement.outcome.message).toContain("(with 0% tolerance)")
  })

  it("an unreadable result is inconclusive, with the run it belongs to", () => {
    const parsed = Export.parse(read("flat-format-v0.8.0-nonstreaming_tests-_artifacts-audit-baseline-chat-bare_profile_export_aiperf.json"))
    expect(judge({ throughput: atLeast(5000) }, {}, parsed)).toEqual({
      _tag: "Inconclusive",
      reason: `the AIPerf export has no time_to_first_token.p99 (ms); AIPerf reports TTFT only for streaming runs ${CONTEXT}`
    })
  })

  it("a recipe with neither gate has nothing to judge", () => {
    expect(judge({})).toEqual({
      _tag: "Inconclusive",
      reason: `the recipe sets neither inference-throughput nor inference-ttft-p99: there is nothing to judge ${CONTEXT}`
    })
  })
})

describe("scaledThreshold", () => {
  it.each([
    [5000, 8, 8, 5000],
    [5000, 4, 8, 2500],
    [50000, 7, 8, 43750],
    [5000, 1, 3, 1666.66666667],
    [5000, 0, 8, 5000],
    [5000, 8, 0, 5000],
    [5000, 9, 8, 5000]
  ])("%d with %d of %d GPUs → %d", (threshold, gpus, nodeGpus, expected) => {
    expect(Judge.scaledThreshold(threshold, gpus, nodeGpus)).toBe(expected)
  })
})
