import { it as effectIt } from "@effect/vitest"
import { startSim, type Sim } from "@aicr/kube-sim"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { readFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Problem from "../src/Problem.ts"
import { KubeClient } from "../src/KubeClient.ts"
import * as KubeClientLive from "../src/KubeClientLive.ts"
import * as Recipe from "../src/Recipe.ts"

const fixturePath = (name: string) => fileURLToPath(new URL(`./fixtures/recipes/${name}`, import.meta.url))
const readFixture = (name: string) => readFileSync(fixturePath(name), "utf8")

const loaded = (text: string, source = "recipe.yaml"): Recipe.LoadedRecipe => {
  const result = Recipe.parseRecipe(text, source)
  if (result._tag === "Problems") throw new Error(result.problems.map(Problem.format).join("\n"))
  return result.loaded
}

const problemsOf = (text: string, source = "recipe.yaml") => {
  const result = Recipe.parseRecipe(text, source)
  if (result._tag === "Ok") throw new Error("expected problems")
  return result.problems
}

const brief = (problems: ReadonlyArray<Problem.Problem>) =>
  problems.map((p) => ({ line: p.line, column: p.column, path: p.path }))

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer()
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })

const EKS_TRAINING = "v0.11.1--h100-eks-ubuntu-training.yaml"
const GKE_INFERENCE_NEWER = "newer-693a7f8f--h100-gke-cos-inference-dynamo.yaml"

const CONFORMANCE_10 = [
  "platform-health",
  "gpu-operator-health",
  "dra-support",
  "accelerator-metrics",
  "ai-service-metrics",
  "gang-scheduling",
  "pod-autoscaling",
  "cluster-autoscaling",
  "robust-controller",
  "secure-accelerator-access"
]
const CONFORMANCE_11 = [...CONFORMANCE_10.slice(0, 5), "inference-gateway", ...CONFORMANCE_10.slice(5)]
const DEPLOYMENT_4 = ["operator-health", "expected-resources", "gpu-operator-version", "check-nvidia-smi"]

interface Expected {
  readonly file: string
  readonly apiVersion: string
  readonly name: string
  readonly base: string
  readonly baseLine: number
  readonly deployment: ReadonlyArray<string>
  readonly performance: ReadonlyArray<string>
  readonly conformance: ReadonlyArray<string>
  readonly components: ReadonlyArray<string>
  readonly k8s: string
}

const FIXTURES: ReadonlyArray<Expected> = [
  {
    file: EKS_TRAINING,
    apiVersion: "aicr.nvidia.com/v1alpha1",
    name: "h100-eks-ubuntu-training",
    base: "h100-eks-training",
    baseLine: 23,
    deployment: DEPLOYMENT_4,
    performance: ["nccl-all-reduce-bw"],
    conformance: CONFORMANCE_10,
    components: [],
    k8s: ">= 1.32.4"
  },
  {
    file: "v0.11.1--h100-eks-ubuntu-training-kubeflow.yaml",
    apiVersion: "aicr.nvidia.com/v1alpha1",
    name: "h100-eks-ubuntu-training-kubeflow",
    base: "h100-eks-ubuntu-training",
    baseLine: 23,
    deployment: [],
    performance: [],
    conformance: [],
    components: ["kubeflow-trainer"],
    k8s: ">= 1.32.4"
  },
  {
    file: "v0.11.1--h100-eks-ubuntu-inference-dynamo.yaml",
    apiVersion: "aicr.nvidia.com/v1alpha1",
    name: "h100-eks-ubuntu-inference-dynamo",
    base: "h100-eks-ubuntu-inference",
    baseLine: 23,
    deployment: DEPLOYMENT_4,
    performance: [],
    conformance: CONFORMANCE_11,
    components: ["nvidia-dra-driver-gpu", "dynamo-crds", "dynamo-platform"],
    k8s: ">= 1.34"
  },
  {
    file: "v0.11.1--h100-gke-cos-training.yaml",
    apiVersion: "aicr.nvidia.com/v1alpha1",
    name: "h100-gke-cos-training",
    base: "gke-cos-training",
    baseLine: 22,
    deployment: [],
    performance: ["nccl-all-reduce-bw"],
    conformance: CONFORMANCE_10,
    components: ["gpu-operator", "gke-nccl-tcpxo", "skyhook-customizations"],
    k8s: ">= 1.32"
  },
  {
    file: "v0.11.1--h100-gke-cos-training-kubeflow.yaml",
    apiVersion: "aicr.nvidia.com/v1alpha1",
    name: "h100-gke-cos-training-kubeflow",
    base: "h100-gke-cos-training",
    baseLine: 23,
    deployment: [],
    performance: [],
    conformance: [],
    components: ["kubeflow-trainer"],
    k8s: ">= 1.32"
  },
  {
    file: "v0.11.1--h100-gke-cos-inference-dynamo.yaml",
    apiVersion: "aicr.nvidia.com/v1alpha1",
    name: "h100-gke-cos-inference-dynamo",
    base: "h100-gke-cos-inference",
    baseLine: 23,
    deployment: DEPLOYMENT_4,
    performance: [],
    conformance: CONFORMANCE_11,
    components: ["nvidia-dra-driver-gpu", "dynamo-crds", "dynamo-platform"],
    k8s: ">= 1.34"
  },
  {
    file: GKE_INFERENCE_NEWER,
    apiVersion: "aicr.run/v1beta1",
    name: "h100-gke-cos-inference-dynamo",
    base: "h100-gke-cos-inference",
    baseLine: 23,
    deployment: DEPLOYMENT_4,
    performance: ["inference-perf"],
    conformance: CONFORMANCE_11,
    components: ["grove", "dynamo-platform", "k8s-aibom"],
    k8s: ">= 1.34"
  }
]

