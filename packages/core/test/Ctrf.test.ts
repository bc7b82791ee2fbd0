import { describe, expect, it } from "vitest"
import * as Ctrf from "../src/Ctrf.ts"

const T0 = 1774087200000 // 2026-03-21T10:00:00Z
const sec = 1000

const result = (name: string, status: Ctrf.Status, extra: Partial<Ctrf.TestResult> = {}): Ctrf.TestResult => ({
  name,
  status,
  duration: 0,
  ...extra
})

const phaseReport = (phase: string, start: number, stop: number, tests: ReadonlyArray<Ctrf.TestResult>) =>
  Ctrf.build({ version: "1.2.3", start, stop, tests: tests.map((test) => ({ ...test, suite: [phase] })) })

describe("fromExitCode", () => {
  it.each([
    [0, "passed"],
    [1, "failed"],
    [2, "skipped"],
    [137, "other"],
    [-1, "other"],
    [255, "other"],
    [3, "other"]
  ] as const)("exit %i → %s", (code, status) => {
    expect(Ctrf.fromExitCode(code)).toBe(status)
  })
})

describe("build", () => {
  it("an empty report carries format, spec version, generator, tool and zero counters", () => {
    const report = Ctrf.build({ version: "1.2.3", start: T0, stop: T0 + 5 * sec, tests: [] })
    expect(report).toStrictEqual({
      reportFormat: "CTRF",
      specVersion: "0.0.1",
      timestamp: "2026-03-21T10:00:05Z",
      generatedBy: "aicr",
      results: {
        tool: { name: "aicr", version: "1.2.3" },
        summary: { tests: 0, passed: 0, failed: 0, skipped: 0, pending: 0, other: 0, start: T0, stop: T0 + 5000 },
        tests: []
      }
    })
  })

  it("counts one result of each status and keeps duration, suite and order", () => {
    const report = Ctrf.build({
      start: T0,
      stop: T0 + 60 * sec,
      tests: [
        result("operator-health", "passed", { duration: 15000, suite: ["deployment"], message: "all operators healthy" }),
        result("expected-resources", "failed", { duration: 2000, suite: ["deployment"], message: "deployment gpu-operator/x missing" }),
        result("gpu-operator-version", "skipped", { suite: ["deployment"], message: "no constraint" }),
        result("check-nvidia-smi", "other", { duration: 1000, suite: ["deployment"], message: "" })
      ]
    })
    expect(report.results.summary).toStrictEqual({
      tests: 4, passed: 1, failed: 1, skipped: 1, pending: 0, other: 1, start: T0, stop: T0 + 60000
    })
    expect(report.results.tests.map((test) => test.name)).toStrictEqual([
      "operator-health", "expected-resources", "gpu-operator-version", "check-nvidia-smi"
    ])
    expect(report.results.tests[0]).toStrictEqual({
      name: "operator-health", status: "passed", duration: 15000, suite: ["deployment"], message: "all operators healthy"
    })
    expect(report.results.tests[3]).toStrictEqual({
      name: "check-nvidia-smi", status: "other", duration: 1000, suite: ["deployment"]
    })
    expect(report.results.tool).toStrictEqual({ name: "aicr" })
  })

  it("counts pending results", () => {
    const report = Ctrf.build({ start: T0, stop: T0, tests: [result("a", "pending"), result("b", "pending")] })
    expect(report.results.summary.pending).toBe(2)
    expect(report.results.summary.tests).toBe(2)
  })

  it("rounds durations to whole non-negative milliseconds", () => {
    const report = Ctrf.build({
      start: T0,
      stop: T0,
      tests: [result("a", "passed", { duration: 1234.6 }), result("b", "passed", { duration: -5 }), result("c", "passed", { duration: Number.NaN })]
    })
    expect(report.results.tests.map((test) => test.duration)).toStrictEqual([1235, 0, 0])
  })

  it("sets the timestamp from stop, in UTC with whole seconds", () => {
    const report = Ctrf.build({ start: T0, stop: T0 + 90_500, tests: [] })
    expect(report.timestamp).toBe("2026-03-21T10:01:30Z")
    expect(report.results.summary.stop).toBeGreaterThanOrEqual(report.results.summary.start)
  })

  it("keeps the environment when set", () => {
    const report = Ctrf.build({
      start: T0,
      stop: T0,
      tests: [],
      environment: { appName: "aicr", appVersion: "1.2.3", testEnvironment: "eks-h100", extra: { runId: "20260321-abc" } }
    })
    expect(report.results.environment).toStrictEqual({
      appName: "aicr", appVersion: "1.2.3", testEnvironment: "eks-h100", extra: { runId: "20260321-abc" }
    })
  })

  it("has no environment when unset or when every field is empty", () => {
    expect(Ctrf.build({ start: T0, stop: T0, tests: [] }).results.environment).toBeUndefined()
    expect("environment" in Ctrf.build({ start: T0, stop: T0, tests: [] }).results).toBe(false)
    const empty = Ctrf.build({ start: T0, stop: T0, tests: [], environment: { appName: "", extra: {} } })
    expect("environment" in empty.results).toBe(false)
  })

  it("does not capture stdout when it is empty", () => {
    const report = Ctrf.build({
      start: T0,
      stop: T0,
      tests: [result("a", "passed", { stdout: [] }), result("b", "passed", { stdout: ["NCCL All Reduce bandwidth: 350.12 GB/s"] })]
    })
    expect("stdout" in report.results.tests[0]!).toBe(false)
    expect(report.results.tests[1]!.stdout).toStrictEqual(["NCCL All Reduce bandwidth: 350.12 GB/s"])
  })

  it("keeps extra metrics and drops an empty extra", () => {
    const report = Ctrf.build({
      start: T0,
      stop: T0,
      tests: [
        result("inference-perf", "passed", { extra: { "inference-throughput": 5120.5, unit: "tokens/s" } }),
        result("nccl-all-reduce-bw", "passed", { extra: {} })
      ]
    })
    expect(report.results.tests[0]!.extra).toStrictEqual({ "inference-throughput": 5120.5, unit: "tokens/s" })
    expect("extra" in report.results.tests[1]!).toBe(false)
  })
})

