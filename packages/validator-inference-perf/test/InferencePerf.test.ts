import * as Catalog from "@aicr/core/Catalog"
import { KubeClient } from "@aicr/core/KubeClient"
import { Progress } from "@aicr/core/Progress"
import type { Recipe } from "@aicr/core/Recipe"
import { RunContext } from "@aicr/core/RunContext"
import * as Validator from "@aicr/core/Validator"
import { it as effectIt } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { describe, expect, it } from "vitest"
import inferencePerfDefault, { constraints, inferencePerf, InferencePerfError } from "../src/index.ts"

/** The performance constraints of upstream's h100-gke-cos-inference-dynamo overlay @ 693a7f8f. */
const UPSTREAM = {
  "inference-model": "Qwen/Qwen3-8B",
  "inference-concurrency-per-gpu": "256",
  "inference-routing-mode": "dynamo-router",
  "inference-throughput": ">= 50000",
  "inference-ttft-p99": "<= 2000"
}

const allows = (apiGroup: string, resource: string, verb: string) =>
  inferencePerf.permissions.some((rule) => rule.apiGroups.includes(apiGroup) && rule.resources.includes(resource) && rule.verbs.includes(verb))

const issues = (input: Record<string, string>) => {
  const parsed = constraints.safeParse(input)
  if (parsed.success) throw new Error(`expected ${JSON.stringify(input)} to be refused`)
  return parsed.error.issues.map((issue) => ({ path: issue.path, message: issue.message }))
}

describe("inference-perf metadata", () => {
  it("is a contract-1 plugin of the performance phase, exported by name and by default", () => {
    expect(Validator.isValidator(inferencePerf)).toBe(true)
    expect(inferencePerf[Validator.TypeId]).toEqual({ contractVersion: 1 })
    expect(inferencePerfDefault).toBe(inferencePerf)
    expect(inferencePerf.name).toBe("inference-perf")
    expect(inferencePerf.phase).toBe("performance")
    expect(inferencePerf.description).toBe("Inference throughput and TTFT p99 of a Dynamo vLLM deployment, measured with AIPerf")
  })

  it("takes the GPU exclusively for 65 minutes at most", () => {
    expect(inferencePerf.exclusive).toEqual(["gpu"])
    expect(inferencePerf.timeoutMs).toBe(65 * 60_000)
  })

  it("uses the frontend, worker and aiperf images, all named by its catalog entry, whose timeout matches", () => {
    expect(inferencePerf.images).toEqual(["frontend", "worker", "aiperf"])
    const entry = Catalog.embedded().validators.find((candidate) => candidate.name === "inference-perf")!
    expect(entry.phase).toBe("performance")
    expect(entry.timeout).toBe(inferencePerf.timeoutMs)
    expect(Object.keys(entry.images).sort()).toEqual([...inferencePerf.images].sort())
  })

  it("requires a throughput or TTFT gate and the dynamo-platform component, and fails when the DGD API is not served", () => {
    expect(inferencePerf.requires).toEqual([
      { kind: "constraint", anyOf: ["inference-throughput", "inference-ttft-p99"] },
      { kind: "component", name: "dynamo-platform" },
      {
        kind: "api",
        apiVersion: "nvidia.com/v1alpha1",
        resourceKind: "DynamoGraphDeployment",
        whenMissing: "failed",
        hint: "the recipe declares dynamo-platform, but its DynamoGraphDeployment API is not there (is the Dynamo operator installed?)"
      }
    ])
  })

  it.each([
    ["nvidia.com", "dynamographdeployments", ["create", "get", "watch", "delete"]],
    ["batch", "jobs", ["create", "get", "watch", "delete"]],
    ["", "pods", ["get", "list"]],
    ["", "pods/log", ["get"]],
    ["", "services/proxy", ["create"]],
    ["", "secrets", ["get", "create", "delete"]],
    ["", "namespaces", ["create", "get", "watch", "delete"]],
    ["", "nodes", ["list"]],
    ["resource.k8s.io", "resourceclaimtemplates", ["create", "get", "delete"]],
    ["resource.k8s.io", "resourceslices", ["list"]],
    ["resource.k8s.io", "resourceclaims", ["list"]]
  ])("may use %s %s: %j", (group, resource, verbs) => {
    for (const verb of verbs) expect(allows(group, resource, verb)).toBe(true)
  })

  it("asks for no write access to cluster-wide objects it does not create", () => {
    expect(allows("", "nodes", "update")).toBe(false)
    expect(allows("apiextensions.k8s.io", "customresourcedefinitions", "create")).toBe(false)
    expect(allows("", "pods", "delete")).toBe(false)
  })

  it.each([
    ["", "services", "get"],
    ["", "services/proxy", "get"],
    ["", "pods", "watch"],
    ["", "nodes", "get"],
    ["resource.k8s.io", "resourceclaimtemplates", "list"],
    ["resource.k8s.io", "resourceclaimtemplates", "watch"],
    ["resource.k8s.io", "resourceslices", "get"],
    ["resource.k8s.io", "resourceclaims", "get"]
  ])("asks for nothing its runs do not use (the audit of InClusterE2e.test.ts): not %s %s %s", (group, resource, verb) => {
    expect(allows(group, resource, verb)).toBe(false)
  })
})

