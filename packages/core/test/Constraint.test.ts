import { describe, expect, it } from "vitest"
import * as Constraint from "../src/Constraint.ts"
import type { Expression, Measurement, Threshold } from "../src/Constraint.ts"

const expr = (text: string): Expression => {
  const parsed = Constraint.parseExpression(text)
  if (parsed._tag === "Error") throw new Error(parsed.message)
  return parsed.expression
}

const threshold = (text: string): Threshold => {
  const parsed = Constraint.parseThreshold(text)
  if (parsed._tag === "Error") throw new Error(parsed.message)
  return parsed.threshold
}

// Ported from upstream pkg/constraints TestParseConstraintExpression (framework.md §13).
describe("parseExpression", () => {
  it.each([
    [">= 1.32.4", ">=", "1.32.4"],
    ["<= 1.33", "<=", "1.33"],
    ["> 1.30", ">", "1.30"],
    ["< 2.0", "<", "2.0"],
    ["== 24.04", "==", "24.04"],
    ["!= 22.04", "!=", "22.04"],
    ["ubuntu", "exact", "ubuntu"],
    ["24.04", "exact", "24.04"],
    ["v1.33.5", "exact", "v1.33.5"],
    ["  >= 1.32.4  ", ">=", "1.32.4"],
    [">=   1.32.4", ">=", "1.32.4"],
    ["\t== ubuntu \n", "==", "ubuntu"],
    [">=6.8", ">=", "6.8"],
    ["<=1.33", "<=", "1.33"],
    [">1.30", ">", "1.30"],
    ["<2.0", "<", "2.0"],
    ["==24.04", "==", "24.04"],
    ["!=22.04", "!=", "22.04"],
    ["= 5", "exact", "= 5"]
  ])("%j → %s %s", (text, operator, value) => {
    expect(Constraint.parseExpression(text)).toEqual({ _tag: "Ok", expression: { operator, value } })
  })

  it.each([
    ["", "constraint expression cannot be empty"],
    ["   ", "constraint expression cannot be empty"],
    [">=", `constraint value cannot be empty after operator ">=" (in ">=")`],
    ["<=  ", `constraint value cannot be empty after operator "<=" (in "<=")`],
    ["!=", `constraint value cannot be empty after operator "!=" (in "!=")`],
    [">", `constraint value cannot be empty after operator ">" (in ">")`]
  ])("%j is an error", (text, message) => {
    expect(Constraint.parseExpression(text)).toEqual({ _tag: "Error", message })
  })
})

// TestParsedConstraint_String
describe("formatExpression", () => {
  it.each([
    [{ operator: "exact", value: "ubuntu" }, "ubuntu"],
    [{ operator: ">=", value: "1.32.4" }, ">= 1.32.4"],
    [{ operator: "!=", value: "x" }, "!= x"],
    [{ operator: "<", value: "2" }, "< 2"]
  ] as const)("%j → %s", (e, text) => {
    expect(Constraint.formatExpression(e)).toBe(text)
  })

  it("round-trips through parseExpression", () => {
    expect(Constraint.formatExpression(expr(">=6.8"))).toBe(">= 6.8")
  })
})

describe("isVersionComparison", () => {
  it.each([
    [">= abc", true],
    ["< 2", true],
    ["== 24.04", true],
    ["== ubuntu", false],
    ["!= v1.2", true],
    ["24.04", false]
  ])("%s → %s", (text, expected) => {
    expect(Constraint.isVersionComparison(expr(text))).toBe(expected)
  })
})

// TestLooksLikeVersion
describe("looksLikeVersion", () => {
  it.each([
    ["1.2.3", true],
    ["v1.2.3", true],
    ["1.0", true],
    ["ubuntu22.04", true],
    ["123", false],
    ["abc.def", false],
    ["", false],
    ["v", false],
    ["a.b.c", false]
  ])("%j → %s", (text, expected) => {
    expect(Constraint.looksLikeVersion(text)).toBe(expected)
  })
})

