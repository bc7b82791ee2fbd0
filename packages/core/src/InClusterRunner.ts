/**
 * The in-cluster runner (docs/adr/0005): every check that runs becomes a Job in the validation namespace running
 * `aicr check <name>` from the validator image, with the same phases, concurrency and `gpu` exclusivity as the
 * local runner (it is the local runner's scheduling with another {@link Runner.Execute}).
 *
 * `prepare` creates, in the caller's scope and in this order, the validation namespace when absent (never
 * deleted: it is shared, as upstream), the run's input ConfigMap, its ServiceAccount, ClusterRole and
 * ClusterRoleBinding — each through `acquire`, so they are released in reverse: the binding before the role before
 * the account, all after the Jobs. A failure while preparing releases what was created at once. The execution of a
 * check creates its Job (released with its pods gone before the next exclusive check starts and before any RBAC is
 * revoked), watches it until it ends (its timeout plus a buffer; a pod that cannot pull its image ends it early),
 * reads the outcome record from the log, else from the termination message, and keeps the last log lines. No
 * record is never a verdict: it is *inconclusive*, with the pod's reason.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { acquire } from "./Acquire.ts"
import * as CheckInput from "./CheckInput.ts"
import * as CheckRecord from "./CheckRecord.ts"
import * as InCluster from "./InCluster.ts"
import { KubeClient, type KubeObject } from "./KubeClient.ts"
import type * as Plan from "./Plan.ts"
import * as Progress from "./Progress.ts"
import * as Rbac from "./Rbac.ts"
import { RunContext } from "./RunContext.ts"
import * as Runner from "./Runner.ts"

/** The runner could not prepare: nothing it created is left; `exitCode` 2 when the inputs are at fault. */
export class InClusterError extends Data.TaggedError("InClusterError")<{ readonly message: string; readonly exitCode?: number | undefined }> {}

const fail = (message: string, exitCode?: number) => Effect.fail(new InClusterError({ message, exitCode }))

/** What `prepare` gives: the execution of a check as a Job, the ClusterRole's rules, and the per-run names. */
export interface Prepared {
  readonly execute: Runner.Execute
  readonly rules: ReadonlyArray<Rbac.Rule>
  readonly names: ReturnType<typeof Rbac.names>
}

/**
 * The variables of this process the checks read as knobs: every `AICR_*` except the runner's own (image
 * resolution, state) and those the Job sets itself.
 */
export const forwardedEnv = (env: Readonly<Record<string, string | undefined>>): Readonly<Record<string, string>> =>
  Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] =>
      entry[0].startsWith("AICR_") && entry[1] !== undefined && !InCluster.RESERVED_ENV.has(entry[0]) && !NOT_FORWARDED.has(entry[0])
    )
  )

const NOT_FORWARDED = new Set(["AICR_VALIDATOR_IMAGE_REGISTRY", "AICR_VALIDATOR_IMAGE_TAG", "AICR_BUILD_VERSION", "AICR_BUILD_COMMIT", "AICR_COMMIT"])

/** The run's ClusterRoleBinding and ClusterRole when they still exist after the run (a revocation that failed). */
export const unrevoked = (prepared: Prepared) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const left: Array<string> = []
    for (const [kind, name] of [["ClusterRoleBinding", prepared.names.clusterRoleBinding], ["ClusterRole", prepared.names.clusterRole]] as const) {
      const found = yield* Effect.result(kube.get({ apiVersion: Rbac.API_VERSION, kind, name }))
      if (found._tag === "Success" || found.failure.reason !== "NotFound") left.push(`${kind} ${name}`)
    }
    return left
  })

