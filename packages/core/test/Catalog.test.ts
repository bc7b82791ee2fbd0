import { describe, expect, it } from "vitest"
import { it as effectIt } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { readFileSync } from "node:fs"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Catalog from "../src/Catalog.ts"
import type { Catalog as CatalogT, Entry } from "../src/Catalog.ts"
import { parse as parseGoDuration } from "../src/GoDuration.ts"
import * as Problem from "../src/Problem.ts"

const fixture = (name: string) => new URL(`./fixtures/catalog/${name}`, import.meta.url)
const readFixture = (name: string) => readFileSync(fixture(name), "utf8")

const ok = (text: string, source = "test.yaml"): CatalogT => {
  const parsed = Catalog.parseCatalog(text, source)
  if (parsed._tag === "Problems") throw new Error(parsed.problems.map(Problem.format).join("\n"))
  return parsed.catalog
}

const problems = (text: string, source = "test.yaml") => {
  const parsed = Catalog.parseCatalog(text, source)
  if (parsed._tag === "Ok") throw new Error("expected problems")
  return parsed.problems
}

const HEADER = `apiVersion: aicr.run/v1alpha1
kind: ValidatorCatalog
metadata:
  name: test
  version: "1.0.0"
validators:
`

const VALID = `${HEADER}  - name: v1
    phase: deployment
    description: first
    image: example.com/v:1
    timeout: 2m
    args: ["v1"]
    env: [{name: A, value: "1"}]
  - name: p1
    phase: performance
    image: example.com/p:1
  - name: v2
    phase: deployment
    image: example.com/v:1
    timeout: 1h30m
    resources: {cpu: 100m, memory: 128Mi}
    images:
      worker: nvcr.io/nvidia/x:1.0
  - name: c1
    phase: conformance
    image: example.com/c:1
    timeout: 90s
`

const names = (entries: ReadonlyArray<Entry>) => entries.map((entry) => entry.name)

describe("embedded (TestLoadEmbeddedCatalog)", () => {
  const catalog = Catalog.embedded()

  it("has our header", () => {
    expect([catalog.apiVersion, catalog.kind, catalog.metadata]).toEqual([
      "aicr.run/v1alpha1",
      "ValidatorCatalog",
      { name: "aicr-validators", version: "1.0.0" }
    ])
  })

  it("starts with operator-health and has 24 entries", () => {
    expect(catalog.validators[0]?.name).toBe("operator-health")
    expect(catalog.validators).toHaveLength(24)
  })

  it("is parsed once", () => {
    expect(Catalog.embedded()).toBe(catalog)
  })

  it("runs every check from our single validator image with args [name]", () => {
    for (const entry of catalog.validators) {
      expect([entry.name, entry.image, entry.args]).toEqual([
        entry.name,
        "ghcr.io/aicr-project/aicr-validator:latest",
        [entry.name]
      ])
    }
  })

  it("names the inner images of inference-perf and nccl-all-reduce-bw", () => {
    expect(Catalog.find(catalog, "inference-perf")?.images).toEqual({
      frontend: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1",
      worker: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1",
      aiperf: "ghcr.io/aicr-project/aiperf-bench:latest"
    })
    expect(Catalog.find(catalog, "nccl-all-reduce-bw")?.images).toEqual({
      runtime: "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9",
      "runtime-gke": "nvcr.io/nvidia/pytorch:25.06-py3",
      probe: "busybox:1.37"
    })
    expect(Catalog.find(catalog, "operator-health")?.images).toEqual({})
  })

  it("keeps ai-service-metrics' affinity toward Prometheus", () => {
    expect(Catalog.find(catalog, "ai-service-metrics")?.dependencyAffinity).toEqual([
      {
        componentRef: "kube-prometheus-stack",
        podLabelSelector: { "app.kubernetes.io/name": "prometheus" },
        requirement: "preferred"
      }
    ])
  })

  it("has inference-perf at 65 minutes and expected-resources at 8", () => {
    expect(Catalog.find(catalog, "inference-perf")?.timeout).toBe(65 * 60_000)
    expect(Catalog.find(catalog, "expected-resources")?.timeout).toBe(8 * 60_000)
  })

  it("lists the same checks as upstream's newest catalog, in the same order, phases and timeouts", () => {
    const upstream = ok(readFixture("newest--validators-catalog.yaml"))
    const shape = (c: CatalogT) => c.validators.map((e) => [e.name, e.phase, e.timeout])
    expect(shape(catalog)).toEqual(shape(upstream))
  })

  it("covers every check of upstream v0.11.1 under the same phase", () => {
    const old = ok(readFixture("v0.11.1--validators-catalog.yaml"))
    for (const entry of old.validators) {
      expect([entry.name, Catalog.find(catalog, entry.name)?.phase]).toEqual([entry.name, entry.phase])
    }
  })
})

