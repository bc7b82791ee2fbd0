import * as ConstraintSchema from "@aicr/core/ConstraintSchema"
import * as Validator from "@aicr/core/Validator"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as z from "zod"

/** "Could not determine": the NCCL benchmark could not produce a measurement. */
export class NcclError extends Data.TaggedError("NcclError")<{ readonly message: string }> {}

export const constraints = z.object({
  "nccl-all-reduce-bw": ConstraintSchema.threshold("nccl-all-reduce-bw", "higher-is-better").optional()
})

/**
 * nccl-all-reduce-bw: runs nccl-tests `all_reduce_perf` across GPU nodes through a Kubeflow TrainJob and
 * judges the bus bandwidth (GB/s) against the recipe's `nccl-all-reduce-bw` threshold, honouring its operator.
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
