/**
 * `acquire`: the only way a validator creates a Kubernetes object. It labels the object with the run's labels,
 * records it in the run ledger, creates it, and registers its release in the same uninterruptible step.
 *
 * Details: the release is registered before the create is sent, so no window exists in which the object could be
 * on the cluster without a release. It deletes the object (foreground propagation by default), optionally waits
 * until it is gone, records the deletion, and is bounded by its own timeout; it never fails — a failed release is
 * reported as a `Progress` warning and recorded in the ledger, where `aicr cleanup` finds it. When the API server
 * rejected the create (AlreadyExists, Invalid, Forbidden, …) nothing is deleted; when the answer was lost (a
 * timeout or a broken connection), the release deletes the object only if it carries this run's ID. With
 * `RunContext.keep` (`--keep`) a created object is kept and said so; `aicr cleanup --run` removes it later.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { describe, KubeClient, KubeError, type KubeObject, type Reason, refOf } from "./KubeClient.ts"
import { Progress } from "./Progress.ts"
import { LABEL_RUN_ID, type RecordError, RunContext } from "./RunContext.ts"

export interface Options {
  /**
   * After the delete, wait until the object is gone: `true` within the release, `"after-verdict"` after the check's
   * verdict is reported and before its exclusive resources are released (`RunContext.afterVerdict`); default false.
   */
  readonly waitUntilGone?: boolean | "after-verdict" | undefined
  /** Time allowed for the create (default 60 s). */
  readonly createTimeout?: Duration.Input | undefined
  /** Time allowed for the whole release: the delete and, with `waitUntilGone`, the wait (default 2 min). */
  readonly releaseTimeout?: Duration.Input | undefined
  /** Propagation of the delete (default `Foreground`). */
  readonly propagation?: "Foreground" | "Background" | "Orphan" | undefined
}

/** Answers with which the API server refused a create: the object was not created by this call. */
const REJECTED: ReadonlySet<Reason> = new Set(["AlreadyExists", "Invalid", "Forbidden", "Unauthorized", "NotFound", "Conflict", "TooManyRequests", "Gone"])

type State = "pending" | "created" | "rejected" | "uncertain"

const withLabels = (object: KubeObject, labels: Readonly<Record<string, string>>): KubeObject => ({
  ...object,
  metadata: { ...object.metadata, labels: { ...object.metadata.labels, ...labels } }
})

const message = (error: unknown): string =>
  typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string"
    ? (error as { message: string }).message
    : String(error)

/**
 * Creates `object` with the run's labels and registers its release on the current scope; returns the object as
 * the API server stored it. Fails with the create's `KubeError` (then nothing was created) or when the ledger
 * cannot record the intent (then the create is not sent).
 */
export const acquire = (
  object: KubeObject,
  options: Options = {}
): Effect.Effect<KubeObject, KubeError | RecordError, KubeClient | RunContext | Progress | Scope.Scope> =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const run = yield* RunContext
    const progress = yield* Progress
    const scope = yield* Scope.Scope
    const labelled = withLabels(object, run.labels)
    const ref = refOf(labelled)
    const name = describe(ref)
    const createTimeout = Duration.fromInputUnsafe(options.createTimeout ?? "60 seconds")
    const releaseTimeout = Duration.fromInputUnsafe(options.releaseTimeout ?? "2 minutes")
    let state: State = "pending"

    const warn = (text: string) => progress.emit({ _tag: "warning", check: run.validator, message: text })

    const ours = Effect.map(
      Effect.exit(kube.get(ref)),
      (found) => Exit.isSuccess(found) && found.value.metadata.labels?.[LABEL_RUN_ID] === run.runId
    )

    const untilGone = kube.waitFor(ref, (current) => current === undefined, { timeout: releaseTimeout, description: "to be deleted" })

    const failed = (cause: Cause.Cause<unknown>) => {
      const failure = Cause.findErrorOption(cause)
      const text = `could not delete ${name}: ${Option.isSome(failure) ? message(failure.value) : message(Cause.squash(cause))}`
      return Effect.andThen(warn(`${text} (aicr cleanup --run ${run.runId} removes it)`), Effect.ignore(run.recorder.releaseFailed(ref, text)))
    }

    const release = Effect.gen(function*() {
      if (state === "pending" || state === "rejected") return yield* run.recorder.deleted(ref)
      if (run.keep && state === "created") return yield* progress.emit({ _tag: "note", check: run.validator ?? "aicr", message: `kept ${name} (--keep)` })
      if (state === "uncertain" && !(yield* ours)) return yield* run.recorder.deleted(ref)
      yield* kube.delete(ref, { propagation: options.propagation ?? "Foreground" })
      if (options.waitUntilGone === "after-verdict") {
        return yield* run.afterVerdict(Effect.andThen(untilGone, run.recorder.deleted(ref)).pipe(Effect.catchCause(failed)))
      }
      if (options.waitUntilGone === true) yield* untilGone
      yield* run.recorder.deleted(ref)
    }).pipe(
      Effect.timeoutOption(releaseTimeout),
      Effect.flatMap(Option.match({
        onNone: () => Effect.fail(new KubeError({ reason: "Timeout", message: `releasing ${name} took longer than ${Duration.format(releaseTimeout)}`, object: name })),
        onSome: () => Effect.void
      })),
      Effect.catchCause(failed)
    )

    return yield* Effect.uninterruptible(Effect.gen(function*() {
      yield* run.recorder.intent(labelled)
      yield* Scope.addFinalizer(scope, release)
      const created = yield* kube.create(labelled).pipe(
        Effect.timeoutOption(createTimeout),
        Effect.flatMap(Option.match({
          onNone: () => Effect.fail(new KubeError({ reason: "Timeout", message: `create ${name}: no answer within ${Duration.format(createTimeout)}`, object: name })),
          onSome: Effect.succeed
        })),
        Effect.tapError((error) => Effect.sync(() => void (state = REJECTED.has(error.reason) ? "rejected" : "uncertain")))
      )
      state = "created"
      yield* run.recorder.created(created).pipe(Effect.catch((error) => warn(`the run ledger did not record ${name} as created: ${error.message}`)))
      return created
    }))
  })