describe("upstream catalogs", () => {
  it("parses v0.11.1 (aicr.nvidia.com/v1)", () => {
    const catalog = ok(readFixture("v0.11.1--validators-catalog.yaml"))
    expect(catalog.apiVersion).toBe("aicr.nvidia.com/v1")
    expect(catalog.validators).toHaveLength(16)
    expect(Catalog.forPhase(catalog, "deployment").map((e) => e.name)).toEqual([
      "operator-health",
      "expected-resources",
      "gpu-operator-version",
      "check-nvidia-smi"
    ])
    expect(Catalog.find(catalog, "nccl-all-reduce-bw")).toEqual({
      name: "nccl-all-reduce-bw",
      phase: "performance",
      description: "Verify NCCL All Reduce Bus Bandwidth meets threshold",
      image: "ghcr.io/nvidia/aicr-validators/performance:latest",
      timeout: 30 * 60_000,
      args: ["nccl-all-reduce-bw"],
      env: [],
      resources: undefined,
      dependencyAffinity: [],
      images: {}
    })
  })

  it("parses newest (validator.nvidia.com/v1alpha1) with dependencyAffinity", () => {
    const catalog = ok(readFixture("newest--validators-catalog.yaml"))
    expect(catalog.apiVersion).toBe("validator.nvidia.com/v1alpha1")
    expect(catalog.validators).toHaveLength(24)
    const metrics = Catalog.find(catalog, "ai-service-metrics")
    expect(metrics?.args).toEqual(["ai-service-metrics"])
    expect(metrics?.dependencyAffinity).toEqual([
      {
        componentRef: "kube-prometheus-stack",
        podLabelSelector: { "app.kubernetes.io/name": "prometheus" },
        requirement: "preferred"
      }
    ])
    expect(Catalog.find(catalog, "check-nvidia-smi")?.description).toBe(
      "Verify nvidia-smi on schedulable GPU nodes; enforce Deployment.gpu-driver.version when set (unmeasurable floor blocks)"
    )
  })
})