describe("fixture overlays", () => {
  it.each(FIXTURES)("$file loads with its own checks and constraints", (expected) => {
    const { recipe, warnings, source } = loaded(readFixture(expected.file), expected.file)
    expect(source).toBe(expected.file)
    expect(recipe.kind).toBe("RecipeMetadata")
    expect(recipe.apiVersion).toBe(expected.apiVersion)
    expect(recipe.name).toBe(expected.name)
    expect(Recipe.checksOf(recipe, "deployment")).toEqual(expected.deployment)
    expect(Recipe.checksOf(recipe, "performance")).toEqual(expected.performance)
    expect(Recipe.checksOf(recipe, "conformance")).toEqual(expected.conformance)
    expect(recipe.componentRefs.map((ref) => ref.name)).toEqual(expected.components)
    expect(Recipe.constraint(recipe, "readiness", "K8s.server.version")?.value).toBe(expected.k8s)
    expect(warnings).toEqual([
      {
        source: expected.file,
        path: "spec.base",
        line: expected.baseLine,
        column: 3,
        message: `overlay "${expected.name}" inherits from base "${expected.base}", which is not resolved here; only ` +
          "this overlay's own fields are used — run `aicr recipe` upstream to produce a resolved RecipeResult"
      }
    ])
  })

  it("pins the inference-perf block of the newer GKE overlay", () => {
    const { recipe } = loaded(readFixture(GKE_INFERENCE_NEWER))
    expect(recipe.criteria).toEqual({ service: "gke", accelerator: "h100", os: "cos", intent: "inference", platform: "dynamo" })
    expect(Recipe.constraint(recipe, "performance", "inference-throughput")).toEqual({ name: "inference-throughput", value: ">= 50000" })
    expect(Recipe.constraintValues(recipe, "performance")).toEqual({
      "inference-model": "Qwen/Qwen3-8B",
      "inference-concurrency-per-gpu": "256",
      "inference-routing-mode": "dynamo-router",
      "inference-throughput": ">= 50000",
      "inference-ttft-p99": "<= 2000"
    })
    expect(Recipe.constraintValues(recipe, "deployment")).toEqual({ "Deployment.gpu-operator.version": ">= v24.6.0" })
    expect(recipe.componentRefs[2]).toEqual({ name: "k8s-aibom", type: "Helm", overrides: { install: false } })
  })

  it("pins the NCCL thresholds of the v0.11.1 training overlays", () => {
    const eks = loaded(readFixture(EKS_TRAINING)).recipe
    expect(Recipe.constraint(eks, "performance", "nccl-all-reduce-bw")).toEqual({ name: "nccl-all-reduce-bw", value: ">= 300" })
    expect(Recipe.constraintsOf(eks, "readiness").map((c) => [c.name, c.value])).toEqual([
      ["K8s.server.version", ">= 1.32.4"],
      ["OS.release.ID", "ubuntu"],
      ["OS.release.VERSION_ID", "24.04"],
      ["OS.sysctl./proc/sys/kernel/osrelease", ">= 6.8"]
    ])
    const gke = loaded(readFixture("v0.11.1--h100-gke-cos-training.yaml")).recipe
    expect(Recipe.constraint(gke, "performance", "nccl-all-reduce-bw")?.value).toBe(">= 250")
    expect(Recipe.constraint(gke, "deployment", "Deployment.gpu-operator.version")).toBeUndefined()
  })

  it("gives an overlay without a validation block an empty validation view", () => {
    const { recipe } = loaded(readFixture("v0.11.1--h100-eks-ubuntu-training-kubeflow.yaml"))
    expect(recipe.validation).toEqual({})
  })
})

