import * as Validator from "@aicr/core/Validator"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Inputs from "./Inputs.ts"

/** "Could not determine": the inference pipeline could not produce a measurement. */
export class InferencePerfError extends Data.TaggedError("InferencePerfError")<{ readonly message: string }> {}

/** The recipe constraints inference-perf reads (gates and inputs), decoded at plan time; see `Inputs`. */
export const constraints = Inputs.constraints

/**
 * inference-perf: deploys a Dynamo DynamoGraphDeployment (vLLM workers, one per free GPU on one node, DRA
 * claims) and an AIPerf load Job, measures output-token throughput and TTFT p99 against the recipe's
 * `inference-throughput` (>=) and `inference-ttft-p99` (<=), and removes everything it created.
 */
export const inferencePerf = Validator.defineValidator({
  name: "inference-perf",
  phase: "performance",
  description: "Inference throughput and TTFT p99 of a Dynamo vLLM deployment, measured with AIPerf",
  constraints,
  requires: [
    { kind: "constraint", anyOf: ["inference-throughput", "inference-ttft-p99"] },
    { kind: "component", name: "dynamo-platform" },
    { kind: "crd", name: "dynamographdeployments.nvidia.com" }
  ],
  permissions: [
    { apiGroups: ["nvidia.com"], resources: ["dynamographdeployments"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: [""], resources: ["pods", "pods/log", "services", "services/proxy"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceclaimtemplates"], verbs: ["create", "get", "delete"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceslices", "resourceclaims"], verbs: ["get", "list"] },
    { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"] }
  ],
  images: ["frontend", "worker", "aiperf"],
  exclusive: ["gpu"],
  timeoutMs: 65 * 60_000,
  run: () =>
    Effect.fail(
      new InferencePerfError({
        message: "inference-perf is not available in this version of aicr: its measurement pipeline is not " +
          "implemented yet, so no verdict is given and nothing was created on the cluster"
      })
    )
})

export default inferencePerf