describe("parseCatalog (TestParseValidCatalog)", () => {
  const catalog = ok(VALID)

  it("reads every field", () => {
    expect(catalog.validators[0]).toEqual({
      name: "v1",
      phase: "deployment",
      description: "first",
      image: "example.com/v:1",
      timeout: 120_000,
      args: ["v1"],
      env: [{ name: "A", value: "1" }],
      resources: undefined,
      dependencyAffinity: [],
      images: {}
    })
    expect(catalog.validators[2]).toMatchObject({
      resources: { cpu: "100m", memory: "128Mi" },
      images: { worker: "nvcr.io/nvidia/x:1.0" },
      timeout: 90 * 60_000
    })
  })

  it("defaults description, args, env and timeout", () => {
    expect(catalog.validators[1]).toEqual({
      name: "p1",
      phase: "performance",
      description: "",
      image: "example.com/p:1",
      timeout: 300_000,
      args: [],
      env: [],
      resources: undefined,
      dependencyAffinity: [],
      images: {}
    })
  })

  it.each([
    ["2m", 120_000],
    ["65m", 3_900_000],
    ["1h30m", 5_400_000],
    ["90s", 90_000],
    ["0", 300_000],
    ["0s", 300_000]
  ])("timeout %s → %i ms", (text, ms) => {
    const parsed = ok(`${HEADER}  - {name: a, phase: deployment, image: i, timeout: "${text}"}\n`)
    expect(parsed.validators[0]?.timeout).toBe(ms)
  })

  it("reads unquoted resource quantities as text", () => {
    const parsed = ok(`${HEADER}  - {name: a, phase: deployment, image: i, resources: {cpu: 1, memory: 1Gi}}\n`)
    expect(parsed.validators[0]?.resources).toEqual({ cpu: "1", memory: "1Gi" })
  })

  it("tolerates unknown fields", () => {
    const parsed = ok(`${HEADER.replace("kind:", "extra: 1\nkind:")}  - {name: a, phase: deployment, image: i, future: true}\n`)
    expect(names(parsed.validators)).toEqual(["a"])
  })

  it("accepts a headerless catalog (embedded in another object)", () => {
    const parsed = ok(`validators:\n  - {name: a, phase: conformance, image: i}\n`)
    expect([parsed.apiVersion, parsed.kind, parsed.metadata, names(parsed.validators)]).toEqual([
      undefined,
      undefined,
      undefined,
      ["a"]
    ])
  })

  it("accepts a catalog without validators", () => {
    expect(ok(HEADER).validators).toEqual([])
  })
})

describe("forPhase (TestForPhase, TestForPhaseNoMatch)", () => {
  const catalog = ok(VALID)
  it.each([
    ["deployment", ["v1", "v2"]],
    ["performance", ["p1"]],
    ["conformance", ["c1"]]
  ] as const)("%s → %j in file order", (phase, expected) => {
    expect(names(Catalog.forPhase(catalog, phase))).toEqual(expected)
  })

  it("returns nothing for a phase without entries", () => {
    expect(Catalog.forPhase(ok(`${HEADER}  - {name: a, phase: deployment, image: i}\n`), "conformance")).toEqual([])
  })
})

