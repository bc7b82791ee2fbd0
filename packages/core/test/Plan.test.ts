import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import * as z from "zod"
import * as Catalog from "../src/Catalog.ts"
import * as ConstraintSchema from "../src/ConstraintSchema.ts"
import * as Plan from "../src/Plan.ts"
import * as Validator from "../src/Validator.ts"
import { DEV_IMAGES, loadRecipe, noConstraints, testPlugin } from "./support/plugins.ts"

const catalog = Catalog.embedded()

const inferencePerf = Validator.defineValidator({
  name: "inference-perf",
  phase: "performance",
  description: "inference throughput",
  constraints: z.object({
    "inference-throughput": ConstraintSchema.threshold("inference-throughput", "higher-is-better").optional(),
    "inference-concurrency-per-gpu": ConstraintSchema.positiveInteger("inference-concurrency-per-gpu").optional()
  }),
  images: ["frontend", "aiperf"],
  exclusive: ["gpu"],
  permissions: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }],
  timeoutMs: 1000,
  run: () => Effect.succeed(Validator.passed("ok"))
})

const make = (
  recipeText: string,
  options: {
    plugins?: ReadonlyArray<Validator.AnyValidator>
    phases?: ReadonlyArray<Plan.Phase>
    catalog?: Catalog.Catalog
    env?: Record<string, string>
  } = {}
) =>
  Plan.make({
    recipe: loadRecipe(recipeText),
    catalog: options.catalog ?? catalog,
    plugins: options.plugins ?? [],
    phases: options.phases ?? Plan.PHASES,
    image: { ...DEV_IMAGES, env: options.env ?? {} }
  })

const planned = (result: Plan.PlanResult): Plan.Plan => {
  if (result._tag === "Problems") throw new Error(JSON.stringify(result.problems, null, 2))
  return result.plan
}

const problemsOf = (result: Plan.PlanResult) => {
  if (result._tag === "Ok") throw new Error("expected problems")
  return result.problems
}

const checkOf = (plan: Plan.Plan, name: string): Plan.PlannedCheck => {
  const found = plan.phases.flatMap((phase) => phase.checks).find((check) => check.name === name)
  if (found === undefined) throw new Error(`no planned check ${name}`)
  return found
}

const HEAD = `kind: RecipeResult
apiVersion: aicr.run/v1beta1
`

describe("parsePhases", () => {
  it("gives every phase in run order for no values or all", () => {
    expect(Plan.parsePhases([])).toEqual({ phases: ["deployment", "performance", "conformance"], problems: [] })
    expect(Plan.parsePhases(["all"])).toEqual({ phases: ["deployment", "performance", "conformance"], problems: [] })
    expect(Plan.parsePhases(["performance", "all"]).phases).toEqual(["deployment", "performance", "conformance"])
  })

  it("keeps run order whatever order the flags come in", () => {
    expect(Plan.parsePhases(["conformance", "deployment"]).phases).toEqual(["deployment", "conformance"])
    expect(Plan.parsePhases(["conformance", "performance", "deployment"]).phases).toEqual([
      "deployment",
      "performance",
      "conformance"
    ])
  })

  it("deduplicates", () => {
    expect(Plan.parsePhases(["performance", "performance", "performance,performance"])).toEqual({
      phases: ["performance"],
      problems: []
    })
  })

  it("splits comma lists and trims blanks", () => {
    expect(Plan.parsePhases(["conformance, performance"]).phases).toEqual(["performance", "conformance"])
    expect(Plan.parsePhases(["deployment,,", " conformance "]).phases).toEqual(["deployment", "conformance"])
  })

  it("reports each invalid phase with the allowed values", () => {
    const parsed = Plan.parsePhases(["x,deployment", "Performance"])
    expect(parsed.phases).toEqual(["deployment"])
    expect(parsed.problems).toEqual([
      { source: "--phase", message: `invalid phase "x": must be one of: deployment, performance, conformance, all` },
      { source: "--phase", message: `invalid phase "Performance": must be one of: deployment, performance, conformance, all` }
    ])
  })
})