/** What the runner needs besides the plan and the run's `RunContext`. */
export interface Setup {
  /** The validation namespace. */
  readonly namespace: string
  /** The recipe as read, for the checks to decode their constraints from. */
  readonly recipe: { readonly source: string; readonly text: string }
  /** The checks' knobs (e.g. `AICR_NCCL_*`), passed into every Job's environment. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Time beyond a check's timeout to wait for its Job (default 2m30s, upstream's `ValidatorWaitBuffer`). */
  readonly waitBufferMs?: number | undefined
  /** Log lines kept for the report (default 1000). */
  readonly logLines?: number | undefined
  /** Longest kept line (default 512 characters, then `... [truncated N chars]`). */
  readonly maxLineLength?: number | undefined
}

const DEFAULT_WAIT_BUFFER_MS = 150_000
const LOG_LIMIT_BYTES = 16 * 1024 * 1024

/** Waiting reasons that never resolve by themselves: the check ends inconclusive at once. */
const STUCK = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull"])

/** The checks a plan runs (decided to run and implemented by a plugin). */
export const runningChecks = (plan: Plan.Plan): ReadonlyArray<Plan.PlannedCheck & { readonly plugin: NonNullable<Plan.PlannedCheck["plugin"]> }> =>
  plan.phases.flatMap((phase) => phase.checks).filter((check): check is Plan.PlannedCheck & { readonly plugin: NonNullable<Plan.PlannedCheck["plugin"]> } =>
    check.decision._tag === "Run" && check.plugin !== undefined
  )

/** The last `count` lines of a log, each cut to `maxLength` characters. */
export const keepLines = (text: string, count: number, maxLength: number): ReadonlyArray<string> =>
  text.replace(/\n$/, "").split("\n").slice(-count).map((line) =>
    line.length <= maxLength ? line : `${line.slice(0, maxLength)}... [truncated ${line.length - maxLength} chars]`
  )

interface ContainerState {
  readonly name?: string
  readonly state?: {
    readonly waiting?: { readonly reason?: string; readonly message?: string }
    readonly terminated?: { readonly reason?: string; readonly message?: string; readonly exitCode?: number }
  }
}

const containerOf = (pod: KubeObject | undefined): ContainerState | undefined =>
  ((pod?.["status"] as { containerStatuses?: ReadonlyArray<ContainerState> } | undefined)?.containerStatuses ?? [])
    .find((status) => status.name === InCluster.CONTAINER)

const stuckReason = (pod: KubeObject): string | undefined => {
  const waiting = containerOf(pod)?.state?.waiting
  return waiting?.reason !== undefined && STUCK.has(waiting.reason) ? `${waiting.reason}${waiting.message === undefined ? "" : `: ${waiting.message}`}` : undefined
}

const jobCondition = (job: KubeObject | undefined, type: string) =>
  ((job?.["status"] as { conditions?: ReadonlyArray<{ type?: string; status?: string; reason?: string; message?: string }> } | undefined)?.conditions ?? [])
    .find((condition) => condition.type === type && condition.status === "True")

/** Why a pod that left no record ended, for an inconclusive result. */
export const reasonWithoutRecord = (pod: KubeObject | undefined, job: KubeObject | undefined): string => {
  if (pod === undefined) {
    const failed = jobCondition(job, "Failed")
    return failed === undefined ? "the check's pod never appeared" : `the check's Job failed before its pod ran (${failed.reason ?? "Failed"}: ${failed.message ?? ""})`
  }
  const container = containerOf(pod)
  const terminated = container?.state?.terminated
  const deadline = jobCondition(job, "Failed")
  if (terminated?.reason === "OOMKilled") return "the check's container was OOMKilled (it ran out of memory) before it reported an outcome"
  if (deadline?.reason === "DeadlineExceeded") return `the check's Job exceeded its deadline (${deadline.message ?? "activeDeadlineSeconds"}) before the check reported an outcome`
  if (terminated !== undefined) {
    return `the check exited with code ${terminated.exitCode ?? "unknown"}${terminated.reason === undefined ? "" : ` (${terminated.reason})`} without reporting an outcome`
  }
  const stuck = stuckReason(pod)
  if (stuck !== undefined) return `the check's container could not start: ${stuck}`
  const phase = (pod["status"] as { phase?: string } | undefined)?.phase
  return `the check's pod ended in phase ${phase ?? "unknown"} without reporting an outcome`
}

