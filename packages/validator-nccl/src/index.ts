import * as Validator from "@aicr/core/Validator"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Inputs from "./Inputs.ts"

/** "Could not determine": the NCCL benchmark could not produce a measurement. */
export class NcclError extends Data.TaggedError("NcclError")<{ readonly message: string }> {}

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
    { kind: "crd", name: "trainjobs.trainer.kubeflow.org" }
  ],
  permissions: [
    { apiGroups: ["trainer.kubeflow.org"], resources: ["trainjobs", "trainingruntimes"], verbs: ["create", "get", "list", "watch", "delete"] },
    { apiGroups: [""], resources: ["pods", "pods/log"], verbs: ["get", "list", "watch"] },
    { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list"] },
    { apiGroups: ["resource.k8s.io"], resources: ["resourceslices", "resourceclaims"], verbs: ["get", "list"] },
    { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"] }
  ],
  images: ["runtime", "runtime-gke", "probe"],
  exclusive: ["gpu"],
  timeoutMs: 30 * 60_000,
  run: () =>
    Effect.fail(
      new NcclError({
        message: "nccl-all-reduce-bw is not available in this version of aicr: its TrainJob pipeline is not " +
          "implemented yet, so no verdict is given and nothing was created on the cluster"
      })
    )
})

export default ncclAllReduceBw