describe("make: check selection", () => {
  const TYPO = `${HEAD}validation:
  performance:
    checks:
      - inference-pref
`

  it("reports an unknown check at its YAML path and line with a suggestion", () => {
    expect(problemsOf(make(TYPO, { plugins: [inferencePerf] }))).toEqual([{
      source: "recipe.yaml",
      path: "validation.performance.checks[0]",
      line: 6,
      column: 9,
      message: `check "inference-pref" matches no validator in the catalog (did you mean "inference-perf"?)`
    }])
  })

  it("gives no suggestion when nothing is close", () => {
    const text = `${HEAD}validation:
  conformance:
    checks: [completely-unrelated-name]
`
    expect(problemsOf(make(text)).map((problem) => problem.message)).toEqual([
      `check "completely-unrelated-name" matches no validator in the catalog`
    ])
  })

  it("reports a check declared twice, pointing at the first", () => {
    const text = `${HEAD}validation:
  deployment:
    checks:
      - operator-health
      - expected-resources
      - operator-health
`
    expect(problemsOf(make(text))).toEqual([{
      source: "recipe.yaml",
      path: "validation.deployment.checks[2]",
      line: 8,
      column: 9,
      message: `check "operator-health" is declared more than once (first at checks[0])`
    }])
  })

  it("reports a check declared under the wrong phase", () => {
    const text = `${HEAD}validation:
  performance:
    checks:
      - operator-health
`
    expect(problemsOf(make(text))).toEqual([{
      source: "recipe.yaml",
      path: "validation.performance.checks[0]",
      line: 6,
      column: 9,
      message: `check "operator-health" belongs to phase deployment, not performance (found under phase: deployment)`
    }])
  })

  it("collects every problem of every requested phase together", () => {
    const text = `${HEAD}validation:
  deployment:
    checks: [operator-healht]
  performance:
    checks: [inference-perf, inference-perf]
`
    expect(problemsOf(make(text, { plugins: [inferencePerf] })).map((problem) => problem.path)).toEqual([
      "validation.deployment.checks[0]",
      "validation.performance.checks[1]"
    ])
  })

  it("only warns about the same errors in a phase that was not requested", () => {
    const text = `${HEAD}validation:
  deployment:
    checks: [operator-healht, operator-health, operator-health, inference-perf]
  performance:
    checks: [inference-perf]
`
    const plan = planned(make(text, { plugins: [inferencePerf], phases: ["performance"] }))
    expect(plan.phases.map((phase) => phase.phase)).toEqual(["performance"])
    expect(plan.warnings).toEqual([
      {
        source: "recipe.yaml",
        path: "validation.deployment.checks[0]",
        line: 5,
        column: 14,
        message: `check "operator-healht" matches no validator in the catalog (did you mean "operator-health"?) ` +
          `(phase deployment not requested; ignored)`
      },
      {
        source: "recipe.yaml",
        path: "validation.deployment.checks[2]",
        line: 5,
        column: 48,
        message: `check "operator-health" is declared more than once (first at checks[1]) (phase deployment not requested; ignored)`
      },
      {
        source: "recipe.yaml",
        path: "validation.deployment.checks[3]",
        line: 5,
        column: 65,
        message: `check "inference-perf" belongs to phase performance, not deployment (found under phase: performance) ` +
          `(phase deployment not requested; ignored)`
      }
    ])
  })

  it("warns when a requested phase has no block in the recipe, and plans it empty", () => {
    const text = `${HEAD}validation:
  deployment:
    checks: [operator-health]
`
    const plan = planned(make(text, { phases: ["deployment", "conformance"] }))
    expect(plan.phases.map((phase) => [phase.phase, phase.checks.map((check) => check.name)])).toEqual([
      ["deployment", ["operator-health"]],
      ["conformance", []]
    ])
    expect(plan.warnings).toEqual([{
      source: "recipe.yaml",
      path: "validation.conformance",
      message: "the recipe declares no conformance checks: phase conformance runs nothing"
    }])
  })

  it("keeps the recipe's own warnings first", () => {
    const text = `kind: RecipeResult
validation:
  deployment:
    checks: [operator-health]
`
    const plan = planned(make(text, { phases: ["deployment"] }))
    expect(plan.warnings.map((warning) => warning.message)).toEqual([
      "the document has no apiVersion (known: aicr.nvidia.com/v1alpha1, aicr.run/v1beta1); loading it anyway"
    ])
  })

  it("keeps the order the recipe declares checks in", () => {
    const text = `${HEAD}validation:
  conformance:
    checks: [platform-health, dra-support, gang-scheduling]
`
    const plan = planned(make(text, { phases: ["conformance"] }))
    expect(plan.phases[0]!.checks.map((check) => check.name)).toEqual(["platform-health", "dra-support", "gang-scheduling"])
  })
})

