import * as ExitCode from "@aicr/core/ExitCode"
import { describe, KubeClient, type KubeError, type KubeObject, type ObjectRef } from "@aicr/core/KubeClient"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import * as Ledger from "@aicr/core/Ledger"
import * as RunContext from "@aicr/core/RunContext"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import * as Output from "./Output.ts"

export interface Options {
  readonly run?: string | undefined
  readonly stale: boolean
  readonly yes: boolean
  readonly kubeconfig?: string | undefined
  readonly context?: string | undefined
  /** How long to wait for the deleted objects to be gone (default 2 minutes). */
  readonly timeout?: string | undefined
  /** The connection (default: from `kubeconfig` / `context`). */
  readonly kube?: Layer.Layer<KubeClient, KubeClientLive.KubeConfigError> | undefined
  /** The ledger (default: from `AICR_STATE_DIR` / `XDG_STATE_HOME`). */
  readonly ledger?: Layer.Layer<Ledger.Ledger> | undefined
}

/** The kinds aicr and its first-party checks create: searched by label in every cleanup, besides those in the ledger. */
export const KINDS: ReadonlyArray<{ readonly apiVersion: string; readonly kind: string }> = [
  { apiVersion: "batch/v1", kind: "Job" },
  { apiVersion: "v1", kind: "Pod" },
  { apiVersion: "v1", kind: "Service" },
  { apiVersion: "v1", kind: "ConfigMap" },
  { apiVersion: "v1", kind: "Secret" },
  { apiVersion: "v1", kind: "ServiceAccount" },
  { apiVersion: "v1", kind: "PersistentVolumeClaim" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole" },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding" },
  { apiVersion: "resource.k8s.io/v1", kind: "ResourceClaim" },
  { apiVersion: "resource.k8s.io/v1", kind: "ResourceClaimTemplate" },
  { apiVersion: "nvidia.com/v1alpha1", kind: "DynamoGraphDeployment" },
  { apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainJob" },
  { apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainingRuntime" },
  { apiVersion: "v1", kind: "Namespace" }
]

/** A leftover: the object, the run it belongs to, and where it was found. */
interface Leftover {
  readonly ref: ObjectRef
  readonly runId: string
  readonly sources: ReadonlySet<"ledger" | "label">
}

const keyOf = (ref: ObjectRef) => `${ref.apiVersion}|${ref.kind}|${ref.namespace ?? ""}|${ref.name}`

const refOf = (object: KubeObject): ObjectRef => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  namespace: object.metadata.namespace,
  name: object.metadata.name
})

/** Namespaced objects first, then cluster-scoped ones, namespaces last: each group in the order found. */
const deletionOrder = (leftovers: ReadonlyArray<Leftover>): ReadonlyArray<Leftover> => {
  const rank = (leftover: Leftover) => (leftover.ref.kind === "Namespace" ? 2 : leftover.ref.namespace === undefined ? 1 : 0)
  return leftovers.map((leftover, index) => ({ leftover, index }))
    .sort((a, b) => rank(a.leftover) - rank(b.leftover) || a.index - b.index)
    .map(({ leftover }) => leftover)
}

const usage = (message: string) =>
  Effect.sync(() => {
    Output.stderr(`error: ${message}\nusage: aicr cleanup (--run <run ID> | --stale) [--yes] [--kubeconfig FILE] [--context NAME] [--timeout 2m]\n`)
    return ExitCode.InvalidInput
  })

const parseTimeout = (text: string | undefined): Duration.Duration | undefined => {
  if (text === undefined) return Duration.minutes(2)
  const match = /^(\d+)(ms|s|m|h)$/.exec(text.trim())
  if (match === null) return undefined
  const value = Number(match[1])
  return match[2] === "ms" ? Duration.millis(value) : match[2] === "s" ? Duration.seconds(value) : match[2] === "m" ? Duration.minutes(value) : Duration.hours(value)
}

/**
 * `aicr cleanup`: finds the objects of a run (`--run`) or of every run whose process is gone (`--stale`) from the
 * run ledger and from the run-id labels on the cluster, lists them, and with `--yes` deletes them and waits until
 * they are gone. Exit 0 when nothing is left, 1 when something remains (listed), 2 for usage errors.
 */