describe("skipped", () => {
  it("is a skipped result with the reason as message, the phase as suite and duration 0", () => {
    expect(Ctrf.skipped("nccl-all-reduce-bw", "performance", "skipped due to previous phase failure")).toStrictEqual({
      name: "nccl-all-reduce-bw",
      status: "skipped",
      duration: 0,
      suite: ["performance"],
      message: "skipped due to previous phase failure"
    })
  })

  it("counts as skipped in a built report", () => {
    const report = Ctrf.build({ start: T0, stop: T0, tests: [Ctrf.skipped("dra-support", "conformance", "no plugin for this check")] })
    expect(report.results.summary).toMatchObject({ tests: 1, skipped: 1, passed: 0 })
  })
})

describe("toJson", () => {
  it("omits empty optional fields and indents with 2 spaces", () => {
    const report = Ctrf.build({
      start: T0,
      stop: T0 + 1000,
      tests: [result("operator-health", "passed", { duration: 12, message: "", stdout: [], suite: [], extra: {} })]
    })
    expect(Ctrf.toJson(report)).toBe(`{
  "reportFormat": "CTRF",
  "specVersion": "0.0.1",
  "timestamp": "2026-03-21T10:00:01Z",
  "generatedBy": "aicr",
  "results": {
    "tool": {
      "name": "aicr"
    },
    "summary": {
      "tests": 1,
      "passed": 1,
      "failed": 0,
      "skipped": 0,
      "pending": 0,
      "other": 0,
      "start": 1774087200000,
      "stop": 1774087201000
    },
    "tests": [
      {
        "name": "operator-health",
        "status": "passed",
        "duration": 12
      }
    ]
  }
}`)
  })

  it("omits empty fields of a hand-made report too", () => {
    const handMade: Ctrf.Report = {
      reportFormat: "CTRF",
      specVersion: "0.0.1",
      timestamp: "2026-03-21T10:00:00Z",
      generatedBy: "aicr",
      results: {
        tool: { name: "aicr", version: "" },
        summary: { tests: 1, passed: 0, failed: 1, skipped: 0, pending: 0, other: 0, start: T0, stop: T0 },
        tests: [{ name: "a", status: "failed", duration: 0, message: "", stdout: [], suite: [], extra: {} }],
        environment: { appName: "" }
      }
    }
    const parsed = JSON.parse(Ctrf.toJson(handMade)) as { results: Record<string, unknown> }
    expect(parsed.results["tool"]).toStrictEqual({ name: "aicr" })
    expect(parsed.results["tests"]).toStrictEqual([{ name: "a", status: "failed", duration: 0 }])
    expect("environment" in parsed.results).toBe(false)
  })

  it("writes every field when present", () => {
    const report = Ctrf.build({
      version: "1.2.3",
      start: T0,
      stop: T0,
      tests: [result("a", "failed", { duration: 5, suite: ["performance"], message: "too slow", stdout: ["x"], extra: { ttft: 250 } })],
      environment: { testEnvironment: "gke-h100" }
    })
    const parsed = JSON.parse(Ctrf.toJson(report)) as Ctrf.Report
    expect(parsed.results.tool).toStrictEqual({ name: "aicr", version: "1.2.3" })
    expect(parsed.results.tests[0]).toStrictEqual({
      name: "a", status: "failed", duration: 5, suite: ["performance"], message: "too slow", stdout: ["x"], extra: { ttft: 250 }
    })
    expect(parsed.results.environment).toStrictEqual({ testEnvironment: "gke-h100" })
  })
})