describe("locate", () => {
  const { locate } = loaded(readFixture(EKS_TRAINING))

  it("maps recipe-view paths of an overlay to spec.… in the file", () => {
    expect(locate(["validation", "performance", "checks", 0])).toEqual({
      line: 57,
      column: 11,
      path: "spec.validation.performance.checks[0]"
    })
    expect(locate(["validation", "performance", "constraints", 0, "value"])).toEqual({
      line: 60,
      column: 11,
      path: "spec.validation.performance.constraints[0].value"
    })
    expect(locate(["validation", "conformance", "checks", 9])).toEqual({
      line: 72,
      column: 11,
      path: "spec.validation.conformance.checks[9]"
    })
    expect(locate(["constraints", 3])).toEqual({ line: 40, column: 7, path: "spec.constraints[3]" })
  })

  it("keeps kind and maps name to metadata.name", () => {
    expect(locate(["kind"])).toEqual({ line: 15, column: 1, path: "kind" })
    expect(locate(["name"])).toEqual({ line: 18, column: 3, path: "metadata.name" })
  })

  it("returns undefined for a path that is not in the file", () => {
    expect(locate(["validation", "performance", "checks", 5])).toBeUndefined()
    expect(locate(["validation", "readiness"])).toBeUndefined()
  })

  it("uses paths as they are for a RecipeResult", () => {
    const result = loaded(readFixture("hand-written--eks-h100-training-kubeflow.result.yaml"))
    expect(result.locate(["validation", "performance", "constraints", 0, "value"])).toEqual({
      line: 32,
      column: 9,
      path: "validation.performance.constraints[0].value"
    })
    const path = Recipe.constraintPath(result.recipe, "performance", "nccl-all-reduce-bw")
    expect(path).toEqual(["validation", "performance", "constraints", 0])
    expect(result.locate(path ?? [])?.line).toBe(31)
  })
})