export const cleanup = (options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    if ((options.run === undefined) === !options.stale) return yield* usage("give exactly one of --run <run ID> and --stale")
    if (options.run !== undefined && !RunContext.isRunId(options.run)) {
      return yield* usage(`"${options.run}" is not a run ID: expected YYYYMMDD-HHMMSS-<16 hex>, as printed by aicr validate`)
    }
    const timeout = parseTimeout(options.timeout)
    if (timeout === undefined) return yield* usage(`--timeout "${options.timeout}" is not a duration such as 90s, 2m or 1h`)

    const ledgerContext = yield* Effect.result(Layer.build(options.ledger ?? Ledger.Ledger.layer))
    if (ledgerContext._tag === "Failure") return yield* usage(`cannot find the run ledger's directory: ${String(ledgerContext.failure)}`)
    const ledger = Context.get(ledgerContext.success, Ledger.Ledger)
    const connection = yield* Effect.result(Layer.build(options.kube ?? KubeClientLive.layerFromKubeconfig({ kubeconfig: options.kubeconfig, context: options.context })))
    if (connection._tag === "Failure") return yield* usage(connection.failure.message)
    const kube = Context.get(connection.success, KubeClient)

    const problems: Array<string> = []
    const runs = yield* Effect.result(ledger.runs())
    if (runs._tag === "Failure") problems.push(runs.failure.message)
    const known = runs._tag === "Success" ? runs.success : []

    const targets = new Set<string>()
    if (options.run !== undefined) targets.add(options.run)
    else {
      for (const run of known) if (!run.alive) targets.add(run.runId)
      const live = known.filter((run) => run.alive)
      for (const run of live) Output.stderr(`run ${run.runId}: still running (pid ${run.pid ?? "?"} on ${run.host ?? "?"}), left alone\n`)
    }

    const found = new Map<string, { ref: ObjectRef; runId: string; sources: Set<"ledger" | "label"> }>()
    const add = (ref: ObjectRef, runId: string, source: "ledger" | "label") => {
      const key = keyOf(ref)
      const entry = found.get(key) ?? { ref, runId, sources: new Set<"ledger" | "label">() }
      entry.sources.add(source)
      found.set(key, entry)
    }

    const kinds = new Map(KINDS.map((kind) => [`${kind.apiVersion}|${kind.kind}`, kind]))
    for (const runId of [...targets].sort()) {
      if (!known.some((run) => run.runId === runId)) {
        Output.stderr(`run ${runId}: not in the ledger at ${ledger.directory}; searching the cluster by its label\n`)
        continue
      }
      const read = yield* Effect.result(ledger.read(runId))
      if (read._tag === "Failure") {
        problems.push(read.failure.message)
        continue
      }
      for (const problem of read.success.problems) Output.stderr(`warning: ${Ledger.formatProblem(problem)}\n`)
      for (const object of Ledger.outstanding(read.success.entries)) {
        const ref: ObjectRef = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.namespace, name: object.name }
        kinds.set(`${ref.apiVersion}|${ref.kind}`, { apiVersion: ref.apiVersion, kind: ref.kind })
        add(ref, runId, "ledger")
      }
    }

    const others = new Map<string, number>()
    for (const kind of kinds.values()) {
      const served = yield* Effect.result(kube.isServed(kind.apiVersion, kind.kind))
      if (served._tag === "Failure") {
        problems.push(`could not tell whether ${kind.kind} (${kind.apiVersion}) is served: ${served.failure.message}`)
        continue
      }
      if (!served.success) continue
      const listed = yield* Effect.result(
        Stream.runForEach(
          kube.listStream({ apiVersion: kind.apiVersion, kind: kind.kind, labels: { [RunContext.LABEL_MANAGED_BY]: "aicr" } }),
          (object) =>
            Effect.sync(() => {
              const runId = object.metadata.labels?.[RunContext.LABEL_RUN_ID]
              if (runId === undefined) return
              if (targets.has(runId)) add(refOf(object), runId, "label")
              else if (!known.some((run) => run.runId === runId && run.alive)) others.set(runId, (others.get(runId) ?? 0) + 1)
            })
        )
      )
      if (listed._tag === "Failure") problems.push(`could not search ${kind.kind} objects: ${listed.failure.message}`)
    }

    const exists = (ref: ObjectRef, runId: string): Effect.Effect<"absent" | "ours" | "foreign", KubeError> =>
      Effect.matchEffect(kube.get(ref), {
        onFailure: (error) => (error.reason === "NotFound" ? Effect.succeed("absent" as const) : Effect.fail(error)),
        onSuccess: (object) => Effect.succeed(object.metadata.labels?.[RunContext.LABEL_RUN_ID] === runId ? "ours" as const : "foreign" as const)
      })

    const leftovers: Array<Leftover> = []
    for (const entry of found.values()) {
      if (entry.sources.has("label")) {
        leftovers.push(entry)
        continue
      }
      const state = yield* Effect.result(exists(entry.ref, entry.runId))
      if (state._tag === "Failure") {
        problems.push(`could not look up ${describe(entry.ref)}: ${state.failure.message}`)
        leftovers.push(entry)
      } else if (state.success === "absent") {
        yield* Effect.ignore(ledger.deleted(entry.runId, entry.ref))
      } else if (state.success === "foreign") {
        Output.stderr(`${describe(entry.ref)}: recorded by run ${entry.runId} but the object there now belongs to no run or another run; left alone\n`)
        yield* Effect.ignore(ledger.deleted(entry.runId, entry.ref))
      } else leftovers.push(entry)
    }

    for (const [runId, count] of [...others].sort()) {
      Output.stderr(`run ${runId}: ${count} object${count === 1 ? "" : "s"} on the cluster but not a stale run of this machine's ledger; remove with aicr cleanup --run ${runId}\n`)
    }

    const ordered = deletionOrder(leftovers)
    const byRun = new Map<string, Array<Leftover>>()
    for (const leftover of ordered) byRun.set(leftover.runId, [...(byRun.get(leftover.runId) ?? []), leftover])
    for (const [runId, objects] of byRun) {
      Output.stdout(`run ${runId}: ${objects.length} object${objects.length === 1 ? "" : "s"}\n`)
      for (const object of objects) Output.stdout(`  ${describe(object.ref)} (${[...object.sources].sort().join(", ")})\n`)
    }

    const finishRuns = (runIds: Iterable<string>) =>
      Effect.forEach([...runIds], (runId) => (known.some((run) => run.runId === runId && !run.finished) ? Effect.ignore(ledger.finish(runId)) : Effect.void), { discard: true })

    if (ordered.length === 0) {
      for (const problem of problems) Output.stderr(`error: ${problem}\n`)
      if (problems.length > 0) return 1
      yield* finishRuns(targets)
      Output.stdout(targets.size === 0 ? "no stale runs\n" : "nothing is left\n")
      return ExitCode.Success
    }
    if (!options.yes) {
      for (const problem of problems) Output.stderr(`error: ${problem}\n`)
      Output.stdout(`${ordered.length} object${ordered.length === 1 ? "" : "s"} would be deleted; run again with --yes to delete them\n`)
      return 1
    }

    const remaining: Array<string> = []
    for (const leftover of ordered) {
      const deleted = yield* Effect.exit(kube.delete(leftover.ref, { propagation: "Foreground" }))
      if (Exit.isFailure(deleted)) {
        const error = Exit.findErrorOption(deleted)
        remaining.push(`${describe(leftover.ref)}: ${error._tag === "Some" ? error.value.message : "delete failed"}`)
        continue
      }
      Output.stdout(`deleting ${describe(leftover.ref)}\n`)
    }
    const waited = yield* Effect.forEach(
      ordered.filter((leftover) => !remaining.some((line) => line.startsWith(`${describe(leftover.ref)}:`))),
      (leftover) =>
        Effect.map(Effect.exit(kube.waitFor(leftover.ref, (object) => object === undefined, { timeout, description: "to be deleted" })), (exit) => ({ leftover, exit })),
      { concurrency: 8 }
    )
    for (const { leftover, exit } of waited) {
      if (Exit.isSuccess(exit)) {
        yield* Effect.ignore(ledger.deleted(leftover.runId, leftover.ref))
        continue
      }
      const error = Exit.findErrorOption(exit)
      remaining.push(`${describe(leftover.ref)}: ${error._tag === "Some" ? error.value.message : "still present"}`)
    }
    for (const problem of problems) Output.stderr(`error: ${problem}\n`)
    if (remaining.length > 0) {
      Output.stderr(`${remaining.length} object${remaining.length === 1 ? "" : "s"} remain:\n${remaining.map((line) => `  ${line}\n`).join("")}`)
      return 1
    }
    if (problems.length > 0) return 1
    yield* finishRuns(byRun.keys())
    Output.stdout(`deleted ${ordered.length} object${ordered.length === 1 ? "" : "s"}; nothing is left\n`)
    return ExitCode.Success
  }))