/**
 * Creates the run's shared objects in the caller's scope and returns how to execute a check in the cluster.
 * Fails, having created nothing, when the inputs do not fit in a ConfigMap or a plugin asks for a wildcard.
 */
export const prepare = (plan: Plan.Plan, setup: Setup) =>
  Effect.gen(function*() {
    const run = yield* RunContext
    const kube = yield* KubeClient
    const target: InCluster.Run = { runId: run.runId, namespace: setup.namespace }
    const running = runningChecks(plan)
    const problems = Rbac.wildcardProblems(running.map((check) => check.plugin))
    if (problems.length > 0) return yield* fail(problems.join("; "), 2)
    const rules = Rbac.rulesFor(running.map((check) => check.plugin))
    const inputs = Object.fromEntries(running.map((check) => [
      check.name,
      CheckInput.encode({
        check: check.name,
        phase: check.phase,
        runId: run.runId,
        recipe: setup.recipe,
        images: check.images,
        timeoutMs: check.timeoutMs,
        nodeSelector: run.nodeSelector,
        tolerations: run.userTolerations ?? null,
        imagePullSecrets: run.imagePullSecrets,
        keep: run.keep
      })
    ]))
    const configMap = InCluster.inputConfigMap(target, inputs)
    const tooLarge = InCluster.inputTooLarge(configMap)
    if (tooLarge !== undefined) return yield* fail(tooLarge, 2)

    const existing = yield* Effect.result(kube.get({ apiVersion: "v1", kind: "Namespace", name: setup.namespace }))
    if (existing._tag === "Failure") {
      if (existing.failure.reason !== "NotFound") return yield* fail(`cannot read namespace ${setup.namespace}: ${existing.failure.message}`)
      const created = yield* Effect.result(kube.create(InCluster.namespace(setup.namespace)))
      if (created._tag === "Failure" && created.failure.reason !== "AlreadyExists") {
        return yield* fail(`cannot create the validation namespace ${setup.namespace}: ${created.failure.message}`)
      }
      yield* Progress.note("in-cluster", `created namespace ${setup.namespace} (it stays: it is shared by every run)`)
    }
    const names = Rbac.names(run.runId)
    const step = <A, E, R>(what: string, effect: Effect.Effect<A, E, R>) =>
      Effect.mapError(effect, (error) => new InClusterError({ message: `${what}: ${(error as { message?: string }).message ?? String(error)}` }))
    yield* step("create the input ConfigMap", acquire(configMap))
    yield* step("create the ServiceAccount", acquire(Rbac.serviceAccount(run.runId, setup.namespace)))
    yield* step("create the ClusterRole", acquire(Rbac.clusterRole(run.runId, rules)))
    yield* step("create the ClusterRoleBinding", acquire(Rbac.clusterRoleBinding(run.runId, setup.namespace)))
    yield* Progress.note(
      "in-cluster",
      `namespace ${setup.namespace}: input ConfigMap ${InCluster.inputName(target)}, ServiceAccount and ClusterRole ${names.clusterRole} (${rules.length} rules)`
    )

    const execute: Runner.Execute = (check) => Effect.scoped(executeJob(target, check, names.serviceAccount, setup))
    return { execute, rules, names } satisfies Prepared
  })