describe("parseVersion", () => {
  it.each([
    ["1.33.5", { major: 1, minor: 33, patch: 5, precision: 3 }],
    ["v1.33.5-eks-3025e55", { major: 1, minor: 33, patch: 5, precision: 3 }],
    ["6.8.0-1028-aws", { major: 6, minor: 8, patch: 0, precision: 3 }],
    ["6.8", { major: 6, minor: 8, patch: 0, precision: 2 }],
    ["24", { major: 24, minor: 0, patch: 0, precision: 1 }],
    ["1.2.3+build.7", { major: 1, minor: 2, patch: 3, precision: 3 }],
    ["v24.6.0", { major: 24, minor: 6, patch: 0, precision: 3 }]
  ])("%s", (text, version) => {
    expect(Constraint.parseVersion(text)).toEqual(version)
  })

  it.each(["", "v", "1.2.3.4", "ubuntu22.04", "abc", "1..2", "-1.2", "vv1.2", "1.x"])("%j does not parse", (text) => {
    expect(Constraint.parseVersion(text)).toBeUndefined()
  })
})

// TestParsedConstraint_Evaluate
describe("evaluate", () => {
  it.each([
    [">= 1.32.4", "v1.33.5-eks-3025e55", true],
    [">= 6.8", "6.8.0-1028-aws", true],
    [">= 6.8", "5.15.0-1050-aws", false],
    [">= 1.33", "1.33.9", true],
    ["<= 1.33", "1.33.9", true],
    ["> 1.30", "1.30.0", false],
    ["> 1.30", "1.31.0", true],
    ["< 1.30", "1.30.0", false],
    ["< 1.30", "1.29.9", true],
    ["> 1.2.3", "1.2.3", false],
    ["< 1.2.3", "1.2.3", false],
    [">= v24.6.0", "v24.9.1", true],
    ["<= 2", "3.0.1", false],
    ["ubuntu", "ubuntu", true],
    ["ubuntu", "Ubuntu", false],
    ["24.04", "24.04", true],
    ["24.04", "24.4", false],
    ["== 24.04", "24.4", true],
    ["== 1.33", "1.33.0", true],
    ["== 1.33", "1.33.5", false],
    ["!= 1.33", "1.33.5", true],
    ["!= 24.04", "24.04", false],
    ["== ubuntu", "ubuntu", true],
    ["== ubuntu", "rhel", false],
    ["!= ubuntu", "rhel", true],
    ["== ubuntu22.04", "ubuntu22.04", true],
    ["== 1.2", "abc", false],
    ["!= 1.2", "abc", true],
    [">= 1.32.4", "  v1.33.5\n", true],
    ["ubuntu", "  ubuntu  ", true]
  ])("%s vs %j → %s", (text, actual, passed) => {
    expect(Constraint.evaluate(expr(text), actual)).toEqual({ _tag: "Ok", passed, actual: actual.trim() })
  })

  it.each([
    [">= abc", "1.2.3", `cannot parse expected version "abc" in ">= abc"`],
    [">= 1.2.3.4", "1.2.3", `cannot parse expected version "1.2.3.4" in ">= 1.2.3.4"`],
    ["< 1.2", "latest", `cannot parse actual version "latest" for "< 1.2"`],
    ["> 1.2", " ", `cannot parse actual version "" for "> 1.2"`]
  ])("%s vs %j is an error", (text, actual, message) => {
    expect(Constraint.evaluate(expr(text), actual)).toEqual({ _tag: "Error", message, actual: actual.trim() })
  })

  it("rejects an unknown operator", () => {
    const bogus = { operator: "=~", value: "x" } as unknown as Expression
    expect(Constraint.evaluate(bogus, "x")).toEqual({
      _tag: "Error",
      message: `unknown constraint operator "=~"`,
      actual: "x"
    })
  })
})

