import * as Ctrf from "@aicr/core/Ctrf"
import * as ExitCode from "@aicr/core/ExitCode"
import { KubeClient } from "@aicr/core/KubeClient"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import * as Ledger from "@aicr/core/Ledger"
import { Progress } from "@aicr/core/Progress"
import * as RunContext from "@aicr/core/RunContext"
import * as InCluster from "@aicr/core/InCluster"
import * as InClusterRunner from "@aicr/core/InClusterRunner"
import * as Runner from "@aicr/core/Runner"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import * as Output from "./Output.ts"
import * as Render from "./Render.ts"
import type * as Validate from "./Validate.ts"

const STATUS: Record<Runner.Status, Ctrf.Status> = { passed: "passed", failed: "failed", skipped: "skipped", inconclusive: "other" }

/** The in-cluster runner's kept pod log lines (artifact `<check>-pod.log`) as the test's `stdout`, as upstream reports them. */
const podLog = (result: Runner.CheckResult): { readonly stdout?: ReadonlyArray<string> } => {
  const log = result.artifacts.find((artifact) => artifact.name === `${result.name}-pod.log`)
  return log === undefined || typeof log.content !== "string" ? {} : { stdout: log.content.replace(/\n$/, "").split("\n") }
}

/**
 * Writes one CTRF report per phase of the plan to ConfigMap `aicr-ctrf-<run ID>-<phase>` (key `report.json`) in
 * `namespace`, creating the namespace when absent; they stay after the run (`aicr cleanup --run` removes them).
 */
const writeReportConfigMaps = (kube: KubeClient["Service"], report: Ctrf.Report, runId: string, namespace: string, phases: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const written: Array<string> = []
    const ns = yield* Effect.result(kube.get({ apiVersion: "v1", kind: "Namespace", name: namespace }))
    if (ns._tag === "Failure" && ns.failure.reason === "NotFound") yield* Effect.result(kube.create(InCluster.namespace(namespace)))
    for (const phase of phases) {
      const tests = report.results.tests.filter((test) => test.suite?.[0] === phase)
      const phaseReport = Ctrf.build({
        version: report.results.tool.version,
        start: report.results.summary.start,
        stop: report.results.summary.stop,
        tests,
        environment: report.results.environment
      })
      const name = `aicr-ctrf-${runId}-${phase}`
      const created = yield* Effect.result(kube.create({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name,
          namespace,
          labels: {
            "app.kubernetes.io/name": "aicr",
            "app.kubernetes.io/component": "validation",
            [RunContext.LABEL_MANAGED_BY]: "aicr",
            [RunContext.LABEL_RUN_ID]: runId,
            "aicr.nvidia.com/phase": phase,
            "aicr.nvidia.com/report-type": "ctrf"
          }
        },
        data: { "report.json": `${Ctrf.toJson(phaseReport)}\n` }
      }))
      if (created._tag === "Failure") Output.stderr(`warning: cannot write the ${phase} report to ConfigMap ${namespace}/${name}: ${created.failure.message}\n`)
      else written.push(`cm://${namespace}/${name}`)
    }
    return written
  })

/** A check result as a CTRF test: status (inconclusive → other), duration, phase suite, message, metrics. */
export const toTest = (result: Runner.CheckResult): Ctrf.TestResult => ({
  name: result.name,
  status: STATUS[result.status],
  duration: result.durationMs,
  suite: [result.phase],
  message: result.message,
  ...podLog(result),
  ...(result.metrics.length > 0
    ? { extra: Object.fromEntries(result.metrics.map((metric) => [metric.name, { value: metric.value, unit: metric.unit, threshold: metric.threshold, passed: metric.passed }])) }
    : {})
})

export interface RunOptions {
  readonly failFast: boolean
  readonly kubeconfig?: string | undefined
  readonly context?: string | undefined
  /** A kube-sim profile (name or file): start a simulated cluster on loopback and run against it. */
  readonly simulate?: string | undefined
  /** `--report-configmap`: also write each phase's CTRF report to a ConfigMap in the validation namespace. */
  readonly reportConfigMaps?: boolean | undefined
  /** `--keep`: leave the checks' objects on the cluster. */
  readonly keep?: boolean | undefined
  readonly write: (report: Ctrf.Report) => Effect.Effect<ReadonlyArray<string>>
  /** The cluster connection (default: from `kubeconfig` / `context`, `KUBECONFIG`, `~/.kube/config` or in-cluster). */
  readonly kube?: Layer.Layer<KubeClient, KubeClientLive.KubeConfigError> | undefined
  /** The run ledger (default: the state directory from `AICR_STATE_DIR` / `XDG_STATE_HOME`). */
  readonly ledger?: Layer.Layer<Ledger.Ledger> | undefined
}