describe("RecipeResult", () => {
  const YAML_FILE = "hand-written--eks-h100-training-kubeflow.result.yaml"
  const JSON_FILE = "hand-written--eks-h100-training-kubeflow.result.json"

  it("loads identically from YAML and JSON", () => {
    const fromYaml = loaded(readFixture(YAML_FILE), YAML_FILE)
    const fromJson = loaded(readFixture(JSON_FILE), JSON_FILE)
    expect(fromJson.recipe).toEqual(fromYaml.recipe)
    expect(fromYaml.warnings).toEqual([])
    expect(fromJson.warnings).toEqual([])
    expect(fromYaml.recipe.kind).toBe("RecipeResult")
    expect(fromYaml.recipe.name).toBeUndefined()
    expect(Recipe.checksOf(fromYaml.recipe, "conformance")).toEqual(["platform-health", "gpu-operator-health", "dra-support", "gang-scheduling"])
    expect(fromYaml.recipe.validation.performance).toEqual({
      timeout: "30m",
      checks: ["nccl-all-reduce-bw"],
      constraints: [{ name: "nccl-all-reduce-bw", value: ">= 300", unit: "GB/s", severity: "error" }]
    })
    expect(fromJson.locate(["validation", "performance", "checks", 0])).toEqual({
      line: 97,
      column: 9,
      path: "validation.performance.checks[0]"
    })
  })

  it("tolerates unknown fields at every level and keeps them", () => {
    const { recipe, warnings } = loaded(`
kind: RecipeResult
apiVersion: aicr.run/v1beta1
somethingNew: 1
criteria: {service: eks, accelerator: vr200, futureCriterion: x}
componentRefs:
  - {name: gpu-operator, brandNew: {a: 1}}
validation:
  performance:
    checks: [nccl-all-reduce-bw]
    retries: 3
    constraints:
      - {name: nccl-all-reduce-bw, value: ">= 300", extra: yes}
`)
    expect(warnings).toEqual([])
    expect(recipe.criteria).toEqual({ service: "eks", accelerator: "vr200", futureCriterion: "x" })
    expect(recipe.componentRefs).toEqual([{ name: "gpu-operator", brandNew: { a: 1 } }])
    expect(recipe.validation.performance).toEqual({
      checks: ["nccl-all-reduce-bw"],
      retries: 3,
      constraints: [{ name: "nccl-all-reduce-bw", value: ">= 300", extra: "yes" }]
    })
  })

  it("reads numbers in string fields as written and empty fields as absent", () => {
    const { recipe } = loaded(`
kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
constraints:
  - {name: OS.release.VERSION_ID, value: 24.10}
componentRefs:
  - {name: dynamo-crds, version: 0.10}
validation:
  performance:
    checks:
    constraints:
      - {name: inference-concurrency-per-gpu, value: 256}
  conformance:
`)
    expect(recipe.constraints).toEqual([{ name: "OS.release.VERSION_ID", value: "24.10" }])
    expect(recipe.componentRefs).toEqual([{ name: "dynamo-crds", version: "0.10" }])
    expect(recipe.validation.performance).toEqual({ constraints: [{ name: "inference-concurrency-per-gpu", value: "256" }] })
    expect(Recipe.checksOf(recipe, "performance")).toEqual([])
    expect(recipe.validation.conformance).toBeUndefined()
  })

  it("looks up readiness constraints at the top level, then in validation.readiness", () => {
    const { recipe } = loaded(`
kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
constraints: [{name: K8s.server.version, value: ">= 1.33"}]
validation:
  readiness:
    constraints: [{name: OS.release.ID, value: ubuntu}]
`)
    expect(Recipe.constraintValues(recipe, "readiness")).toEqual({ "K8s.server.version": ">= 1.33", "OS.release.ID": "ubuntu" })
    expect(Recipe.constraintPath(recipe, "readiness", "K8s.server.version")).toEqual(["constraints", 0])
    expect(Recipe.constraintPath(recipe, "readiness", "OS.release.ID")).toEqual(["validation", "readiness", "constraints", 0])
    expect(Recipe.constraintPath(recipe, "performance", "OS.release.ID")).toBeUndefined()
  })
})

const THREE_ERRORS = (source: string) => [
  `${source}:7:9: validation.performance.checks[1]: check name must be a string such as "nccl-all-reduce-bw", got a mapping`,
  `${source}:10:9: validation.performance.constraints[0].value: invalid constraint expression ">= ": ` +
  `constraint value cannot be empty after operator ">=" (in ">=")`,
  `${source}:15:9: validation.deployment.constraints[0].severity: severity must be "error" or "warning", got the string "fatal"`
]

