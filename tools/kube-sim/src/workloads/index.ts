/** The workload emulators the kubelet chooses from, by image and command. */
import type { Workload } from "../world.ts"
import { aiperfWorkload } from "./aiperf.ts"
import { dynamoFrontend, dynamoWorker } from "./dynamo.ts"
import { execImage, type ExecImageOptions } from "./exec.ts"
import { ncclWorkloads, type NcclWorkloadOptions } from "./nccl.ts"
import { pauseWorkload } from "./pause.ts"

export * from "./aiperf.ts"
export * from "./dynamo.ts"
export * from "./exec.ts"
export * from "./nccl.ts"
export * from "./pause.ts"

export interface WorkloadOptions {
  /** Images played by local commands; these are matched first. */
  readonly execImages?: ReadonlyArray<ExecImageOptions> | undefined
  readonly nccl?: NcclWorkloadOptions | undefined
}

/** Every emulator in matching order: mapped images, Dynamo frontend and workers, AIPerf, nccl-tests, pause. */
export const defaultWorkloads = (options: WorkloadOptions = {}): Array<Workload> => [
  ...(options.execImages ?? []).map(execImage),
  dynamoFrontend(),
  dynamoWorker(),
  aiperfWorkload(),
  ...ncclWorkloads(options.nccl),
  pauseWorkload()
]