describe("inference-perf constraint schema", () => {
  it("decodes the upstream recipe's values", () => {
    expect(constraints.parse(UPSTREAM)).toEqual({
      "inference-model": "Qwen/Qwen3-8B",
      "inference-concurrency-per-gpu": 256,
      "inference-routing-mode": "dynamo-router",
      "inference-throughput": { operator: ">=", value: 50000 },
      "inference-ttft-p99": { operator: "<=", value: 2000 }
    })
  })

  it("accepts a gate with its unit, a cache storage class, and nothing at all", () => {
    expect(constraints.parse({ "inference-throughput": ">= 1e5 tok/s", "inference-ttft-p99": "<=750.5", "inference-model-cache-storage-class": "premium-rwo" })).toEqual({
      "inference-throughput": { operator: ">=", value: 100000 },
      "inference-ttft-p99": { operator: "<=", value: 750.5 },
      "inference-model-cache-storage-class": "premium-rwo"
    })
    expect(constraints.parse({})).toEqual({})
  })

  it("refuses strict operators: only >= and <= are honoured", () => {
    expect(issues({ "inference-throughput": "> 1e5", "inference-ttft-p99": "< 750.5" })).toEqual([
      {
        path: ["inference-throughput"],
        message: 'constraint "inference-throughput" is "> 1e5" but inference-perf accepts only ">=" (the 10% tolerance already relaxes the gate): use ">= 1e5"'
      },
      {
        path: ["inference-ttft-p99"],
        message: 'constraint "inference-ttft-p99" is "< 750.5" but inference-perf accepts only "<=" (the 10% tolerance already relaxes the gate): use "<= 750.5"'
      }
    ])
  })

  it("ignores constraints of the phase that are not its own", () => {
    expect(constraints.parse({ "inference-throughput": ">= 50000", "nccl-all-reduce-bw": ">= 300" })).toEqual({ "inference-throughput": { operator: ">=", value: 50000 } })
  })

  it("refuses a throughput gate pointing the wrong way", () => {
    expect(issues({ "inference-throughput": "<= 50000" })).toEqual([{
      path: ["inference-throughput"],
      message: 'constraint "inference-throughput" is "<= 50000" but it must be a minimum (higher is better): use ">= 50000"'
    }])
  })

  it("refuses a TTFT gate pointing the wrong way", () => {
    expect(issues({ "inference-ttft-p99": ">= 2000" })).toEqual([{
      path: ["inference-ttft-p99"],
      message: 'constraint "inference-ttft-p99" is ">= 2000" but it must be a maximum (lower is better): use "<= 2000"'
    }])
  })

  it.each([
    ["50000", 'constraint "inference-throughput" is "50000" but it needs the operator ">=": use ">= 50000"'],
    ["== 50000", 'constraint "inference-throughput" is "== 50000" but it must be a minimum (higher is better): use ">= 50000"'],
    [">= 50k", 'constraint "inference-throughput" is ">= 50k": "50k" is not a plain number (tokens/s); use ">= 5000"'],
    [">= 50000 GB/s", 'constraint "inference-throughput" is ">= 50000 GB/s": the unit "GB/s" is not tokens/s; write the number alone (tokens/s) or with tok/s, tokens/s, tokens/sec, token/s']
  ])("refuses the throughput gate %j", (value, message) => {
    expect(issues({ "inference-throughput": value })).toEqual([{ path: ["inference-throughput"], message }])
  })

  it.each(["0", "2.5", "-3", "many", ""])("refuses the concurrency %j", (value) => {
    expect(issues({ "inference-concurrency-per-gpu": value })).toEqual([{
      path: ["inference-concurrency-per-gpu"],
      message: `constraint "inference-concurrency-per-gpu" must be a positive whole number (got "${value}")`
    }])
  })

  it("refuses an unknown routing mode and a model written as a comparison", () => {
    expect(issues({ "inference-routing-mode": "round-robin", "inference-model": ">= 3" })).toEqual([
      { path: ["inference-model"], message: 'constraint "inference-model" takes a plain value, not a comparison' },
      { path: ["inference-routing-mode"], message: 'constraint "inference-routing-mode" must be dynamo-router (got "round-robin")' }
    ])
  })

  it("reports every bad constraint at once", () => {
    expect(issues({ "inference-throughput": "<= 1", "inference-ttft-p99": ">= 1", "inference-concurrency-per-gpu": "x" }).map((issue) => issue.path[0])).toEqual([
      "inference-throughput",
      "inference-ttft-p99",
      "inference-concurrency-per-gpu"
    ])
  })
})

const RECIPE: Recipe = {
  kind: "RecipeResult",
  apiVersion: "aicr.nvidia.com/v1alpha1",
  criteria: {},
  constraints: [],
  componentRefs: [{ name: "dynamo-platform", type: "Helm" }],
  validation: { performance: { checks: ["inference-perf"], constraints: Object.entries(UPSTREAM).map(([name, value]) => ({ name, value })) } }
}

const services = Layer.mergeAll(KubeClient.layerTest(), RunContext.layerTest(), Progress.layerSilent)

describe("inference-perf run", () => {
  effectIt.effect("with no GPU node, fails with InferencePerfError naming why, never a verdict, and creates nothing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(inferencePerf.run({
        config: constraints.parse(UPSTREAM),
        recipe: RECIPE,
        images: { frontend: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1", worker: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1", aiperf: "ghcr.io/aicr-project/aiperf-bench:latest" },
        timeoutMs: inferencePerf.timeoutMs
      })))
      expect(error).toBeInstanceOf(InferencePerfError)
      expect(error.message).toBe("no GPU node can run the benchmark:\nno node advertises nvidia.com/gpu (allocatable or gpu.nvidia.com ResourceSlices)")
      const kube = yield* KubeClient
      expect(yield* kube.list({ apiVersion: "v1", kind: "Namespace" })).toEqual([])
      expect(yield* kube.list({ apiVersion: "nvidia.com/v1alpha1", kind: "DynamoGraphDeployment" })).toEqual([])
      expect(yield* kube.list({ apiVersion: "batch/v1", kind: "Job" })).toEqual([])
    }).pipe(Effect.provide(services)))
})