/** The CLI's entry script: what kube-sim runs for the validator image (`aicr check <name>`) in simulated in-cluster runs. */
const BIN = fileURLToPath(new URL("../bin/aicr.js", import.meta.url))

/**
 * Starts kube-sim with `profile` on loopback for the rest of the scope (the module is loaded only here). For the
 * in-cluster runner it serves TLS with RBAC enforced, and plays the validator images by running this CLI's
 * `aicr check` with the pod's service-account token, input mount and termination-log file.
 */
const startSimulation = (profile: string, validatorImages: ReadonlyArray<string> | undefined) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const Sim = await import("@aicr/kube-sim")
      const sim = await Sim.startSim({
        profile,
        ...(validatorImages === undefined ? {} : {
          tls: true,
          rbac: true,
          execImages: validatorImages.map((image) => ({
            image,
            command: [process.execPath, BIN, "check"],
            serviceAccountDirEnv: "AICR_SERVICEACCOUNT_DIR",
            terminationMessageEnv: "AICR_TERMINATION_LOG",
            killGraceMs: 30_000
          }))
        })
      })
      Output.stderr(`simulated cluster: kube-sim profile ${sim.profile?.name ?? profile} at ${sim.url}\n`)
      const leftovers = (runId: string): ReadonlyArray<string> =>
        sim.cluster.store.keys().flatMap((key) =>
          (sim.cluster.store.list(key) ?? [])
            .filter((object) => object.metadata.labels?.[RunContext.LABEL_RUN_ID] === runId)
            .map((object) => `${object.kind} ${object.metadata.namespace === undefined ? "" : `${object.metadata.namespace}/`}${object.metadata.name}`)
        )
      return { sim, kubeconfigPath: sim.kubeconfigPath, profile: sim.profile?.name ?? profile, leftovers }
    }),
    ({ sim }) => Effect.promise(() => sim.stop())
  )

/** A top-level error before any check ran: a message and the exit code. */
const stop = (message: string, code: number) =>
  Effect.sync(() => {
    Output.stderr(`error: ${message}\n`)
    return code
  })

/**
 * Connects to the cluster, opens the run's ledger, runs the plan with the local runner and writes the reports —
 * also when interrupted, in which case the finished checks keep their results and the others are inconclusive.
 * A connection that cannot be made or used ends the run before any check, with the exit code of its reason.
 */
