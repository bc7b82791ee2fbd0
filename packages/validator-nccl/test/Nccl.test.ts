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
import ncclDefault, { constraints, ncclAllReduceBw } from "../src/index.ts"

const allows = (apiGroup: string, resource: string, verb: string) =>
  ncclAllReduceBw.permissions.some((rule) => rule.apiGroups.includes(apiGroup) && rule.resources.includes(resource) && rule.verbs.includes(verb))

const issues = (input: Record<string, string>) => {
  const parsed = constraints.safeParse(input)
  if (parsed.success) throw new Error(`expected ${JSON.stringify(input)} to be refused`)
  return parsed.error.issues.map((issue) => ({ path: issue.path, message: issue.message }))
}

describe("nccl-all-reduce-bw metadata", () => {
  it("is a contract-1 plugin of the performance phase, exported by name and by default", () => {
    expect(Validator.isValidator(ncclAllReduceBw)).toBe(true)
    expect(ncclAllReduceBw[Validator.TypeId]).toEqual({ contractVersion: 1 })
    expect(ncclDefault).toBe(ncclAllReduceBw)
    expect(ncclAllReduceBw.name).toBe("nccl-all-reduce-bw")
    expect(ncclAllReduceBw.phase).toBe("performance")
    expect(ncclAllReduceBw.description).toBe("NCCL all-reduce bus bandwidth across GPU nodes, run by nccl-tests through a Kubeflow TrainJob")
  })

  it("takes the GPU exclusively for 30 minutes at most", () => {
    expect(ncclAllReduceBw.exclusive).toEqual(["gpu"])
    expect(ncclAllReduceBw.timeoutMs).toBe(30 * 60_000)
  })

  it("uses the runtime, runtime-gke and probe images, all named by its catalog entry, whose timeout matches", () => {
    expect(ncclAllReduceBw.images).toEqual(["runtime", "runtime-gke", "probe"])
    const entry = Catalog.embedded().validators.find((candidate) => candidate.name === "nccl-all-reduce-bw")!
    expect(entry.phase).toBe("performance")
    expect(entry.timeout).toBe(ncclAllReduceBw.timeoutMs)
    expect(Object.keys(entry.images).sort()).toEqual([...ncclAllReduceBw.images].sort())
  })

  it("requires the nccl-all-reduce-bw gate, and the TrainJob API (failed when the recipe declares kubeflow-trainer, else skipped)", () => {
    expect(ncclAllReduceBw.requires).toEqual([
      { kind: "constraint", anyOf: ["nccl-all-reduce-bw"] },
      {
        kind: "api",
        apiVersion: "trainer.kubeflow.org/v1alpha1",
        resourceKind: "TrainJob",
        whenMissing: "failed",
        declaredBy: "kubeflow-trainer",
        hint: "the recipe declares kubeflow-trainer, but its TrainJob API is not there (is Kubeflow Trainer installed?)"
      }
    ])
  })

  it.each([
    ["trainer.kubeflow.org", "trainjobs", ["create", "get", "watch", "delete"]],
    ["trainer.kubeflow.org", "trainingruntimes", ["create", "get", "delete"]],
    ["", "pods", ["list", "watch"]],
    ["", "pods/log", ["get"]],
    ["", "nodes", ["get", "list"]],
    ["resource.k8s.io", "resourceslices", ["list"]],
    ["", "namespaces", ["create", "get", "watch", "delete"]],
    ["", "secrets", ["get", "create", "delete"]],
    ["networking.gke.io", "networks", ["list"]],
    ["resource.k8s.io", "resourceclaimtemplates", ["create", "get", "delete"]]
  ])("may use %s %s: %j", (group, resource, verbs) => {
    for (const verb of verbs) expect(allows(group, resource, verb)).toBe(true)
  })

  it("asks for no write access to cluster-wide objects it does not create", () => {
    expect(allows("", "nodes", "update")).toBe(false)
    expect(allows("apiextensions.k8s.io", "customresourcedefinitions", "get")).toBe(false)
    expect(allows("apiextensions.k8s.io", "customresourcedefinitions", "create")).toBe(false)
    expect(allows("", "pods", "delete")).toBe(false)
  })

  it.each([
    ["", "pods", "get"],
    ["networking.gke.io", "networks", "get"],
    ["resource.k8s.io", "resourceclaimtemplates", "list"],
    ["resource.k8s.io", "resourceclaimtemplates", "watch"],
    ["resource.k8s.io", "resourceslices", "get"],
    ["resource.k8s.io", "resourceclaims", "get"]
  ])("asks for nothing its runs do not use (the audit of InClusterE2e.test.ts): not %s %s %s", (group, resource, verb) => {
    expect(allows(group, resource, verb)).toBe(false)
  })
})