describe("parseCatalog problems", () => {
  const entry = (body: string) => `${HEADER}  - name: ok\n    phase: deployment\n    image: i\n${body}`
  // HEADER is 6 lines; the "ok" entry occupies lines 7–9; the entry under test starts on line 10.

  it.each([
    [
      "invalid apiVersion",
      HEADER.replace("aicr.run/v1alpha1", "aicr.nvidia.com/v2"),
      {
        message:
          `unsupported apiVersion "aicr.nvidia.com/v2", must be one of: aicr.run/v1alpha1, validator.nvidia.com/v1alpha1, aicr.nvidia.com/v1`,
        path: "apiVersion",
        line: 1,
        column: 13
      }
    ],
    [
      "invalid kind",
      HEADER.replace("kind: ValidatorCatalog", "kind: RecipeMetadata"),
      { message: `invalid kind "RecipeMetadata", must be "ValidatorCatalog"`, path: "kind", line: 2, column: 7 }
    ],
    [
      "missing apiVersion with metadata",
      HEADER.replace("apiVersion: aicr.run/v1alpha1\n", ""),
      {
        message: `apiVersion is required, must be one of: aicr.run/v1alpha1, validator.nvidia.com/v1alpha1, aicr.nvidia.com/v1`,
        path: "apiVersion",
        line: 1,
        column: 1
      }
    ],
    [
      "empty name",
      entry(`  - name: ""\n    phase: deployment\n    image: i\n`),
      { message: "validator[1]: name is required", path: "validators[1].name", line: 10, column: 11 }
    ],
    [
      "missing name",
      entry(`  - phase: deployment\n    image: i\n`),
      { message: "validator[1]: name is required", path: "validators[1].name", line: 10, column: 5 }
    ],
    [
      "duplicate name",
      entry(`  - name: ok\n    phase: conformance\n    image: i\n`),
      {
        message: `validator[1]: duplicate name "ok" (first defined at validators[0])`,
        path: "validators[1].name",
        line: 10,
        column: 11
      }
    ],
    [
      "invalid phase",
      entry(`  - name: x\n    phase: readiness\n    image: i\n`),
      {
        message: `validator "x": invalid phase "readiness", must be one of: deployment, performance, conformance`,
        path: "validators[1].phase",
        line: 11,
        column: 12
      }
    ],
    [
      "missing phase",
      entry(`  - name: x\n    image: i\n`),
      {
        message: `validator "x": phase is required, must be one of: deployment, performance, conformance`,
        path: "validators[1].phase",
        line: 10,
        column: 5
      }
    ],
    [
      "empty image",
      entry(`  - name: x\n    phase: deployment\n    image: ""\n`),
      { message: `validator "x": image is required`, path: "validators[1].image", line: 12, column: 12 }
    ],
    [
      "missing image",
      entry(`  - name: x\n    phase: deployment\n`),
      { message: `validator "x": image is required`, path: "validators[1].image", line: 10, column: 5 }
    ],
    [
      "name not a DNS label",
      entry(`  - name: Bad_Name\n    phase: deployment\n    image: i\n`),
      {
        message:
          `validator[1]: name "Bad_Name" must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)`,
        path: "validators[1].name",
        line: 10,
        column: 11
      }
    ],
    [
      "invalid timeout",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    timeout: 5 minutes\n`),
      {
        message: `validator "x": invalid timeout "5 minutes": must be a Go duration such as 90s, 2m or 1h30m`,
        path: "validators[1].timeout",
        line: 13,
        column: 14
      }
    ],
    [
      "numeric timeout",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    timeout: 300\n`),
      {
        message: `validator "x": invalid timeout "300": must be a Go duration such as 90s, 2m or 1h30m`,
        path: "validators[1].timeout",
        line: 13,
        column: 14
      }
    ],
    [
      "negative timeout",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    timeout: -5m\n`),
      {
        message: `validator "x": invalid timeout "-5m": must be a Go duration such as 90s, 2m or 1h30m`,
        path: "validators[1].timeout",
        line: 13,
        column: 14
      }
    ],
    [
      "args not strings",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    args: [1]\n`),
      {
        message: `validator "x": args must be a list of strings (quote numbers)`,
        path: "validators[1].args[0]",
        line: 13,
        column: 12
      }
    ],
    [
      "env value not a string",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    env:\n      - name: N\n        value: 5\n`),
      {
        message: `validator "x": env value must be a string (quote numbers and booleans)`,
        path: "validators[1].env[0].value",
        line: 15,
        column: 16
      }
    ],
    [
      "env without name",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    env:\n      - value: "5"\n`),
      { message: `validator "x": env name is required`, path: "validators[1].env[0].name", line: 14, column: 9 }
    ],
    [
      "image map with an empty value",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    images:\n      worker: ""\n`),
      {
        message: `validator "x": images: every entry needs a non-empty value`,
        path: "validators[1].images.worker",
        line: 14,
        column: 15
      }
    ],
    [
      "images not a mapping",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    images: [a]\n`),
      {
        message: `validator "x": images: must be a mapping of names to strings`,
        path: "validators[1].images",
        line: 13,
        column: 13
      }
    ],
    [
      "invalid affinity requirement",
      entry(
        `  - name: x\n    phase: deployment\n    image: i\n    dependencyAffinity:\n      - componentRef: c\n` +
          `        podLabelSelector: {app: p}\n        requirement: sometimes\n`
      ),
      {
        message: `validator "x": dependencyAffinity: invalid requirement "sometimes", must be one of: preferred, required`,
        path: "validators[1].dependencyAffinity[0].requirement",
        line: 16,
        column: 22
      }
    ],
    [
      "affinity without selector",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    dependencyAffinity:\n      - componentRef: c\n`),
      {
        message: `validator "x": dependencyAffinity: podLabelSelector needs at least one label`,
        path: "validators[1].dependencyAffinity[0].podLabelSelector",
        line: 14,
        column: 9
      }
    ],
    [
      "affinity without componentRef",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    dependencyAffinity:\n      - podLabelSelector: {a: b}\n`),
      {
        message: `validator "x": dependencyAffinity: componentRef is required`,
        path: "validators[1].dependencyAffinity[0].componentRef",
        line: 14,
        column: 9
      }
    ],
    [
      "resources with an empty value",
      entry(`  - name: x\n    phase: deployment\n    image: i\n    resources: {cpu: ""}\n`),
      {
        message: `validator "x": resources: every entry needs a non-empty value`,
        path: "validators[1].resources.cpu",
        line: 13,
        column: 22
      }
    ],
    [
      "entry not a mapping",
      entry(`  - just-a-name\n`),
      {
        message: "validator[1]: must be a mapping with name, phase and image",
        path: "validators[1]",
        line: 10,
        column: 5
      }
    ],
    [
      "validators not a list",
      HEADER.replace("validators:\n", "validators: {a: 1}\n"),
      { message: "validators must be a list", path: "validators", line: 6, column: 13 }
    ]
  ])("%s", (_, text, expected) => {
    expect(problems(text)).toEqual([{ source: "test.yaml", ...expected }])
  })

  it("collects every problem of every entry at once", () => {
    const text = `apiVersion: v9\nkind: Nope\nmetadata: {name: x}\nvalidators:\n` +
      `  - name: a\n    phase: deployment\n    image: i\n` +
      `  - name: a\n    phase: later\n` +
      `  - phase: conformance\n    image: i\n`
    expect(problems(text, "cat.yaml").map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      `1: apiVersion: unsupported apiVersion "v9", must be one of: aicr.run/v1alpha1, validator.nvidia.com/v1alpha1, aicr.nvidia.com/v1`,
      `2: kind: invalid kind "Nope", must be "ValidatorCatalog"`,
      `8: validators[1].name: validator[1]: duplicate name "a" (first defined at validators[0])`,
      `9: validators[1].phase: validator "a": invalid phase "later", must be one of: deployment, performance, conformance`,
      `8: validators[1].image: validator "a": image is required`,
      `10: validators[2].name: validator[2]: name is required`
    ])
  })

  it("reports YAML syntax errors with their line (TestParseInvalidYAML)", () => {
    expect(problems(`${HEADER}  - name: a\n    phase: [deployment\n`, "bad.yaml")).toEqual([
      {
        message: "invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
        source: "bad.yaml",
        line: 9,
        column: 1
      }
    ])
  })

  it("reports a duplicate key as a YAML problem on its line", () => {
    const found = problems(`${HEADER}  - name: a\n    name: b\n    phase: deployment\n    image: i\n`)
    expect(found).toEqual([
      { message: "invalid YAML: Map keys must be unique", source: "test.yaml", line: 8, column: 5 }
    ])
  })

  it("rejects several YAML documents in one file", () => {
    expect(problems(`${HEADER}---\n${HEADER}`)).toEqual([
      {
        message: "invalid YAML: a catalog file holds exactly one YAML document (remove the `---` separators)",
        source: "test.yaml",
        line: 7,
        column: 1
      }
    ])
  })

  it.each([
    ["", 1],
    ["- a\n- b\n", 1],
    ["just text\n", 1]
  ])("rejects a document that is not a mapping: %j", (text, line) => {
    expect(problems(text)).toEqual([
      {
        message: "a validator catalog must be a mapping with kind: ValidatorCatalog and a validators list",
        source: "test.yaml",
        path: "",
        line: text === "" ? undefined : line,
        column: text === "" ? undefined : 1
      }
    ])
  })
})