describe("problems", () => {
  it("reports three independent errors at once, each with line and path", () => {
    expect(problemsOf(readFixture("invalid/three-errors.yaml")).map(Problem.format)).toEqual(THREE_ERRORS("recipe.yaml"))
  })

  it("prefixes overlay problems with spec.", () => {
    const problems = problemsOf(`kind: RecipeMetadata
apiVersion: aicr.run/v1beta1
metadata: {name: custom}
spec:
  validation:
    performance:
      checks: [inference-perf, 7]
      constraints:
        - {name: inference-throughput, value: ""}
`)
    expect(brief(problems)).toEqual([
      { line: 7, column: 32, path: "spec.validation.performance.checks[1]" },
      { line: 9, column: 40, path: "spec.validation.performance.constraints[0].value" }
    ])
    expect(problems[1]?.message).toBe("invalid constraint expression \"\": constraint expression cannot be empty")
  })

  it("reports duplicate constraint names in one block with the first line", () => {
    const problems = problemsOf(`kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
validation:
  performance:
    constraints:
      - {name: inference-throughput, value: ">= 1"}
      - {name: inference-ttft-p99, value: "<= 2"}
      - {name: inference-throughput, value: ">= 2"}
  deployment:
    constraints:
      - {name: inference-throughput, value: ">= 1"}
`)
    expect(problems).toEqual([
      {
        source: "recipe.yaml",
        path: "validation.performance.constraints[2].name",
        line: 8,
        column: 10,
        message: "duplicate constraint name \"inference-throughput\" (first declared at line 6); keep one of them"
      }
    ])
  })

  it("reports readiness constraint names that are not measurement paths", () => {
    const problems = problemsOf(`kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
constraints:
  - {name: k8s.server.version, value: ">= 1.32"}
  - {name: K8s.server, value: ">= 1.32"}
`)
    expect(brief(problems)).toEqual([
      { line: 4, column: 6, path: "constraints[0].name" },
      { line: 5, column: 6, path: "constraints[1].name" }
    ])
    expect(problems[0]?.message).toContain("invalid measurement type \"k8s\"")
  })

  it("reports a missing constraint value and name at the constraint", () => {
    const problems = problemsOf(`kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
validation:
  performance:
    constraints:
      - name: nccl-all-reduce-bw
      - value: ">= 3"
`)
    expect(problems).toEqual([
      {
        source: "recipe.yaml",
        path: "validation.performance.constraints[0].value",
        line: 6,
        column: 9,
        message: "constraint has no value; add one such as value: \">= 1.32.4\""
      },
      {
        source: "recipe.yaml",
        path: "validation.performance.constraints[1].name",
        line: 7,
        column: 9,
        message: "constraint has no name"
      }
    ])
  })

  it("reports fields of the wrong type", () => {
    const problems = problemsOf(`kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
componentRefs: {name: gpu-operator}
validation:
  conformance: [dra-support]
`)
    expect(problems.map(Problem.format)).toEqual([
      "recipe.yaml:3:1: componentRefs: expected a list, got a mapping",
      "recipe.yaml:5:3: validation.conformance: expected a mapping, got a list"
    ])
  })

  it("reports a YAML syntax error with its line and stops there", () => {
    const problems = problemsOf(`kind: RecipeResult
apiVersion: aicr.nvidia.com/v1alpha1
validation:
  performance:
    checks: [nccl-all-reduce-bw
  conformance:
    checks: [dra-support]
`)
    expect(problems).toEqual([
      {
        source: "recipe.yaml",
        line: 6,
        column: 3,
        message: "Flow sequence in block collection must be sufficiently indented and end with a ]"
      }
    ])
  })

  it("summarises a flood of syntax errors", () => {
    const text = Array.from({ length: 15 }, (_, i) => `key${i}: \`quoted\``).join("\n")
    const problems = problemsOf(text, "README.md")
    expect(problems).toHaveLength(11)
    expect(problems[9]).toEqual({
      source: "README.md",
      line: 10,
      column: 7,
      message: "Plain value cannot start with reserved character `"
    })
    expect(problems[10]).toEqual({
      source: "README.md",
      message: "5 more syntax error(s) not shown; fix the ones above first (is this a YAML or JSON file?)"
    })
  })

  it("reports duplicate keys", () => {
    const problems = problemsOf("kind: RecipeResult\napiVersion: aicr.run/v1beta1\ncriteria: {}\ncriteria: {}\n")
    expect(problems).toEqual([{ source: "recipe.yaml", line: 4, column: 1, message: "duplicate key \"criteria\"" }])
  })

  it("reports a JSON syntax error with its line", () => {
    const problems = problemsOf(`{
  "kind": "RecipeResult",
  "apiVersion": "aicr.run/v1beta1",
  "criteria": {"service": eks}
}`, "recipe.json")
    expect(problems).toEqual([
      { source: "recipe.json", line: 4, column: 27, message: "invalid JSON value \"eks\" (JSON strings must be in double quotes)" }
    ])
  })

  it("reads a text starting with { as JSON unless the source is a .yaml file", () => {
    const flow = "{kind: RecipeResult, apiVersion: aicr.run/v1beta1}"
    expect(Recipe.parseRecipe(flow, "recipe.yaml")._tag).toBe("Ok")
    expect(problemsOf(flow, "https://example.com/recipe")[0]).toEqual({
      source: "https://example.com/recipe",
      line: 1,
      column: 2,
      message: "invalid JSON value \"kind\" (JSON strings must be in double quotes)"
    })
    expect(Recipe.parseRecipe("\uFEFF{\"kind\": \"RecipeResult\", \"apiVersion\": \"aicr.run/v1beta1\"}", "-")._tag).toBe("Ok")
  })

  it("reports more than one YAML document", () => {
    const problems = problemsOf("kind: RecipeResult\napiVersion: aicr.run/v1beta1\n---\nkind: RecipeResult\n")
    expect(problems).toEqual([
      {
        source: "recipe.yaml",
        line: 3,
        column: 1,
        message: "the file holds 2 YAML documents; it must hold exactly one (remove the extra \"---\" sections)"
      }
    ])
    expect(Recipe.parseRecipe("kind: RecipeResult\napiVersion: aicr.run/v1beta1\n---\n", "r.yaml")._tag).toBe("Ok")
  })

  it("reports a document that is not a recipe", () => {
    expect(problemsOf("").map((p) => p.message)).toEqual([
      "the recipe is empty; expected kind: RecipeResult (a resolved recipe, as `aicr recipe` writes it) or " +
      "kind: RecipeMetadata (an overlay)"
    ])
    expect(problemsOf("- a\n- b\n")[0]?.message).toMatch(/^a recipe must be a mapping, got a list; expected kind: /)
    expect(brief(problemsOf("apiVersion: aicr.run/v1beta1\nspec: {}\n"))).toEqual([{ line: 1, column: 1, path: "kind" }])
    const snapshot = problemsOf("kind: Snapshot\napiVersion: aicr.nvidia.com/v1alpha1\n")
    expect(snapshot).toEqual([
      {
        source: "recipe.yaml",
        path: "kind",
        line: 1,
        column: 1,
        message: "kind \"Snapshot\" is not a recipe; expected kind: RecipeResult (a resolved recipe, as `aicr recipe` " +
          "writes it) or kind: RecipeMetadata (an overlay)"
      }
    ])
  })

  it("requires an overlay's spec", () => {
    expect(problemsOf("kind: RecipeMetadata\napiVersion: aicr.run/v1beta1\nmetadata: {name: x}\n")).toEqual([
      { source: "recipe.yaml", path: "spec", line: 1, column: 1, message: "required field is missing (expected a mapping)" }
    ])
  })
})