describe("compareVersions", () => {
  const v = (text: string) => Constraint.parseVersion(text)!
  it.each([
    ["1.33", "1.33.9", 0],
    ["1.34", "1.33.9", 1],
    ["1", "1.99", 0],
    ["1.2.3", "1.2.4", -1]
  ])("%s vs %s → %i", (a, b, order) => {
    expect(Constraint.compareVersions(v(a), v(b))).toBe(order)
  })
})

// TestParseConstraintPath
describe("parsePath", () => {
  it.each([
    ["K8s.server.version", "K8s", "server", "version"],
    ["OS.release.ID", "OS", "release", "ID"],
    ["OS.release.VERSION_ID", "OS", "release", "VERSION_ID"],
    ["OS.sysctl./proc/sys/kernel/osrelease", "OS", "sysctl", "/proc/sys/kernel/osrelease"],
    ["GPU.info.type", "GPU", "info", "type"],
    ["SystemD.containerd.service.ActiveState", "SystemD", "containerd", "service.ActiveState"],
    ["NodeTopology.summary.node-count", "NodeTopology", "summary", "node-count"]
  ])("%s", (text, type, subtype, key) => {
    expect(Constraint.parsePath(text)).toEqual({ _tag: "Ok", path: { type, subtype, key } })
  })

  const shape = `expected {Type}.{Subtype}.{Key}, e.g. "K8s.server.version"`
  it.each([
    ["", `measurement path cannot be empty; ${shape}`],
    ["K8s", `invalid measurement path "K8s": ${shape}`],
    ["K8s.server", `invalid measurement path "K8s.server": ${shape}`],
    ["K8s..version", `invalid measurement path "K8s..version": empty subtype or key; ${shape}`],
    ["K8s.server.", `invalid measurement path "K8s.server.": empty subtype or key; ${shape}`],
    [
      "InvalidType.subtype.key",
      `invalid measurement type "InvalidType" in "InvalidType.subtype.key": must be one of K8s, GPU, OS, SystemD, NodeTopology`
    ],
    ["k8s.server.version", `invalid measurement type "k8s" in "k8s.server.version": must be one of K8s, GPU, OS, SystemD, NodeTopology`],
    ["os.release.ID", `invalid measurement type "os" in "os.release.ID": must be one of K8s, GPU, OS, SystemD, NodeTopology`],
    ["gpu.info.type", `invalid measurement type "gpu" in "gpu.info.type": must be one of K8s, GPU, OS, SystemD, NodeTopology`],
    [
      "systemd.containerd.service.ActiveState",
      `invalid measurement type "systemd" in "systemd.containerd.service.ActiveState": must be one of K8s, GPU, OS, SystemD, NodeTopology`
    ]
  ])("%j is an error", (text, message) => {
    expect(Constraint.parsePath(text)).toEqual({ _tag: "Error", message })
  })

  it("formats back to text (TestConstraintPath_String)", () => {
    const parsed = Constraint.parsePath("OS.sysctl./proc/sys/kernel/osrelease")
    expect(parsed._tag === "Ok" && Constraint.formatPath(parsed.path)).toBe("OS.sysctl./proc/sys/kernel/osrelease")
  })
})