describe("merge", () => {
  const base = ok(VALID)
  const overlay = ok(
    `apiVersion: validator.nvidia.com/v1alpha1\nkind: ValidatorCatalog\nmetadata: {name: mine}\nvalidators:\n` +
      `  - {name: p1, phase: performance, image: mine/p:2, timeout: 10m}\n` +
      `  - {name: extra, phase: conformance, image: mine/e:1}\n` +
      `  - {name: v1, phase: conformance, image: mine/v:9}\n`
  )
  const merged = Catalog.merge(base, overlay)

  it("replaces entries by name in place and appends new ones", () => {
    expect(merged.validators.map((e) => [e.name, e.phase, e.image])).toEqual([
      ["v1", "conformance", "mine/v:9"],
      ["p1", "performance", "mine/p:2"],
      ["v2", "deployment", "example.com/v:1"],
      ["c1", "conformance", "example.com/c:1"],
      ["extra", "conformance", "mine/e:1"]
    ])
  })

  it("keeps the base header", () => {
    expect([merged.apiVersion, merged.metadata]).toEqual(["aicr.run/v1alpha1", { name: "test", version: "1.0.0" }])
  })

  it("replaces the whole entry, not single fields", () => {
    expect(Catalog.find(merged, "v1")).toMatchObject({ description: "", args: [], env: [], timeout: 300_000 })
  })

  it("is the base when the overlay is empty", () => {
    expect(Catalog.merge(base, { validators: [] }).validators).toEqual(base.validators)
  })

  it("moves a replaced entry to its new phase for forPhase", () => {
    expect(names(Catalog.forPhase(merged, "conformance"))).toEqual(["v1", "c1", "extra"])
  })
})

