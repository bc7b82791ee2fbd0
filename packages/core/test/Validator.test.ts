import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import * as z from "zod"
import * as ConstraintSchema from "../src/ConstraintSchema.ts"
import * as Validator from "../src/Validator.ts"

const spec = {
  name: "my-check",
  phase: "conformance",
  description: "a check",
  constraints: z.object({}),
  timeoutMs: 60_000,
  run: () => Effect.succeed(Validator.passed("ok"))
} as const

/** Calls defineValidator with metadata that does not type-check, as a JavaScript plugin would. */
const defineUntyped = (overrides: Record<string, unknown>) =>
  Validator.defineValidator({ ...spec, ...overrides } as unknown as Parameters<typeof Validator.defineValidator>[0])

const thrownBy = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  throw new Error("expected a throw")
}

describe("defineValidator", () => {
  it("defaults requires, permissions, images and exclusive to empty lists", () => {
    const plugin = Validator.defineValidator(spec)
    expect([plugin.requires, plugin.permissions, plugin.images, plugin.exclusive]).toEqual([[], [], [], []])
    expect([plugin.name, plugin.phase, plugin.description, plugin.timeoutMs]).toEqual(["my-check", "conformance", "a check", 60_000])
    expect(plugin.run).toBe(spec.run)
    expect(plugin[Validator.TypeId]).toEqual({ contractVersion: Validator.CONTRACT_VERSION })
    expect(Validator.CONTRACT_VERSION).toBe(1)
  })

  it("keeps the declared lists", () => {
    const plugin = Validator.defineValidator({
      ...spec,
      requires: [{ kind: "component", name: "gpu-operator" }, { kind: "constraint", anyOf: ["a"] }, { kind: "crd", name: "x.y.z" }],
      permissions: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }],
      images: ["worker"],
      exclusive: ["gpu"]
    })
    expect(plugin.requires).toEqual([{ kind: "component", name: "gpu-operator" }, { kind: "constraint", anyOf: ["a"] }, { kind: "crd", name: "x.y.z" }])
    expect(plugin.permissions).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }])
    expect(plugin.images).toEqual(["worker"])
    expect(plugin.exclusive).toEqual(["gpu"])
  })

  it("returns a frozen plugin", () => {
    expect(Object.isFrozen(Validator.defineValidator(spec))).toBe(true)
  })

  const rejections: ReadonlyArray<[string, Record<string, unknown>, string]> = [
    ["an uppercase name", { name: "MyCheck" }, `invalid validator plugin "MyCheck": name must be a kebab-case DNS-1123 label (got "MyCheck")`],
    ["a name ending in a dash", { name: "my-check-" }, `invalid validator plugin "my-check-": name must be a kebab-case DNS-1123 label (got "my-check-")`],
    ["a name of 64 characters", { name: "a".repeat(64) }, `invalid validator plugin "${"a".repeat(64)}": name must be a kebab-case DNS-1123 label (got "${"a".repeat(64)}")`],
    ["an unknown phase", { phase: "readiness" }, `invalid validator plugin "my-check": phase must be one of: deployment, performance, conformance (got "readiness")`],
    ["a blank description", { description: "  " }, `invalid validator plugin "my-check": description is required`],
    ["a constraints value that is not a schema", { constraints: {} }, `invalid validator plugin "my-check": constraints must be a zod schema`],
    ["a zero timeout", { timeoutMs: 0 }, `invalid validator plugin "my-check": timeoutMs must be a positive number of milliseconds`],
    ["an infinite timeout", { timeoutMs: Infinity }, `invalid validator plugin "my-check": timeoutMs must be a positive number of milliseconds`],
    ["a timeout as text", { timeoutMs: "5m" }, `invalid validator plugin "my-check": timeoutMs must be a positive number of milliseconds`],
    ["a missing run", { run: undefined }, `invalid validator plugin "my-check": run must be a function`],
    ["requires that is not a list", { requires: { kind: "crd", name: "x" } }, `invalid validator plugin "my-check": requires must be an array`],
    ["an unknown exclusive resource", { exclusive: ["gpu", "network"] }, `invalid validator plugin "my-check": exclusive[1] must be one of: gpu (got "network")`],
    [
      "a requirement of unknown kind",
      { requires: [{ kind: "node", name: "a" }] },
      `invalid validator plugin "my-check": requires[0] must be {kind: "component" | "crd", name}, {kind: "constraint", anyOf: [names]} or {kind: "api", apiVersion, resourceKind, whenMissing?, declaredBy?} (got {"kind":"node","name":"a"})`
    ],
    [
      "a constraint requirement without names",
      { requires: [{ kind: "constraint", anyOf: [] }] },
      `invalid validator plugin "my-check": requires[0] must be {kind: "component" | "crd", name}, {kind: "constraint", anyOf: [names]} or {kind: "api", apiVersion, resourceKind, whenMissing?, declaredBy?} (got {"kind":"constraint","anyOf":[]})`
    ],
    [
      "a permission without verbs",
      { permissions: [{ apiGroups: [""], resources: ["pods"] }] },
      `invalid validator plugin "my-check": permissions[0] must be {apiGroups, resources, verbs} lists of strings, with no wildcard (*): the in-cluster runner grants exactly what is named (got {"apiGroups":[""],"resources":["pods"]})`
    ],
    [
      "a permission with a wildcard verb",
      { permissions: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }, { apiGroups: ["apps"], resources: ["deployments"], verbs: ["*"] }] },
      `invalid validator plugin "my-check": permissions[1] must be {apiGroups, resources, verbs} lists of strings, with no wildcard (*): the in-cluster runner grants exactly what is named (got {"apiGroups":["apps"],"resources":["deployments"],"verbs":["*"]})`
    ],
    [
      "a permission on every resource of a group",
      { permissions: [{ apiGroups: ["nvidia.com"], resources: ["*"], verbs: ["get"] }] },
      `invalid validator plugin "my-check": permissions[0] must be {apiGroups, resources, verbs} lists of strings, with no wildcard (*): the in-cluster runner grants exactly what is named (got {"apiGroups":["nvidia.com"],"resources":["*"],"verbs":["get"]})`
    ],
    ["an image key that is not text", { images: [3] }, `invalid validator plugin "my-check": images[0] must be a catalog image name (got 3)`]
  ]
  for (const [what, overrides, message] of rejections) {
    it(`rejects ${what} with a TypeError naming the plugin`, () => {
      const error = thrownBy(() => defineUntyped(overrides))
      expect(error).toBeInstanceOf(TypeError)
      expect((error as TypeError).message).toBe(message)
    })
  }

  it("lists every problem of the metadata in one error", () => {
    const error = thrownBy(() => defineUntyped({ name: "Bad Name", phase: "all", run: "yes" }))
    expect((error as TypeError).message).toBe(
      `invalid validator plugin "Bad Name": name must be a kebab-case DNS-1123 label (got "Bad Name"); ` +
        `phase must be one of: deployment, performance, conformance (got "all"); run must be a function`
    )
  })
})