const executeJob = (target: InCluster.Run, check: Plan.PlannedCheck, serviceAccount: string, setup: Setup) =>
  Effect.gen(function*() {
    const run = yield* RunContext
    const kube = yield* KubeClient
    const job = InCluster.job(target, {
      check: check.name,
      phase: check.phase,
      image: check.images["validator"] ?? "",
      pullPolicy: check.pullPolicies["validator"] ?? "IfNotPresent",
      timeoutMs: check.timeoutMs,
      serviceAccount,
      imagePullSecrets: run.imagePullSecrets,
      nodeSelector: run.nodeSelector,
      tolerations: run.userTolerations,
      env: setup.env
    })
    const name = job.metadata.name!
    // The release outlasts the pod's grace period, so RBAC is never revoked while the check is still releasing.
    yield* acquire(job, { waitUntilGone: true, releaseTimeout: Duration.seconds(InCluster.TERMINATION_GRACE_SECONDS + 30) }).pipe(
      Effect.mapError((error) => new InClusterError({ message: `create Job ${target.namespace}/${name}: ${error.message}` }))
    )
    yield* Progress.note(check.name, `Job ${target.namespace}/${name} created`)
    const byJob = { apiVersion: "v1", kind: "Pod", namespace: target.namespace, labels: { "batch.kubernetes.io/job-name": name } }
    const wait = Duration.millis(check.timeoutMs + (setup.waitBufferMs ?? DEFAULT_WAIT_BUFFER_MS))
    const finished = kube.waitFor({ apiVersion: "batch/v1", kind: "Job", namespace: target.namespace, name }, (object) =>
      object === undefined || jobCondition(object, "Complete") !== undefined || jobCondition(object, "Failed") !== undefined, { timeout: wait, description: "to finish" }).pipe(
        Effect.map((object) => ({ _tag: "Finished", job: object }) as const)
      )
    const stuck = kube.waitForMatch(byJob, (pods) => pods.find((pod) => stuckReason(pod) !== undefined), { timeout: wait }).pipe(
      Effect.map((pod) => ({ _tag: "Stuck", pod }) as const)
    )
    const ended = yield* Effect.raceFirst(finished, stuck).pipe(
      Effect.catchTag("WaitTimeout", () => Effect.succeed({ _tag: "TimedOut" } as const))
    )
    if (ended._tag === "Stuck") return Runner.verdict("inconclusive", reasonWithoutRecord(ended.pod, undefined))
    if (ended._tag === "Finished" && ended.job === undefined) return Runner.verdict("inconclusive", `the check's Job ${name} was deleted by someone else before it finished`)
    const jobNow = ended._tag === "Finished" ? ended.job : Option.getOrUndefined(yield* Effect.option(kube.get({ apiVersion: "batch/v1", kind: "Job", namespace: target.namespace, name })))
    const pods = yield* kube.list(byJob)
    const pod = pods.at(-1)
    const log = pod === undefined
      ? undefined
      : Option.getOrUndefined(yield* Effect.option(Stream.mkString(kube.logs({ namespace: target.namespace, name: pod.metadata.name! }, { container: InCluster.CONTAINER, limitBytes: LOG_LIMIT_BYTES }))))
    const message = containerOf(pod)?.state?.terminated?.message
    const record = (log === undefined ? undefined : CheckRecord.fromLog(log)) ?? (message === undefined ? undefined : CheckRecord.fromTerminationMessage(message))
    const lines = log === undefined ? [] : keepLines(CheckRecord.withoutRecord(log), setup.logLines ?? 1000, setup.maxLineLength ?? 512)
    const logArtifact = lines.length === 0 ? [] : [{ name: `${check.name}-pod.log`, contentType: "text/plain", content: `${lines.join("\n")}\n` }]
    if (record === undefined) {
      const why = ended._tag === "TimedOut"
        ? `no outcome within ${Duration.format(wait)} (the check's timeout plus ${Duration.format(Duration.millis(setup.waitBufferMs ?? DEFAULT_WAIT_BUFFER_MS))})`
        : reasonWithoutRecord(pod, jobNow)
      const tail = lines.slice(-5).join("\n")
      return { ...Runner.verdict("inconclusive", tail === "" ? why : `${why}; last lines:\n${tail}`), artifacts: logArtifact }
    }
    return { status: record.status, message: record.message, metrics: record.metrics, artifacts: [...record.artifacts, ...logArtifact] } satisfies Runner.Verdict
  })