describe("nccl-all-reduce-bw constraint schema", () => {
  it("decodes the upstream v0.11.1 EKS (>= 300) and GKE (>= 250) gates", () => {
    expect(constraints.parse({ "nccl-all-reduce-bw": ">= 300" })).toEqual({ "nccl-all-reduce-bw": { operator: ">=", value: 300 } })
    expect(constraints.parse({ "nccl-all-reduce-bw": ">= 250" })).toEqual({ "nccl-all-reduce-bw": { operator: ">=", value: 250 } })
  })

  it("accepts a minimum with decimals, and no gate at all", () => {
    expect(constraints.parse({ "nccl-all-reduce-bw": ">= 250.5" })).toEqual({ "nccl-all-reduce-bw": { operator: ">=", value: 250.5 } })
    expect(constraints.parse({})).toEqual({})
  })

  it("ignores constraints of the phase that are not its own", () => {
    expect(constraints.parse({ "nccl-all-reduce-bw": ">= 300", "inference-throughput": ">= 1" })).toEqual({ "nccl-all-reduce-bw": { operator: ">=", value: 300 } })
  })

  it.each([
    ["<= 300", 'constraint "nccl-all-reduce-bw" is "<= 300" but it must be a minimum (bus bandwidth: higher is better; upstream read any operator as ">="): use ">= 300"'],
    ["< 300", 'constraint "nccl-all-reduce-bw" is "< 300" but it must be a minimum (bus bandwidth: higher is better; upstream read any operator as ">="): use ">= 300"'],
    ["> 250.5", 'constraint "nccl-all-reduce-bw" is "> 250.5" but nccl-all-reduce-bw accepts only ">=" (the 10% tolerance already relaxes the gate): use ">= 250.5"'],
    ["300", 'constraint "nccl-all-reduce-bw" is "300" but it needs the operator ">=": use ">= 300"'],
    ["fast", 'constraint "nccl-all-reduce-bw" is "fast" but it needs the operator ">=": use ">= 300"'],
    [">== 300", 'constraint "nccl-all-reduce-bw" is ">== 300": write ">=" once, then the number: use ">= 300"'],
    ["", 'constraint "nccl-all-reduce-bw" is empty: write ">= 300" (GB/s)']
  ])("refuses %j", (value, message) => {
    expect(issues({ "nccl-all-reduce-bw": value })).toEqual([{ path: ["nccl-all-reduce-bw"], message }])
  })
})

const RECIPE: Recipe = {
  kind: "RecipeResult",
  apiVersion: "aicr.nvidia.com/v1alpha1",
  criteria: {},
  constraints: [],
  componentRefs: [],
  validation: { performance: { checks: ["nccl-all-reduce-bw"], constraints: [{ name: "nccl-all-reduce-bw", value: ">= 300" }] } }
}

const services = Layer.mergeAll(KubeClient.layerTest(), RunContext.layerTest(), Progress.layerSilent)

describe("nccl-all-reduce-bw run", () => {
  effectIt.effect("on a cluster without GPU nodes: skipped with the reason, and nothing created", () =>
    Effect.gen(function*() {
      const outcome = yield* Effect.scoped(ncclAllReduceBw.run({
        config: constraints.parse({ "nccl-all-reduce-bw": ">= 300" }),
        recipe: RECIPE,
        images: { runtime: "nccl-tests:1", "runtime-gke": "pytorch:25.06-py3", probe: "busybox:1.37" },
        timeoutMs: ncclAllReduceBw.timeoutMs
      }))
      expect(outcome.status).toBe("skipped")
      expect(outcome.message).toBe(
        "requires at least 2 GPU nodes of one shape for the east-west fabric test, found 0 " +
          "(set AICR_NCCL_INTRA_NODE=true to measure one node's GPUs over NVLink instead)"
      )
      const kube = yield* KubeClient
      expect(yield* kube.list({ apiVersion: "v1", kind: "Namespace" })).toEqual([])
      expect(yield* kube.list({ apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainJob" })).toEqual([])
    }).pipe(Effect.provide(services)))
})