// TestConstraintPath_ExtractValue
describe("extractValue", () => {
  const measurements: ReadonlyArray<Measurement> = [
    {
      type: "K8s",
      subtypes: [
        { subtype: "server", data: { version: "v1.33.5-eks-3025e55" } },
        { subtype: "images", data: { count: 42 } }
      ]
    },
    {
      type: "OS",
      subtypes: [
        { subtype: "release", data: { ID: "ubuntu", VERSION_ID: "24.04" } },
        { subtype: "sysctl", data: { "/proc/sys/kernel/osrelease": "6.8.0-1028-aws" } }
      ]
    },
    { type: "GPU", subtypes: [{ subtype: "info", data: { type: "H100", driver: "550.107.02", mig: false } }] },
    { type: "SystemD", subtypes: [{ subtype: "containerd.service", data: { ActiveState: "active" } }] }
  ]
  const path = (text: string) => {
    const parsed = Constraint.parsePath(text)
    if (parsed._tag === "Error") throw new Error(parsed.message)
    return parsed.path
  }

  it.each([
    ["K8s.server.version", "v1.33.5-eks-3025e55"],
    ["K8s.images.count", "42"],
    ["OS.release.ID", "ubuntu"],
    ["OS.release.VERSION_ID", "24.04"],
    ["OS.sysctl./proc/sys/kernel/osrelease", "6.8.0-1028-aws"],
    ["GPU.info.type", "H100"],
    ["GPU.info.mig", "false"],
    ["SystemD.containerd.service.ActiveState", "active"]
  ])("%s → %s", (text, value) => {
    expect(Constraint.extractValue(path(text), measurements)).toEqual({ _tag: "Ok", value })
  })

  it.each([
    ["NodeTopology.summary.count", `NodeTopology.summary.count: the snapshot has no NodeTopology measurement`],
    ["K8s.nonexistent.version", `K8s.nonexistent.version: subtype "nonexistent" not found in the K8s measurement of the snapshot`],
    ["K8s.server.nonexistent", `K8s.server.nonexistent: key "nonexistent" not found in K8s subtype "server" of the snapshot`]
  ])("%s is an error", (text, message) => {
    expect(Constraint.extractValue(path(text), measurements)).toEqual({ _tag: "Error", message })
  })
})

describe("parseThreshold", () => {
  it.each([
    [">= 300", ">=", 300],
    [">=300", ">=", 300],
    ["  >= 5000", ">=", 5000],
    [">=.5", ">=", 0.5],
    ["<=200.5", "<=", 200.5],
    ["> 1e3", ">", 1000],
    ["< 0", "<", 0],
    ["<= -5", "<=", -5]
  ])("%j → %s %d", (text, operator, value) => {
    expect(Constraint.parseThreshold(text)).toEqual({ _tag: "Ok", threshold: { operator, value } })
  })

  it("accepts a parsed expression", () => {
    expect(Constraint.parseThreshold({ operator: "<", value: "2000" })).toEqual({
      _tag: "Ok",
      threshold: { operator: "<", value: 2000 }
    })
  })

  const noOperator = (text: string) =>
    `threshold "${text}" must start with one of >=, <=, >, < followed by a number (e.g. ">= 300")`
  const notNumber = (text: string, value: string, op: string) =>
    `threshold "${text}": "${value}" is not a plain number; write the operator once, then only digits (e.g. "${op} 300", no units)`
  it.each([
    ["5000", noOperator("5000")],
    ["== 5000", noOperator("== 5000")],
    ["!= 5000", noOperator("!= 5000")],
    [">== 5000", notNumber(">== 5000", "= 5000", ">=")],
    [">=! 5000", notNumber(">=! 5000", "! 5000", ">=")],
    [">=< 5000", notNumber(">=< 5000", "< 5000", ">=")],
    [">= =5000", notNumber(">= =5000", "=5000", ">=")],
    [">=  >5000", notNumber(">=  >5000", ">5000", ">=")],
    ["<=   !200", notNumber("<=   !200", "!200", "<=")],
    ["<= <200", notNumber("<= <200", "<200", "<=")],
    ["<=> 200", notNumber("<=> 200", "> 200", "<=")],
    [">= 5000 tok/s", notNumber(">= 5000 tok/s", "5000 tok/s", ">=")],
    [">= Infinity", notNumber(">= Infinity", "Infinity", ">=")],
    [">= 0x10", notNumber(">= 0x10", "0x10", ">=")],
    [">= 1e999", notNumber(">= 1e999", "1e999", ">=")],
    ["", "constraint expression cannot be empty"],
    [">=", `constraint value cannot be empty after operator ">=" (in ">=")`]
  ])("%j is an error", (text, message) => {
    expect(Constraint.parseThreshold(text)).toEqual({ _tag: "Error", message })
  })
})

