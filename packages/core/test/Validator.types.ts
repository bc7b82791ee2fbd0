/**
 * Type tests of the plugin contract, checked by `tsc -p packages/core/tsconfig.json` (never run). Each
 * `@ts-expect-error` marks code the contract must refuse; it fails the type check if that code compiles.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as z from "zod"
import * as ConstraintSchema from "../src/ConstraintSchema.ts"
import { KubeClient } from "../src/KubeClient.ts"
import * as Progress from "../src/Progress.ts"
import { RunContext } from "../src/RunContext.ts"
import type * as Constraint from "../src/Constraint.ts"
import * as Validator from "../src/Validator.ts"

class Metrics extends Context.Service<Metrics, { readonly push: (value: number) => Effect.Effect<void> }>()("test/Metrics") {}

const base = {
  phase: "performance",
  description: "type test",
  constraints: z.object({}),
  timeoutMs: 1000
} as const

// A plugin may use every core service: KubeClient, RunContext, Progress and Scope.
export const usesCoreServices = Validator.defineValidator({
  ...base,
  name: "uses-core-services",
  images: ["worker"],
  run: ({ images }) =>
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const context = yield* RunContext
      yield* Progress.note("uses-core-services", `starting ${images.worker}`)
      yield* Effect.acquireRelease(
        kube.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: context.name("probe"), namespace: context.namespace } }),
        (created) => Effect.ignore(kube.delete({ apiVersion: created.apiVersion, kind: created.kind, namespace: context.namespace, name: created.metadata.name }))
      )
      return Validator.passed("done")
    })
})

// The result is an AnyValidator, the type the runner and the plan hold.
export const asAny: Validator.AnyValidator = usesCoreServices

// Kube errors and any tagged error with a message are acceptable failures.
export const failsWithKubeError = Validator.defineValidator({
  ...base,
  name: "fails-with-kube-error",
  run: () => KubeClient.use((kube) => Effect.as(kube.list({ apiVersion: "v1", kind: "Node" }), Validator.skipped("no nodes")))
})

// (a) A plugin whose run requires a service core does not provide does not compile.
export const undeclaredService = Validator.defineValidator({
  ...base,
  name: "undeclared-service",
  // @ts-expect-error Metrics is not one of Validator.Services
  run: () => Metrics.use((metrics) => Effect.as(metrics.push(1), Validator.passed("pushed")))
})

// (b) run must return a CheckOutcome.
export const notAnOutcome = Validator.defineValidator({
  ...base,
  name: "not-an-outcome",
  // @ts-expect-error a string is not a CheckOutcome
  run: () => Effect.succeed("passed")
})

export const unknownStatus = Validator.defineValidator({
  ...base,
  name: "unknown-status",
  // @ts-expect-error "ok" is not a status of CheckOutcome
  run: () => Effect.succeed({ status: "ok", message: "fine", metrics: [], artifacts: [] })
})

// A failure that is not a tagged error with a message does not compile either.
export const untaggedFailure = Validator.defineValidator({
  ...base,
  name: "untagged-failure",
  // @ts-expect-error a bare string is not a CheckFailure
  run: () => Effect.fail("could not tell")
})

// (c) Only the declared image keys exist on input.images.
export const unknownImage = Validator.defineValidator({
  ...base,
  name: "unknown-image",
  images: ["a"],
  run: ({ images }) => {
    const declared: string = images.a
    // @ts-expect-error "unknownKey" is not among images: ["a"]
    const undeclared: string = images.unknownKey
    return Effect.succeed(Validator.passed(`${declared} ${undeclared}`))
  }
})

// Without images, input.images has no keys at all.
export const noImages = Validator.defineValidator({
  ...base,
  name: "no-images",
  run: ({ images }) => {
    // @ts-expect-error no images were declared
    const worker: string = images.worker
    return Effect.succeed(Validator.passed(worker))
  }
})

// (d) input.config is the schema's output type.
export const typedConfig = Validator.defineValidator({
  ...base,
  name: "typed-config",
  constraints: z.object({
    "inference-throughput": ConstraintSchema.threshold("inference-throughput", "higher-is-better"),
    "inference-concurrency-per-gpu": ConstraintSchema.positiveInteger("inference-concurrency-per-gpu").optional(),
    "inference-model": ConstraintSchema.value("inference-model").optional()
  }),
  run: ({ config }) => {
    const threshold: Constraint.Threshold = config["inference-throughput"]
    const concurrency: number | undefined = config["inference-concurrency-per-gpu"]
    const model: string | undefined = config["inference-model"]
    // @ts-expect-error the threshold is decoded, not the text of the constraint
    const asText: string = config["inference-throughput"]
    // @ts-expect-error an optional constraint may be absent
    const required: number = config["inference-concurrency-per-gpu"]
    // @ts-expect-error the schema has no such constraint
    const unknown: unknown = config["inference-ttft-p99"]
    return Effect.succeed(Validator.passed(`${threshold.value} ${concurrency} ${model} ${asText} ${required} ${String(unknown)}`))
  }
})

// The name and phase are checked at the type level too.
export const badPhase = Validator.defineValidator({
  ...base,
  name: "bad-phase",
  // @ts-expect-error "readiness" is not a phase a plugin may join
  phase: "readiness",
  run: () => Effect.succeed(Validator.passed("ok"))
})

export const badExclusive = Validator.defineValidator({
  ...base,
  name: "bad-exclusive",
  // @ts-expect-error only "gpu" can be claimed
  exclusive: ["network"],
  run: () => Effect.succeed(Validator.passed("ok"))
})

// The literal name is kept in the plugin's type.
export const literalName: "uses-core-services" = usesCoreServices.name