describe("phases", () => {
  it("are deployment, performance, conformance in order (TestPhaseOrder)", () => {
    expect(Catalog.PHASES).toEqual(["deployment", "performance", "conformance"])
  })

  it.each([
    ["deployment", true],
    ["conformance", true],
    ["readiness", false],
    ["Deployment", false],
    [undefined, false]
  ])("isPhase(%j) → %s", (text, expected) => {
    expect(Catalog.isPhase(text)).toBe(expected)
  })
})

describe("parseGoDuration", () => {
  it.each([
    ["0", 0],
    ["90s", 90_000],
    ["2m", 120_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["500ms", 500],
    ["1m30s500ms", 90_500],
    ["1500us", 1.5],
    ["-2m", -120_000],
    [".5s", 500]
  ])("%s → %d ms", (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms)
  })

  it.each(["", "5", "2 m", "2min", "m", "1h 30m", ".s", "2M", "abc"])("%j is not a duration", (text) => {
    expect(parseGoDuration(text)).toBeUndefined()
  })
})

describe("loadCatalogFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "aicr-catalog-"))

  effectIt.effect("loads and parses a file", () =>
    Effect.gen(function*() {
      const path = join(dir, "good.yaml")
      writeFileSync(path, VALID)
      const catalog = yield* Catalog.loadCatalogFile(path)
      expect(names(catalog.validators)).toEqual(["v1", "p1", "v2", "c1"])
    }))

  effectIt.effect("fails with an InputError naming the file and line", () =>
    Effect.gen(function*() {
      const path = join(dir, "bad.yaml")
      writeFileSync(path, `${HEADER}  - {name: a, phase: soon, image: i}\n`)
      const error = yield* Effect.flip(Catalog.loadCatalogFile(path))
      expect(error._tag).toBe("InputError")
      expect(error.message).toBe(
        `${path}:7:22: validators[0].phase: validator "a": invalid phase "soon", must be one of: deployment, performance, conformance`
      )
    }))

  effectIt.effect("fails with an InputError when the file cannot be read", () =>
    Effect.gen(function*() {
      const path = join(dir, "missing.yaml")
      const error = yield* Effect.flip(Catalog.loadCatalogFile(path))
      expect(error.problems).toHaveLength(1)
      expect(error.problems[0]?.source).toBe(path)
      expect(error.problems[0]?.message).toMatch(/^cannot read the validator catalog: ENOENT/)
    }))
})