describe("problems", () => {
  it("is empty for valid metadata", () => {
    expect(Validator.problems(spec)).toEqual([])
  })

  it("says what a non-object is", () => {
    expect(Validator.problems(null)).toEqual(["not an object"])
    expect(Validator.problems("inference-perf")).toEqual(["not an object"])
  })

  it("lists every missing field of an empty object", () => {
    expect(Validator.problems({})).toEqual([
      "name must be a kebab-case DNS-1123 label (got undefined)",
      "phase must be one of: deployment, performance, conformance (got undefined)",
      "description is required",
      "constraints must be a zod schema",
      "timeoutMs must be a positive number of milliseconds",
      "run must be a function"
    ])
  })

  it("accepts a 63-character name and digits", () => {
    expect(Validator.problems({ ...spec, name: `a${"1".repeat(61)}b` })).toEqual([])
    expect(Validator.problems({ ...spec, name: "9" })).toEqual([])
  })
})

describe("isValidator", () => {
  it("is true for a defined plugin", () => {
    expect(Validator.isValidator(Validator.defineValidator(spec))).toBe(true)
  })

  it("is false for a lookalike object without the brand", () => {
    expect(Validator.isValidator({ ...spec, requires: [], permissions: [], images: [], exclusive: [] })).toBe(false)
  })

  it("is false for a plugin built against another contract version", () => {
    const plugin = Validator.defineValidator(spec)
    expect(Validator.isValidator({ ...plugin, [Validator.TypeId]: { contractVersion: 2 } })).toBe(false)
  })

  it("is false for a malformed brand instead of throwing", () => {
    const plugin = Validator.defineValidator(spec)
    expect(Validator.isValidator({ ...plugin, [Validator.TypeId]: null })).toBe(false)
    expect(Validator.isValidator({ ...plugin, [Validator.TypeId]: 1 })).toBe(false)
  })

  it("is false for a branded object whose metadata is invalid", () => {
    const plugin = Validator.defineValidator(spec)
    expect(Validator.isValidator({ ...plugin, phase: "later" })).toBe(false)
  })

  it("is false for non-objects", () => {
    expect([null, undefined, "x", 1, () => undefined].map(Validator.isValidator)).toEqual([false, false, false, false, false])
  })
})

