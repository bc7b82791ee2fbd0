import { inferencePerf } from "@aicr/validator-inference-perf"
import { ncclAllReduceBw } from "@aicr/validator-nccl"
import type * as Validator from "@aicr/core/Validator"

/** The plugins bundled with the CLI. */
export const firstParty: ReadonlyArray<Validator.AnyValidator> = [inferencePerf, ncclAllReduceBw]
