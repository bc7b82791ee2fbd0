import * as Ctrf from "@aicr/core/Ctrf"
import * as ExitCode from "@aicr/core/ExitCode"
import { KubeClient } from "@aicr/core/KubeClient"
import { Progress } from "@aicr/core/Progress"
import * as RunContext from "@aicr/core/RunContext"
import * as Runner from "@aicr/core/Runner"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import { randomBytes } from "node:crypto"
import * as Output from "./Output.ts"
import * as Render from "./Render.ts"
import type * as Validate from "./Validate.ts"

/** This version has no Kubernetes client yet; every cluster call says so. */
export const NO_CLUSTER = "Kubernetes access is not available in this version of aicr (the kube layer is not implemented yet)"

const STATUS: Record<Runner.Status, Ctrf.Status> = { passed: "passed", failed: "failed", skipped: "skipped", inconclusive: "other" }

/** A check result as a CTRF test: status (inconclusive → other), duration, phase suite, message, metrics. */
export const toTest = (result: Runner.CheckResult): Ctrf.TestResult => ({
  name: result.name,
  status: STATUS[result.status],
  duration: result.durationMs,
  suite: [result.phase],
  message: result.message,
  ...(result.metrics.length > 0
    ? { extra: Object.fromEntries(result.metrics.map((metric) => [metric.name, { value: metric.value, unit: metric.unit, threshold: metric.threshold, passed: metric.passed }])) }
    : {})
})

export interface RunOptions {
  readonly failFast: boolean
  readonly output?: string | undefined
  readonly junit?: string | undefined
  readonly write: (report: Ctrf.Report) => Effect.Effect<ReadonlyArray<string>>
  readonly kube?: Layer.Layer<KubeClient> | undefined
}

/**
 * Runs the plan with the local runner and writes the reports — also when interrupted, in which case the
 * finished checks keep their results and the others are inconclusive.
 */
export const run = (inputs: Validate.Inputs, options: RunOptions) =>
  Effect.gen(function*() {
    const results = yield* Ref.make<ReadonlyArray<Runner.CheckResult>>([])
    const start = yield* Clock.currentTimeMillis
    const runId = RunContext.generateRunId(start, randomBytes(8).toString("hex"))
    Output.stderr(`run ${runId}\n`)
    const context = RunContext.make({ runId, nodeSelector: inputs.nodeSelector, tolerations: inputs.tolerations })
    const layer = Layer.mergeAll(
      Layer.succeed(RunContext.RunContext, context),
      options.kube ?? KubeClient.layerUnavailable(NO_CLUSTER),
      Progress.layerLines((line) => Output.stderr(`${line}\n`))
    )
    const finish = (exit: Exit.Exit<ReadonlyArray<Runner.CheckResult>>) =>
      Effect.gen(function*() {
        const stop = yield* Clock.currentTimeMillis
        const interrupted = !Exit.isSuccess(exit)
        const final = Exit.isSuccess(exit) ? exit.value : Runner.completeInterrupted(inputs.plan, yield* Ref.get(results), stop)
        const report = Ctrf.build({
          version: inputs.build.version,
          start,
          stop,
          tests: final.map(toTest),
          environment: { appName: "aicr", appVersion: inputs.build.version, extra: { runId, ...(interrupted ? { interrupted: true } : {}) } }
        })
        const written = yield* options.write(report)
        Output.stderr(Render.summary(final, interrupted))
        for (const path of written) Output.stderr(`wrote ${path}\n`)
        return ExitCode.fromReport(report)
      })
    const code = yield* Ref.make<number>(ExitCode.Success)
    yield* Runner.run(inputs.plan, { failFast: options.failFast, results }).pipe(
      Effect.provide(layer),
      Effect.onExit((exit) => Effect.flatMap(finish(exit), (value) => Ref.set(code, value)))
    )
    return yield* Ref.get(code)
  })