export const run = (inputs: Validate.Inputs, options: RunOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const runId = inputs.runId ?? RunContext.generateRunId(start, randomBytes(8).toString("hex"))
    Output.stderr(`run ${runId}\n`)

    const inCluster = inputs.runner === "in-cluster"
    const validatorImages = inCluster ? [...new Set(InClusterRunner.runningChecks(inputs.plan).map((check) => check.images["validator"] ?? ""))] : undefined
    const simulated = options.simulate === undefined ? undefined : yield* startSimulation(options.simulate, validatorImages)
    const connection = yield* Effect.result(Layer.build(
      options.kube ?? KubeClientLive.layerFromKubeconfig(simulated === undefined ? { kubeconfig: options.kubeconfig, context: options.context } : { kubeconfig: simulated.kubeconfigPath })
    ))
    if (connection._tag === "Failure") return yield* stop(connection.failure.message, ExitCode.InvalidInput)
    const kube = Context.get(connection.success, KubeClient)
    const reachable = yield* Effect.result(kube.isServed("v1", "Namespace"))
    if (reachable._tag === "Failure") {
      return yield* stop(`cannot use the cluster: ${reachable.failure.message}`, ExitCode.fromKubeReason(reachable.failure.reason))
    }

    const ledgerContext = yield* Layer.build(options.ledger ?? (simulated === undefined ? Ledger.Ledger.layer : Ledger.Ledger.layerTest)).pipe(Effect.result)
    if (ledgerContext._tag === "Failure") return yield* stop(`cannot find the run ledger's directory: ${String(ledgerContext.failure)}`, ExitCode.InvalidInput)
    const ledger = Context.get(ledgerContext.success, Ledger.Ledger)
    const begun = yield* Effect.result(ledger.begin(runId, { aicrVersion: inputs.build.version }))
    if (begun._tag === "Failure") {
      return yield* stop(`${begun.failure.message}; set AICR_STATE_DIR to a writable directory (nothing was changed on the cluster)`, ExitCode.InvalidInput)
    }

    const results = yield* Ref.make<ReadonlyArray<Runner.CheckResult>>([])
    const context = RunContext.make({
      runId,
      nodeSelector: inputs.nodeSelector,
      tolerations: inputs.tolerations,
      recorder: Ledger.recorder(ledger, runId),
      imagePullSecrets: inputs.imagePullSecrets,
      keep: options.keep
    })
    const layer = Layer.mergeAll(
      Layer.succeed(RunContext.RunContext, context),
      Layer.succeedContext(connection.success),
      Progress.layerLines((line) => Output.stderr(`${line}\n`))
    )
    const finish = (exit: Exit.Exit<ReadonlyArray<Runner.CheckResult>>) =>
      Effect.gen(function*() {
        const stoppedAt = yield* Clock.currentTimeMillis
        const interrupted = !Exit.isSuccess(exit)
        const final = Exit.isSuccess(exit) ? exit.value : Runner.completeInterrupted(inputs.plan, yield* Ref.get(results), stoppedAt)
        const report = Ctrf.build({
          version: inputs.build.version,
          start,
          stop: stoppedAt,
          tests: final.map(toTest),
          environment: { appName: "aicr", appVersion: inputs.build.version, extra: { runId, ...(simulated === undefined ? {} : { simulated: simulated.profile }), ...(interrupted ? { interrupted: true } : {}) } }
        })
        const written = [...(yield* options.write(report))]
        if (options.reportConfigMaps === true) {
          written.push(...(yield* writeReportConfigMaps(kube, report, runId, inputs.namespace, inputs.plan.phases.map((phase) => phase.phase))))
        }
        const finished = yield* Effect.result(ledger.finish(runId))
        if (finished._tag === "Failure") Output.stderr(`warning: ${finished.failure.message}\n`)
        Output.stderr(Render.summary(final, interrupted))
        if (simulated !== undefined) {
          const left = simulated.leftovers(runId)
          Output.stderr(
            `simulated cluster (kube-sim profile ${simulated.profile}; figures are not measurements of real hardware): ` +
              `${left.length} object${left.length === 1 ? "" : "s"} of run ${runId} left${left.length === 0 ? "" : `: ${left.join(", ")}`}\n`
          )
        }
        for (const path of written) Output.stderr(`wrote ${path}\n`)
        if (options.keep === true) Output.stderr(`--keep: the objects of run ${runId} were left on the cluster; remove them with: aicr cleanup --run ${runId} --yes\n`)
        return ExitCode.fromReport(report)
      })
    const code = yield* Ref.make<number>(ExitCode.Success)
    const prepared = yield* Ref.make<InClusterRunner.Prepared | undefined>(undefined)
    type Outcome =
      | { readonly _tag: "Results"; readonly results: ReadonlyArray<Runner.CheckResult> }
      | { readonly _tag: "PrepareFailed"; readonly error: InClusterRunner.InClusterError }
    const body: Effect.Effect<Outcome, never, KubeClient | RunContext.RunContext | Progress | Scope.Scope> = Effect.gen(function*() {
      if (!inCluster) return { _tag: "Results", results: yield* Runner.run(inputs.plan, { failFast: options.failFast, results }) } as const
      const ready = yield* Effect.result(InClusterRunner.prepare(inputs.plan, {
        namespace: inputs.namespace,
        recipe: { source: inputs.plan.recipe.source, text: inputs.plan.recipe.text ?? "" },
        env: InClusterRunner.forwardedEnv(process.env)
      }))
      if (ready._tag === "Failure") return { _tag: "PrepareFailed", error: ready.failure } as const
      yield* Ref.set(prepared, ready.success)
      return { _tag: "Results", results: yield* Runner.run(inputs.plan, { failFast: options.failFast, results, execute: ready.success.execute }) } as const
    })
    const outcome = yield* Effect.scoped(body).pipe(
      Effect.provide(layer),
      Effect.onExit((exit) => {
        if (Exit.isSuccess(exit) && exit.value._tag === "PrepareFailed") return Effect.void
        const results: Exit.Exit<ReadonlyArray<Runner.CheckResult>> = Exit.isSuccess(exit) && exit.value._tag === "Results" ? Exit.succeed(exit.value.results) : (exit as Exit.Exit<never>)
        return Effect.flatMap(finish(results), (value) => Ref.set(code, value))
      })
    )
    if (outcome._tag === "PrepareFailed") {
      yield* Effect.result(ledger.finish(runId))
      const created = outcome.error.exitCode === ExitCode.InvalidInput ? "nothing was created on the cluster" : "what it had created was released"
      return yield* stop(`in-cluster runner: ${outcome.error.message} (${created})`, outcome.error.exitCode ?? ExitCode.Unavailable)
    }
    const ready = yield* Ref.get(prepared)
    if (ready !== undefined && options.keep !== true) {
      const left = yield* InClusterRunner.unrevoked(ready).pipe(Effect.provideContext(connection.success))
      if (left.length > 0) {
        const one = left.length === 1
        Output.stderr(`error: the run's RBAC was not revoked: ${left.join(", ")} still exist${one ? "s" : ""}; remove ${one ? "it" : "them"} with: aicr cleanup --run ${runId} --yes\n`)
        return Math.max(yield* Ref.get(code), ExitCode.ChecksFailed)
      }
    }
    return yield* Ref.get(code)
  }))