describe("outcomes", () => {
  it("passed and failed default to no evidence", () => {
    expect(Validator.passed("fine")).toEqual({ status: "passed", message: "fine", metrics: [], artifacts: [] })
    expect(Validator.failed("slow")).toEqual({ status: "failed", message: "slow", metrics: [], artifacts: [] })
    expect(Validator.skipped("n/a")).toEqual({ status: "skipped", message: "n/a" })
  })

  it("keep their evidence", () => {
    const metric = { name: "busbw", value: 310, unit: "GB/s", threshold: ">= 300", passed: true }
    const artifact = { name: "log", contentType: "text/plain", content: "..." }
    expect(Validator.failed("x", { metrics: [metric], artifacts: [artifact] })).toEqual({
      status: "failed",
      message: "x",
      metrics: [metric],
      artifacts: [artifact]
    })
  })
})

const issues = (result: z.ZodSafeParseResult<unknown>): ReadonlyArray<string> =>
  result.success ? [] : result.error.issues.map((issue) => issue.message)

describe("ConstraintSchema.threshold", () => {
  const throughput = ConstraintSchema.threshold("inference-throughput", "higher-is-better")
  const latency = ConstraintSchema.threshold("inference-ttft-p99", "lower-is-better")

  it("decodes a threshold pointing the required way", () => {
    expect(throughput.parse(">= 5000")).toEqual({ operator: ">=", value: 5000 })
    expect(throughput.parse(">4999.5")).toEqual({ operator: ">", value: 4999.5 })
    expect(latency.parse(" <= 200 ")).toEqual({ operator: "<=", value: 200 })
    expect(latency.parse("<.5")).toEqual({ operator: "<", value: 0.5 })
  })

  it("rejects an operator pointing the wrong way, naming the constraint and the fix", () => {
    expect(issues(throughput.safeParse("<= 5000"))).toEqual([
      `constraint "inference-throughput" is "<= 5000" but it must be a minimum (higher is better): use ">= 5000" (or ">")`
    ])
    expect(issues(latency.safeParse("> 200"))).toEqual([
      `constraint "inference-ttft-p99" is "> 200" but it must be a maximum (lower is better): use "<= 200" (or "<")`
    ])
  })

  it("rejects a bare number, an equality and units", () => {
    expect(issues(throughput.safeParse("5000"))).toEqual([
      `threshold "5000" must start with one of >=, <=, >, < followed by a number (e.g. ">= 300")`
    ])
    expect(issues(throughput.safeParse("== 5000"))).toEqual([
      `threshold "== 5000" must start with one of >=, <=, >, < followed by a number (e.g. ">= 300")`
    ])
    expect(issues(throughput.safeParse(">= 5000 tok/s"))).toEqual([
      `threshold ">= 5000 tok/s": "5000 tok/s" is not a plain number; write the operator once, then only digits (e.g. ">= 300", no units)`
    ])
  })

  it("rejects a value that is not text", () => {
    expect(issues(throughput.safeParse(5000))).toEqual(["Invalid input: expected string, received number"])
  })
})

describe("ConstraintSchema.value", () => {
  const model = ConstraintSchema.value("inference-model")

  it("accepts a plain value as written", () => {
    expect(model.parse("Qwen/Qwen3-8B")).toBe("Qwen/Qwen3-8B")
    expect(model.parse("a=b")).toBe("a=b")
  })

  it("rejects a comparison", () => {
    for (const text of [">= 1", "== Qwen", "!= x", "< 3", "= 5"]) {
      expect(issues(model.safeParse(text))).toEqual([`constraint "inference-model" takes a plain value, not a comparison`])
    }
  })
})

describe("ConstraintSchema.positiveInteger", () => {
  const concurrency = ConstraintSchema.positiveInteger("inference-concurrency-per-gpu")

  it("decodes a whole number, ignoring blanks and leading zeros", () => {
    expect(concurrency.parse("256")).toBe(256)
    expect(concurrency.parse(" 8 ")).toBe(8)
    expect(concurrency.parse("007")).toBe(7)
  })

  it("rejects zero, negatives, fractions, words and unsafe integers", () => {
    for (const text of ["0", "-1", "1.5", "1e3", "many", "", "9007199254740993"]) {
      expect(issues(concurrency.safeParse(text))).toEqual([
        `constraint "inference-concurrency-per-gpu" must be a positive whole number (got "${text}")`
      ])
    }
  })
})