describe("warnings", () => {
  it("warns about an unknown apiVersion and loads anyway", () => {
    const { recipe, warnings } = loaded("kind: RecipeResult\napiVersion: aicr.run/v2\n")
    expect(recipe.apiVersion).toBe("aicr.run/v2")
    expect(warnings).toEqual([
      {
        source: "recipe.yaml",
        path: "apiVersion",
        line: 2,
        column: 1,
        message: "unknown apiVersion \"aicr.run/v2\" (known: aicr.nvidia.com/v1alpha1, aicr.run/v1beta1); loading it " +
          "anyway, some fields may be misread"
      }
    ])
  })

  it("warns about a missing apiVersion", () => {
    const { recipe, warnings } = loaded("kind: RecipeResult\n")
    expect(recipe.apiVersion).toBe("")
    expect(warnings.map((w) => w.message)).toEqual([
      "the document has no apiVersion (known: aicr.nvidia.com/v1alpha1, aicr.run/v1beta1); loading it anyway"
    ])
  })

  it("warns about an unknown validation block", () => {
    const { recipe, warnings } = loaded(`kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: custom}
spec:
  validation:
    perfomance:
      checks: [nccl-all-reduce-bw]
`)
    expect(recipe.validation).toEqual({})
    expect(warnings).toEqual([
      {
        source: "recipe.yaml",
        path: "spec.validation.perfomance",
        line: 6,
        column: 5,
        message: "unknown validation block \"perfomance\" is ignored; blocks are readiness, deployment, performance, conformance"
      }
    ])
  })
})

