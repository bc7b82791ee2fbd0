import * as Validator from "@aicr/core/Validator"
import * as Inputs from "./Inputs.ts"
import * as Pipeline from "./Pipeline.ts"

export { InferencePerfError } from "./Pipeline.ts"

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
    {
      kind: "api",
      apiVersion: "nvidia.com/v1alpha1",
      resourceKind: "DynamoGraphDeployment",
      whenMissing: "failed",
      hint: "the recipe declares dynamo-platform, but its DynamoGraphDeployment API is not there (is the Dynamo operator installed?)"
    }
  ],
  permissions: [
    { apiGroups: [""], resources: ["namespaces"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: ["nvidia.com"], resources: ["dynamographdeployments"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: ["batch"], resources: ["jobs"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "delete"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: [""], resources: ["services/proxy"], verbs: ["create"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["list"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceclaimtemplates"], verbs: ["create", "get", "delete"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceslices", "resourceclaims"], verbs: ["list"] }
  ],
  images: ["frontend", "worker", "aiperf"],
  exclusive: ["gpu"],
  timeoutMs: 65 * 60_000,
  run: Pipeline.run
})

export default inferencePerf