describe("make: decisions", () => {
  it("skips a known check that has no plugin", () => {
    const text = `${HEAD}validation:
  deployment:
    checks: [operator-health]
`
    const check = checkOf(planned(make(text)), "operator-health")
    expect(check.decision).toEqual({ _tag: "Skip", reason: "no plugin for this check" })
    expect(check.plugin).toBeUndefined()
    expect(check.timeoutMs).toBe(120_000)
    expect(check.description).toBe("GPU operator pods are running and healthy")
  })

  it("runs a check whose plugin is installed, with the catalog's timeout, the plugin's permissions and claims", () => {
    const text = `${HEAD}validation:
  performance:
    checks: [inference-perf]
`
    const check = checkOf(planned(make(text, { plugins: [inferencePerf] })), "inference-perf")
    expect(check.decision).toEqual({ _tag: "Run" })
    expect(check.plugin).toBe(inferencePerf)
    expect(check.timeoutMs).toBe(65 * 60_000)
    expect(check.exclusive).toEqual(["gpu"])
    expect(check.permissions).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }])
    expect(check.config).toEqual({})
    expect(check.constraints).toEqual([])
  })

  it("skips when a required component is not in the recipe", () => {
    const plugin = testPlugin("dra-support", "conformance", undefined, { requires: [{ kind: "component", name: "nvidia-dra-driver-gpu" }] })
    const without = `${HEAD}componentRefs:
  - name: gpu-operator
validation:
  conformance:
    checks: [dra-support]
`
    expect(checkOf(planned(make(without, { plugins: [plugin] })), "dra-support").decision).toEqual({
      _tag: "Skip",
      reason: "nvidia-dra-driver-gpu not in recipe components"
    })
    const withIt = without.replace("- name: gpu-operator", "- name: gpu-operator\n  - name: nvidia-dra-driver-gpu")
    expect(checkOf(planned(make(withIt, { plugins: [plugin] })), "dra-support").decision).toEqual({ _tag: "Run" })
  })

  it("skips when none of the required constraints is declared in the phase", () => {
    const plugin = Validator.defineValidator({
      name: "nccl-all-reduce-bw",
      phase: "performance",
      description: "nccl",
      constraints: z.object({ a: z.string().optional(), b: z.string().optional() }),
      requires: [{ kind: "constraint", anyOf: ["a", "b"] }],
      timeoutMs: 1000,
      run: () => Effect.succeed(Validator.passed("ok"))
    })
    const text = (constraint: string) => `${HEAD}validation:
  deployment:
    constraints:
      - name: a
        value: "1"
  performance:
    constraints:
      - name: ${constraint}
        value: "2"
    checks: [nccl-all-reduce-bw]
`
    expect(checkOf(planned(make(text("c"), { plugins: [plugin] })), "nccl-all-reduce-bw").decision).toEqual({
      _tag: "Skip",
      reason: "no a or b constraint in recipe"
    })
    const check = checkOf(planned(make(text("b"), { plugins: [plugin] })), "nccl-all-reduce-bw")
    expect(check.decision).toEqual({ _tag: "Run" })
    expect(check.config).toEqual({ b: "2" })
  })

  it("plans a third-party plugin the catalog does not list", () => {
    const plugin = testPlugin("my-fabric-check", "conformance", undefined, { timeoutMs: 90_000 })
    const text = `${HEAD}validation:
  conformance:
    checks: [my-fabric-check]
`
    const check = checkOf(planned(make(text, { plugins: [plugin] })), "my-fabric-check")
    expect(check).toMatchObject({
      name: "my-fabric-check",
      phase: "conformance",
      description: "test check my-fabric-check",
      decision: { _tag: "Run" },
      timeoutMs: 90_000,
      images: { validator: "ghcr.io/aicr-project/aicr-validator:latest" },
      pullPolicies: { validator: "Always" }
    })
  })

  it("reports a plugin whose phase differs from its catalog entry", () => {
    const plugin = testPlugin("inference-perf", "deployment")
    const text = `${HEAD}validation:
  performance:
    checks: [inference-perf]
`
    expect(problemsOf(make(text, { plugins: [plugin] }))).toEqual([{
      source: "plugin inference-perf",
      message: `plugin "inference-perf" declares phase deployment but the catalog lists it under performance`
    }])
  })
})

