import * as Validator from "@aicr/core/Validator"
import * as Inputs from "./Inputs.ts"
import * as Pipeline from "./Pipeline.ts"

export { NcclError } from "./Pipeline.ts"

/** The recipe constraints nccl-all-reduce-bw reads (gate and profile) and its knobs, decoded at plan time; see `Inputs`. */
export const constraints = Inputs.constraints

/**
 * nccl-all-reduce-bw: runs nccl-tests `all_reduce_perf` across GPU nodes through a Kubeflow TrainJob and
 * judges the out-of-place bus bandwidth (GB/s) at the largest message size against the recipe's `nccl-all-reduce-bw`
 * floor (`>=` only), with 10 % tolerance.
 */
export const ncclAllReduceBw = Validator.defineValidator({
  name: "nccl-all-reduce-bw",
  phase: "performance",
  description: "NCCL all-reduce bus bandwidth across GPU nodes, run by nccl-tests through a Kubeflow TrainJob",
  constraints,
  requires: [
    { kind: "constraint", anyOf: ["nccl-all-reduce-bw"] },
    {
      kind: "api",
      apiVersion: "trainer.kubeflow.org/v1alpha1",
      resourceKind: "TrainJob",
      whenMissing: "failed",
      declaredBy: "kubeflow-trainer",
      hint: "the recipe declares kubeflow-trainer, but its TrainJob API is not there (is Kubeflow Trainer installed?)"
    }
  ],
  permissions: [
    { apiGroups: [""], resources: ["namespaces"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: ["trainer.kubeflow.org"], resources: ["trainjobs", "trainingruntimes"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: [""], resources: ["secrets"], verbs: ["get", "create", "delete"] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
    { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] },
    { apiGroups: ["networking.gke.io"], resources: ["networks"], verbs: ["list"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceclaimtemplates"], verbs: ["create", "get", "delete"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceslices", "resourceclaims"], verbs: ["list"] }
  ],
  images: ["runtime", "runtime-gke", "probe"],
  exclusive: ["gpu"],
  timeoutMs: 30 * 60_000,
  run: Pipeline.run
})

export default ncclAllReduceBw