describe("parseLocation", () => {
  it.each([
    ["recipe.yaml", { _tag: "File", path: "recipe.yaml" }],
    ["./dir/recipe.json", { _tag: "File", path: "./dir/recipe.json" }],
    ["/abs/recipe.yaml", { _tag: "File", path: "/abs/recipe.yaml" }],
    ["file:///tmp/r.yaml", { _tag: "File", path: "/tmp/r.yaml" }],
    ["https://example.com/r.yaml", { _tag: "Url", url: "https://example.com/r.yaml" }],
    ["HTTP://example.com/r.yaml?x=1", { _tag: "Url", url: "HTTP://example.com/r.yaml?x=1" }],
    ["cm://aicr-validation/recipe", { _tag: "ConfigMap", namespace: "aicr-validation", name: "recipe" }],
    ["cm://ns/my.recipe/recipe.yaml", { _tag: "ConfigMap", namespace: "ns", name: "my.recipe", key: "recipe.yaml" }]
  ])("%s", (text, expected) => {
    expect(Recipe.parseLocation(text)).toEqual(expected)
  })

  it.each([
    ["cm://Bad_NS/recipe", "namespace \"Bad_NS\" is not a DNS-1123 label"],
    ["cm://ns/", "name \"\" is not a DNS-1123 subdomain"],
    ["cm://ns", "name \"\" is not a DNS-1123 subdomain"],
    [`cm://${"a".repeat(64)}/x`, "is not a DNS-1123 label"],
    ["cm://ns/name/bad key", "key \"bad key\" is not a valid ConfigMap key"],
    ["cm://ns/name/key/more", "too many path segments"],
    ["s3://bucket/recipe.yaml", "unsupported scheme \"s3://\""],
    ["http://", "invalid URL"]
  ])("%s is a problem", (text, fragment) => {
    const result = Recipe.parseLocation(text)
    expect("_tag" in result).toBe(false)
    expect((result as Problem.Problem).source).toBe(text)
    expect((result as Problem.Problem).message).toContain(fragment)
  })

  it("rejects an empty location", () => {
    expect(Recipe.parseLocation("  ")).toEqual({
      message: "the recipe location is empty; give a file path, an http(s):// URL or cm://<namespace>/<name>"
    })
  })
})

describe("load", () => {
  let server: Server
  let base = ""
  const overlay = readFixture(GKE_INFERENCE_NEWER)

  beforeAll(() =>
    new Promise<void>((resolve) => {
      server = createServer((request, response) => {
        if (request.url === "/recipe.yaml") {
          response.writeHead(200, { "content-type": "application/yaml" }).end(overlay)
        } else if (request.url === "/hang") {
          request.on("close", () => response.destroy())
        } else {
          response.writeHead(404, { "content-type": "text/plain" }).end("no such recipe")
        }
      })
      server.listen(0, "127.0.0.1", () => {
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        resolve()
      })
    })
  )

  afterAll(() =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  )

  effectIt.effect("loads a file", () =>
    Effect.gen(function*() {
      const path = fixturePath(EKS_TRAINING)
      const result = yield* Recipe.load(path)
      expect(result.source).toBe(path)
      expect(Recipe.constraint(result.recipe, "performance", "nccl-all-reduce-bw")?.value).toBe(">= 300")
      expect(result.warnings.map((w) => [w.source, w.line])).toEqual([[path, 23]])
    }))

  effectIt.effect("fails for a missing file", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Recipe.load("/nonexistent/recipe.yaml"))
      expect(error._tag).toBe("InputError")
      expect(error.problems).toEqual([{ message: "recipe file not found: /nonexistent/recipe.yaml" }])
    }))

  effectIt.effect("fails with every problem of an invalid file", () =>
    Effect.gen(function*() {
      const path = fixturePath("invalid/three-errors.yaml")
      const error = yield* Effect.flip(Recipe.load(path))
      expect(error.problems.map(Problem.format)).toEqual(THREE_ERRORS(path))
      expect(error.message).toBe(THREE_ERRORS(path).join("\n"))
    }))

  effectIt.effect("loads an http URL", () =>
    Effect.gen(function*() {
      const url = `${base}/recipe.yaml`
      const result = yield* Recipe.load(url)
      expect(result.source).toBe(url)
      expect(result.recipe.apiVersion).toBe("aicr.run/v1beta1")
      expect(Recipe.checksOf(result.recipe, "performance")).toEqual(["inference-perf"])
      expect(result.warnings[0]?.source).toBe(url)
    }))

  effectIt.effect("fails for a 404 URL with the status", () =>
    Effect.gen(function*() {
      const url = `${base}/missing.yaml`
      const error = yield* Effect.flip(Recipe.load(url))
      expect(error.problems).toEqual([{ source: url, message: "fetching the recipe failed: HTTP 404 Not Found" }])
    }))

  effectIt.live("times out on a URL that does not answer", () =>
    Effect.gen(function*() {
      const url = `${base}/hang`
      const error = yield* Effect.flip(Recipe.load(url, { timeoutMs: 200 }))
      expect(error.problems).toEqual([
        { source: url, message: "fetching the recipe timed out after 0.2 s; check the URL and the network" }
      ])
    }))

  effectIt.effect("fails for an unreachable URL", () =>
    Effect.gen(function*() {
      const url = `http://127.0.0.1:${yield* Effect.promise(closedPort)}/recipe.yaml`
      const error = yield* Effect.flip(Recipe.load(url, { timeoutMs: 5_000 }))
      expect(error.problems[0]?.source).toBe(url)
      expect(error.problems[0]?.message).toMatch(/^cannot fetch the recipe: .*ECONNREFUSED/)
    }))

  effectIt.effect("refuses cm:// without a cluster connection", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Recipe.load("cm://aicr-validation/recipe"))
      expect(error.problems).toEqual([
        { source: "cm://aicr-validation/recipe", message: "cm:// recipes are read from the cluster, and no cluster connection is available here" }
      ])
    }))

  effectIt.effect("fails for an invalid location", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Recipe.load("cm://NS/x"))
      expect(error.problems[0]?.message).toContain("namespace \"NS\" is not a DNS-1123 label")
    }))
})