describe("requireDirection", () => {
  it.each([
    [">= 50000", "higher-is-better"],
    ["> 50000", "higher-is-better"],
    ["<= 2000", "lower-is-better"],
    ["< 2000", "lower-is-better"]
  ] as const)("%s is a valid %s gate", (text, direction) => {
    expect(Constraint.requireDirection(threshold(text), direction, "metric")).toEqual({
      _tag: "Ok",
      threshold: threshold(text)
    })
  })

  it("rejects a ceiling on a higher-is-better metric", () => {
    expect(Constraint.requireDirection(threshold("<= 50000"), "higher-is-better", "inference-throughput")).toEqual({
      _tag: "Error",
      message: `constraint "inference-throughput" is "<= 50000" but it must be a minimum (higher is better): ` +
        `use ">= 50000" (or ">")`
    })
  })

  it("rejects a floor on a lower-is-better metric", () => {
    expect(Constraint.requireDirection(threshold("> 200"), "lower-is-better", "inference-ttft-p99")).toEqual({
      _tag: "Error",
      message: `constraint "inference-ttft-p99" is "> 200" but it must be a maximum (lower is better): ` +
        `use "<= 200" (or "<")`
    })
  })
})

describe("judgeThreshold", () => {
  it.each([
    // >= with 10 %: floor 270
    [">= 300", 0.1, 270, 270, true],
    [">= 300", 0.1, 269.99, 270, false],
    [">= 300", 0.1, 300, 270, true],
    [">= 300", 0.1, 1000, 270, true],
    // > keeps strictness at the floor
    [">= 100", 0.1, 90, 90, true],
    ["> 100", 0.1, 90, 90, false],
    ["> 100", 0.1, 90.01, 90, true],
    // <= with 10 %: ceiling 2200
    ["<= 2000", 0.1, 2200, 2200, true],
    ["<= 2000", 0.1, 2200.01, 2200, false],
    ["<= 2000", 0.1, 0, 2200, true],
    ["< 2000", 0.1, 2200, 2200, false],
    ["< 2000", 0.1, 2199.99, 2200, true],
    // tolerance 0: plain comparison with the operator honoured
    [">= 300", 0, 300, 300, true],
    [">= 300", 0, 299.999, 300, false],
    ["> 300", 0, 300, 300, false],
    ["<= 200", 0, 200, 200, true],
    ["< 200", 0, 200, 200, false],
    ["< 200", 0, 199.5, 200, true],
    // floating-point artefacts do not move the bound
    [">= 50000", 0.1, 45000, 45000, true],
    ["<= 50000", 0.1, 55000, 55000, true],
    [">= 0.3", 0.1, 0.27, 0.27, true],
    ["<= 0.7", 0.1, 0.77, 0.77, true],
    // negative values relax away from zero
    [">= -10", 0.1, -11, -11, true],
    ["<= -10", 0.1, -9, -9, true],
    ["<= -10", 0.1, -8.99, -9, false]
  ])("%s tol %d: %d → limit %d, passed %s", (text, tolerance, measured, limit, passed) => {
    const t = threshold(text)
    expect(Constraint.judgeThreshold(t, measured, tolerance)).toEqual({
      passed,
      measured,
      threshold: t,
      tolerance,
      limit
    })
  })

  it("honours the operator instead of always comparing as a floor (NCCL quirk fixed)", () => {
    expect(Constraint.judgeThreshold(threshold("<= 100"), 500, 0.1).passed).toBe(false)
    expect(Constraint.judgeThreshold(threshold(">= 100"), 500, 0.1).passed).toBe(true)
  })

  it("never passes a NaN measurement", () => {
    expect(Constraint.judgeThreshold(threshold(">= 1"), Number.NaN, 0.1).passed).toBe(false)
    expect(Constraint.judgeThreshold(threshold("<= 1"), Number.NaN, 0.1).passed).toBe(false)
  })
})