describe("decode", () => {
  const full = Ctrf.build({
    version: "1.2.3",
    start: T0,
    stop: T0 + 42 * sec,
    tests: [
      result("inference-perf", "passed", {
        duration: 40000,
        suite: ["performance"],
        message: "throughput 5120 tokens/s >= 5000",
        stdout: ["RESULT: throughput=5120", "RESULT: ttft-p99=180"],
        extra: { throughput: 5120, ttftP99Ms: 180, model: "Qwen/Qwen3-0.6B", nested: { gpus: [0, 1] } }
      }),
      Ctrf.skipped("nccl-all-reduce-bw", "performance", "fewer than 2 schedulable GPU nodes"),
      result("dra-support", "other", { duration: 7, suite: ["conformance"] })
    ],
    environment: { appName: "aicr", appVersion: "1.2.3", testEnvironment: "eks-h100", extra: { runId: "r1" } }
  })

  it("round-trips a report through JSON", () => {
    const decoded = Ctrf.decode(Ctrf.toJson(full))
    expect(decoded).toStrictEqual({ _tag: "Ok", report: full })
  })

  it("round-trips an empty report", () => {
    const empty = Ctrf.build({ start: T0, stop: T0, tests: [] })
    expect(Ctrf.decode(Ctrf.toJson(empty))).toStrictEqual({ _tag: "Ok", report: empty })
  })

  it("drops unknown fields and empty optional fields", () => {
    const json = JSON.stringify({
      reportFormat: "CTRF",
      specVersion: "0.0.1",
      timestamp: "2026-03-21T12:00:00+02:00",
      generatedBy: "aicr",
      extension: true,
      results: {
        tool: { name: "aicr" },
        summary: { tests: 1, passed: 1, failed: 0, skipped: 0, pending: 0, other: 0, start: T0, stop: T0 },
        tests: [{ name: "a", status: "passed", duration: 3, message: "", stdout: [], flaky: false }]
      }
    })
    const decoded = Ctrf.decode(json)
    expect(decoded).toStrictEqual({
      _tag: "Ok",
      report: {
        reportFormat: "CTRF",
        specVersion: "0.0.1",
        timestamp: "2026-03-21T12:00:00+02:00",
        generatedBy: "aicr",
        results: {
          tool: { name: "aicr" },
          summary: { tests: 1, passed: 1, failed: 0, skipped: 0, pending: 0, other: 0, start: T0, stop: T0 },
          tests: [{ name: "a", status: "passed", duration: 3 }]
        }
      }
    })
  })

  it("reports text that is not JSON, with its source", () => {
    const decoded = Ctrf.decode("{ not json", "cm://aicr-validation/aicr-ctrf-r1-performance")
    expect(decoded._tag).toBe("Error")
    if (decoded._tag !== "Error") return
    expect(decoded.problems).toHaveLength(1)
    expect(decoded.problems[0]!.source).toBe("cm://aicr-validation/aicr-ctrf-r1-performance")
    expect(decoded.problems[0]!.message).toMatch(/^not valid JSON \(.+\); expected a CTRF report$/)
  })

  it("collects every schema problem with its path", () => {
    const bad = JSON.parse(Ctrf.toJson(full)) as { results: { tests: Array<Record<string, unknown>>; summary: Record<string, unknown> }; specVersion: string }
    bad.specVersion = "1.0.0"
    bad.results.summary["failed"] = -1
    bad.results.tests[1]!["status"] = "broken"
    bad.results.tests[2]!["duration"] = "7"
    const decoded = Ctrf.decode(JSON.stringify(bad), "report.json")
    expect(decoded._tag).toBe("Error")
    if (decoded._tag !== "Error") return
    expect(decoded.problems.map((problem) => problem.path)).toStrictEqual([
      "specVersion",
      "results.summary.failed",
      "results.tests[1].status",
      "results.tests[2].duration"
    ])
    expect(decoded.problems.every((problem) => problem.source === "report.json")).toBe(true)
  })
})

