import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as RunContext from "../src/RunContext.ts"

const DNS_1123_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/

describe("dnsName", () => {
  const cases: ReadonlyArray<[string, string]> = [
    ["aiperf", "aicr-aiperf-1a2b3c4d"],
    ["NCCL_AllReduce", "aicr-nccl-allreduce-1a2b3c4d"],
    ["inference perf/worker.0", "aicr-inference-perf-worker-0-1a2b3c4d"],
    ["--edge--", "aicr-edge-1a2b3c4d"],
    ["a--b", "aicr-a--b-1a2b3c4d"],
    ["", "aicr-1a2b3c4d"],
    ["___", "aicr-1a2b3c4d"],
    ["Ünïcödé", "aicr-n-c-d-1a2b3c4d"]
  ]
  for (const [base, expected] of cases) {
    it(`${JSON.stringify(base)} → ${expected}`, () => {
      expect(RunContext.dnsName(base, "1a2b3c4d")).toBe(expected)
    })
  }

  it("cuts a long base to fit 63 characters, keeping the hash", () => {
    const name = RunContext.dnsName("x".repeat(100), "1a2b3c4d")
    expect(name).toBe(`aicr-${"x".repeat(49)}-1a2b3c4d`)
    expect(name.length).toBe(63)
  })

  it("does not leave a dash where the cut falls", () => {
    const base = `${"y".repeat(48)}-zzzz`
    expect(RunContext.dnsName(base, "1a2b3c4d")).toBe(`aicr-${"y".repeat(48)}-1a2b3c4d`)
  })

  it("always gives a DNS-1123 label of at most 63 characters", () => {
    const bases = [
      "a".repeat(200),
      `${"-".repeat(30)}${"B".repeat(60)}`,
      "gpu.operator.health.check.with.a.very.long.name.indeed.that.goes.on",
      "x-".repeat(40),
      "!!!",
      "UPPER lower 123 ___ ..."
    ]
    for (const base of bases) {
      const name = RunContext.dnsName(base, "0123abcd")
      expect({ base, name, valid: DNS_1123_LABEL.test(name), short: name.length <= 63 }).toEqual({ base, name, valid: true, short: true })
    }
  })
})

describe("generateRunId", () => {
  it("formats the UTC time and the random hex", () => {
    expect(RunContext.generateRunId(Date.UTC(2026, 0, 2, 3, 4, 5, 678), "0123456789abcdef")).toBe("20260102-030405-0123456789abcdef")
    expect(RunContext.generateRunId(0, "ffffffffffffffff")).toBe("19700101-000000-ffffffffffffffff")
  })

  it("gives an ID make() accepts", () => {
    const runId = RunContext.generateRunId(Date.UTC(2026, 11, 31, 23, 59, 59), "fedcba9876543210")
    expect(RunContext.make({ runId }).hash).toBe("3c0bf1d6")
  })
})

describe("make", () => {
  it("derives hash, labels, defaults and names from the run ID", () => {
    const context = RunContext.make({ runId: "20260101-000000-0123456789abcdef" })
    expect({ ...context, name: undefined, forCheck: undefined, afterVerdict: undefined }).toEqual({
      runId: "20260101-000000-0123456789abcdef",
      hash: "a77dc7ad",
      namespace: "aicr-validation",
      validator: undefined,
      labels: { "aicr.nvidia.com/run-id": "20260101-000000-0123456789abcdef", "app.kubernetes.io/managed-by": "aicr" },
      nodeSelector: {},
      tolerations: [{ operator: "Exists" }],
      userTolerations: undefined,
      name: undefined,
      recorder: RunContext.recordNothing,
      imagePullSecrets: [],
      keep: false,
      forCheck: undefined,
      afterVerdict: undefined
    })
    expect(context.name("aiperf")).toBe("aicr-aiperf-a77dc7ad")
  })

  it("hashes like upstream: the first 4 bytes of SHA-256 of the run ID, not a slice of it", () => {
    expect(RunContext.hashOf("20260422-145927-2e674d7ee93860ac")).toMatch(/^[0-9a-f]{8}$/)
    expect(RunContext.hashOf("20260422-145927-2e674d7ee93860ac")).not.toBe("2e674d7e")
    expect(RunContext.hashOf("20260101-000000-0123456789abcdef")).toBe("a77dc7ad")
  })

  it("gives each check a context whose labels name it, sharing the run's identity", () => {
    const run = RunContext.make({ runId: "20260101-000000-0123456789abcdef", namespace: "gpu-checks" })
    const check = run.forCheck("nccl-all-reduce-bw")
    expect([check.runId, check.hash, check.namespace, check.validator]).toEqual([run.runId, run.hash, "gpu-checks", "nccl-all-reduce-bw"])
    expect(check.labels).toEqual({
      "aicr.nvidia.com/run-id": "20260101-000000-0123456789abcdef",
      "app.kubernetes.io/managed-by": "aicr",
      "aicr.nvidia.com/validator": "nccl-all-reduce-bw"
    })
    expect(run.labels["aicr.nvidia.com/validator"]).toBeUndefined()
  })

  it("fits names into a shorter budget an operator derives from", () => {
    const context = RunContext.make({ runId: "20260101-000000-0123456789abcdef" })
    expect(context.name("inference-perf-frontend-worker", 28)).toBe("aicr-inference-perf-a77dc7ad")
    expect(context.name("inference-perf-frontend-worker", 28).length).toBeLessThanOrEqual(28)
    expect(context.name("x", 200).length).toBeLessThanOrEqual(63)
    expect(context.name("anything", 13)).toBe("aicr-a77dc7ad")
    expect(() => context.name("anything", 12)).toThrow("no name fits in 12 characters")
  })

  it("keeps the namespace and scheduling constraints given", () => {
    const context = RunContext.make({
      runId: "20260101-000000-0123456789abcdef",
      namespace: "gpu-checks",
      nodeSelector: { "nvidia.com/gpu.present": "true" },
      tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]
    })
    expect([context.namespace, context.nodeSelector, context.tolerations, context.userTolerations]).toEqual([
      "gpu-checks",
      { "nvidia.com/gpu.present": "true" },
      [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
      [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]
    ])
  })

  const bad = [
    "",
    "run-1",
    "20260101-000000-0123456789ABCDEF",
    "20260101-000000-0123456789abcde",
    "20260101-000000-0123456789abcdef0",
    "2026011-000000-0123456789abcdef",
    "20260101000000-0123456789abcdef",
    " 20260101-000000-0123456789abcdef"
  ]
  for (const runId of bad) {
    it(`rejects ${JSON.stringify(runId)}`, () => {
      expect(() => RunContext.make({ runId })).toThrow(
        new Error(`invalid run ID "${runId}": expected YYYYMMDD-HHMMSS-<16 hex>`)
      )
    })
  }
})

describe("RunContext.layerTest", () => {
  it.effect("provides the fixed test run, with overrides", () =>
    Effect.gen(function*() {
      const context = yield* RunContext.RunContext
      expect([context.runId, context.namespace, context.name("probe")]).toEqual([
        "20260101-000000-0123456789abcdef",
        "aicr-validation",
        "aicr-probe-a77dc7ad"
      ])
    }).pipe(Effect.provide(RunContext.RunContext.layerTest())))

  it.effect("applies overrides", () =>
    Effect.gen(function*() {
      const context = yield* RunContext.RunContext
      expect(context.namespace).toBe("other")
    }).pipe(Effect.provide(RunContext.RunContext.layerTest({ namespace: "other" }))))
})