describe("make: constraints", () => {
  const RECIPE = (throughput: string) => `${HEAD}validation:
  performance:
    constraints:
      - name: inference-model
        value: Qwen/Qwen3-8B
      - name: inference-throughput
        value: "${throughput}"
      - name: inference-concurrency-per-gpu
        value: "256"
    checks:
      - inference-perf
`

  it("passes the decoded configuration and the constraints the plugin reads, with where they are", () => {
    const check = checkOf(planned(make(RECIPE(">= 5000"), { plugins: [inferencePerf] })), "inference-perf")
    expect(check.config).toEqual({
      "inference-throughput": { operator: ">=", value: 5000 },
      "inference-concurrency-per-gpu": 256
    })
    expect(check.constraints).toEqual([
      { name: "inference-throughput", value: ">= 5000", path: "validation.performance.constraints[1].value", line: 9, column: 9 },
      { name: "inference-concurrency-per-gpu", value: "256", path: "validation.performance.constraints[2].value", line: 11, column: 9 }
    ])
  })

  it("reports a constraint the plugin's schema rejects at the constraint's YAML path and line", () => {
    expect(problemsOf(make(RECIPE("<= 5000"), { plugins: [inferencePerf] }))).toEqual([{
      source: "recipe.yaml",
      path: "validation.performance.constraints[1].value",
      line: 9,
      column: 9,
      message: `inference-perf: constraint "inference-throughput" is "<= 5000" but it must be a minimum (higher is better): ` +
        `use ">= 5000" (or ">")`
    }])
  })

  it("reports every rejected constraint of a plugin", () => {
    const text = RECIPE(">= lots").replace(`value: "256"`, `value: "0"`)
    expect(problemsOf(make(text, { plugins: [inferencePerf] })).map((problem) => [problem.path, problem.line])).toEqual([
      ["validation.performance.constraints[1].value", 9],
      ["validation.performance.constraints[2].value", 11]
    ])
  })

  it("names a required constraint that is missing, at the phase's constraints (or the phase)", () => {
    const strict = Validator.defineValidator({
      name: "inference-perf",
      phase: "performance",
      description: "needs a threshold",
      constraints: z.object({ "inference-throughput": ConstraintSchema.threshold("inference-throughput", "higher-is-better") }),
      timeoutMs: 1000,
      run: () => Effect.succeed(Validator.passed("ok"))
    })
    const message = `inference-perf: constraint "inference-throughput": Invalid input: expected string, received undefined`
    const noConstraintsText = `${HEAD}validation:
  performance:
    checks: [inference-perf]
`
    expect(problemsOf(make(noConstraintsText, { plugins: [strict] }))).toEqual([
      { source: "recipe.yaml", path: "validation.performance", line: 4, column: 3, message }
    ])
    const otherConstraintText = `${HEAD}validation:
  performance:
    constraints:
      - name: inference-ttft-p99
        value: "<= 200"
    checks: [inference-perf]
`
    expect(problemsOf(make(otherConstraintText, { plugins: [strict] }))).toEqual([
      { source: "recipe.yaml", path: "validation.performance.constraints", line: 5, column: 5, message }
    ])
  })

  it("does not decode constraints of a phase that was not requested", () => {
    const plan = planned(make(RECIPE("<= 5000"), { plugins: [inferencePerf], phases: ["deployment"] }))
    expect(plan.phases.map((phase) => phase.phase)).toEqual(["deployment"])
  })
})

describe("make: images", () => {
  const TEXT = `${HEAD}validation:
  performance:
    checks: [inference-perf]
`

  it("resolves the validator image and the plugin's named images", () => {
    const check = checkOf(planned(make(TEXT, { plugins: [inferencePerf] })), "inference-perf")
    expect(check.images).toEqual({
      validator: "ghcr.io/aicr-project/aicr-validator:latest",
      frontend: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1",
      aiperf: "ghcr.io/aicr-project/aiperf-bench:latest"
    })
    expect(check.pullPolicies).toEqual({ validator: "Always", frontend: "IfNotPresent", aiperf: "Always" })
  })

  it("moves every image to AICR_VALIDATOR_IMAGE_REGISTRY", () => {
    const check = checkOf(
      planned(make(TEXT, { plugins: [inferencePerf], env: { AICR_VALIDATOR_IMAGE_REGISTRY: "localhost:5001" } })),
      "inference-perf"
    )
    expect(check.images).toEqual({
      validator: "localhost:5001/aicr-validator:latest",
      frontend: "localhost:5001/nvidia/ai-dynamo/vllm-runtime:1.2.1",
      aiperf: "localhost:5001/aiperf-bench:latest"
    })
    expect(check.pullPolicies).toEqual({ validator: "IfNotPresent", frontend: "IfNotPresent", aiperf: "IfNotPresent" })
  })

  it("gives a check without a plugin only the validator image", () => {
    const check = checkOf(planned(make(TEXT)), "inference-perf")
    expect(check.images).toEqual({ validator: "ghcr.io/aicr-project/aicr-validator:latest" })
  })

  it("reports a plugin image the catalog entry does not name", () => {
    const plugin = Validator.defineValidator({
      name: "inference-perf",
      phase: "performance",
      description: "wants a tokenizer",
      constraints: noConstraints,
      images: ["frontend", "tokenizer"],
      timeoutMs: 1000,
      run: ({ images }) => Effect.succeed(Validator.passed(images.tokenizer))
    })
    expect(problemsOf(make(TEXT, { plugins: [plugin] }))).toEqual([{
      source: "catalog entry inference-perf",
      message: `plugin "inference-perf" uses image "tokenizer" but the catalog entry has no image of that name`
    }])
  })
})

describe("parsePhases: empty values", () => {
  it.each([[""], [","], [" , "]])("rejects --phase %j instead of running nothing", (value) => {
    const parsed = Plan.parsePhases([value])
    expect(parsed.problems).toEqual([
      { source: "--phase", message: `empty phase ${JSON.stringify(value)}: must be one of: deployment, performance, conformance, all` }
    ])
  })
})