describe("load from a ConfigMap (cm://) on kube-sim", () => {
  let sim: Sim
  beforeAll(async () => {
    sim = await startSim()
    const text = readFileSync(fixturePath("v0.11.1--h100-eks-ubuntu-training.yaml"), "utf8")
    sim.seed([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "recipes" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "only", namespace: "recipes" }, data: { "eks.yaml": text } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "upstream", namespace: "recipes" }, data: { "recipe.yaml": text, "snapshot.yaml": "{}" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "two", namespace: "recipes" }, data: { "a.yaml": text, "b.yaml": "{}" } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "broken", namespace: "recipes" }, data: { "recipe.yaml": "kind: RecipeResult\nvalidation: [" } }
    ])
  })
  afterAll(() => sim.stop())

  const withReader = <A, E>(use: (options: Recipe.LoadOptions) => Effect.Effect<A, E>) =>
    Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath }))
      return yield* use({ readConfigMap: Recipe.configMapReader(Context.get(context, KubeClient)) })
    }))

  effectIt.effect("reads the only key, recipe.yaml among several, or the key named", () =>
    withReader((options) =>
      Effect.gen(function*() {
        for (const location of ["cm://recipes/only", "cm://recipes/upstream", "cm://recipes/two/a.yaml"]) {
          const loaded = yield* Recipe.load(location, options)
          expect([loaded.source, Recipe.checksOf(loaded.recipe, "performance")]).toEqual([location, ["nccl-all-reduce-bw"]])
        }
      })
    ))

  effectIt.effect("names a missing ConfigMap, a missing key and a ConfigMap with several keys and no recipe.yaml", () =>
    withReader((options) =>
      Effect.gen(function*() {
        const problems = yield* Effect.forEach(
          ["cm://recipes/absent", "cm://recipes/only/recipe.yaml", "cm://recipes/two", "cm://nowhere/x"],
          (location) => Effect.map(Effect.flip(Recipe.load(location, options)), (error) => error.problems)
        )
        expect(problems).toEqual([
          [{ source: "cm://recipes/absent", message: "ConfigMap recipes/absent not found on the cluster" }],
          [{ source: "cm://recipes/only/recipe.yaml", message: "ConfigMap recipes/only has no key \"recipe.yaml\" (its keys are eks.yaml)" }],
          [{ source: "cm://recipes/two", message: "ConfigMap recipes/two has no key \"recipe.yaml\" (its keys are a.yaml, b.yaml); name the key: cm://recipes/two/<key>" }],
          [{ source: "cm://nowhere/x", message: "ConfigMap nowhere/x not found on the cluster" }]
        ])
      })
    ))

  effectIt.effect("reports a malformed recipe in a ConfigMap with its location and line", () =>
    withReader((options) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Recipe.load("cm://recipes/broken", options))
        expect(error.problems[0]?.source).toBe("cm://recipes/broken")
        expect(error.problems[0]?.line).toBe(2)
      })
    ))

  effectIt.effect("says why a ConfigMap could not be read (Forbidden)", () =>
    Effect.gen(function*() {
      const reader: Recipe.ConfigMapReader = () => Effect.fail({ reason: "Forbidden", message: "get ConfigMap recipes/only: forbidden: User \"viewer\" cannot get resource \"configmaps\"" })
      const error = yield* Effect.flip(Recipe.load("cm://recipes/only", { readConfigMap: reader }))
      expect(error.problems).toEqual([{
        source: "cm://recipes/only",
        message: "cannot read ConfigMap recipes/only: get ConfigMap recipes/only: forbidden: User \"viewer\" cannot get resource \"configmaps\""
      }])
    }))
})