describe("merge", () => {
  it("returns a single report unchanged (the same object)", () => {
    const only = phaseReport("deployment", T0, T0 + 1000, [result("a", "passed")])
    expect(Ctrf.merge([only], T0 + 99_000)).toBe(only)
    expect(Ctrf.merge([undefined, only, undefined], T0 + 99_000)).toBe(only)
  })

  it("concatenates tests in order, sums counters, takes earliest start, latest stop and first timestamp", () => {
    const deployment = phaseReport("deployment", T0 + 10 * sec, T0 + 20 * sec, [result("a", "passed"), result("b", "failed")])
    const performance = phaseReport("performance", T0, T0 + 30 * sec, [result("c", "skipped"), result("d", "other")])
    const conformance = phaseReport("conformance", T0 + 40 * sec, T0 + 50 * sec, [result("e", "passed"), result("f", "pending")])
    const merged = Ctrf.merge([deployment, performance, conformance], T0 + 99_000)
    expect(merged.results.tests.map((test) => `${test.suite?.[0]}/${test.name}`)).toStrictEqual([
      "deployment/a", "deployment/b", "performance/c", "performance/d", "conformance/e", "conformance/f"
    ])
    expect(merged.results.summary).toStrictEqual({
      tests: 6, passed: 2, failed: 1, skipped: 1, pending: 1, other: 1, start: T0, stop: T0 + 50_000
    })
    expect(merged.timestamp).toBe(deployment.timestamp)
    expect(merged.timestamp).toBe("2026-03-21T10:00:20Z")
    expect(merged.results.tool).toStrictEqual({ name: "aicr", version: "1.2.3" })
  })

  it("uses the given version for the tool", () => {
    const a = phaseReport("deployment", T0, T0, [])
    const b = phaseReport("performance", T0, T0, [])
    expect(Ctrf.merge([a, b], T0, "2.0.0").results.tool).toStrictEqual({ name: "aicr", version: "2.0.0" })
  })

  it("gives an empty report stamped now when there is no report", () => {
    const now = T0 + 3 * sec
    const expected = {
      reportFormat: "CTRF",
      specVersion: "0.0.1",
      timestamp: "2026-03-21T10:00:03Z",
      generatedBy: "aicr",
      results: {
        tool: { name: "aicr" },
        summary: { tests: 0, passed: 0, failed: 0, skipped: 0, pending: 0, other: 0, start: now, stop: now },
        tests: []
      }
    }
    expect(Ctrf.merge([], now)).toStrictEqual(expected)
    expect(Ctrf.merge([undefined, undefined], now)).toStrictEqual(expected)
    expect(Ctrf.merge([], now, "1.2.3").results.tool).toStrictEqual({ name: "aicr", version: "1.2.3" })
  })

  it("skips undefined reports", () => {
    const a = phaseReport("deployment", T0, T0 + 1000, [result("a", "passed")])
    const b = phaseReport("conformance", T0 + 2000, T0 + 3000, [result("b", "failed")])
    const merged = Ctrf.merge([a, undefined, b], T0)
    expect(merged.results.summary).toStrictEqual({
      tests: 2, passed: 1, failed: 1, skipped: 0, pending: 0, other: 0, start: T0, stop: T0 + 3000
    })
    expect(merged.results.tests.map((test) => test.name)).toStrictEqual(["a", "b"])
  })

  it("takes the environment of the last report that has one", () => {
    const withEnv = (env: string | undefined) =>
      Ctrf.build({ start: T0, stop: T0, tests: [], ...(env !== undefined ? { environment: { testEnvironment: env } } : {}) })
    const merged = Ctrf.merge([withEnv("first"), withEnv("second"), withEnv(undefined)], T0)
    expect(merged.results.environment).toStrictEqual({ testEnvironment: "second" })
    const none = Ctrf.merge([withEnv(undefined), withEnv(undefined)], T0)
    expect("environment" in none.results).toBe(false)
  })
})

describe("phaseStatus", () => {
  const summary = (counts: Partial<Ctrf.Summary>): Ctrf.Summary => {
    const base = { passed: 0, failed: 0, skipped: 0, pending: 0, other: 0, ...counts }
    return { ...base, tests: base.passed + base.failed + base.skipped + base.pending + base.other, start: T0, stop: T0 }
  }

  it.each([
    ["no tests", "skipped", {}],
    ["all passed", "passed", { passed: 3 }],
    ["passed and skipped", "passed", { passed: 1, skipped: 2 }],
    ["all skipped (upstream reported passed)", "skipped", { skipped: 2 }],
    ["all pending", "skipped", { pending: 1 }],
    ["one failed among passed", "failed", { passed: 2, failed: 1 }],
    ["failed wins over other", "failed", { failed: 1, other: 1 }],
    ["other among passed", "other", { passed: 2, other: 1 }],
    ["other among skipped", "other", { skipped: 2, other: 1 }]
  ] as const)("%s → %s", (_label, status, counts) => {
    expect(Ctrf.phaseStatus(summary(counts))).toBe(status)
  })

  it("reads a built report's summary", () => {
    const report = Ctrf.build({ start: T0, stop: T0, tests: [Ctrf.skipped("a", "deployment", "n/a"), Ctrf.skipped("b", "deployment", "n/a")] })
    expect(Ctrf.phaseStatus(report.results.summary)).toBe("skipped")
  })
})
