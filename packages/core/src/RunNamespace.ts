/**
 * What a validator does before it creates its run namespace: make sure no live namespace of the same name is
 * adopted (a terminating one of an earlier run with the same run ID is waited out), and read the `--image-pull-secret`
 * Secrets it will copy into it. Both fail with a `RunNamespaceError` whose message says what to do.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { KubeClient, type KubeObject, type ObjectRef } from "./KubeClient.ts"
import { RunContext } from "./RunContext.ts"

export class RunNamespaceError extends Data.TaggedError("RunNamespaceError")<{ readonly message: string }> {}

const fail = (message: string) => Effect.fail(new RunNamespaceError({ message }))

/**
 * Succeeds when namespace `name` does not exist, after waiting up to `waitMs` for a terminating one to go. An active
 * namespace of that name is never adopted: the caller must not create into someone else's objects.
 */
export const ensureFresh = <R = never>(name: string, waitMs: number, onWait: (message: string) => Effect.Effect<void, never, R> = () => Effect.void) =>
  Effect.gen(function*() {
    const kube = yield* KubeClient
    const ref: ObjectRef = { apiVersion: "v1", kind: "Namespace", name }
    const existing = yield* Effect.result(kube.get(ref))
    if (existing._tag === "Failure") {
      if (existing.failure.reason === "NotFound") return
      return yield* fail(`cannot read namespace ${name}: ${existing.failure.message}`)
    }
    if ((existing.success.metadata as { deletionTimestamp?: string }).deletionTimestamp === undefined) {
      return yield* fail(
        `namespace ${name} already exists and is not terminating; refusing to adopt it (an earlier run with the same ` +
          "AICR_RUN_ID? remove it with aicr cleanup)"
      )
    }
    yield* onWait(`namespace ${name} of an earlier run is terminating; waiting until it is gone`)
    yield* kube.waitFor(ref, (object) => object === undefined, { timeout: Duration.millis(waitMs), description: "to be deleted" }).pipe(
      Effect.mapError((error) => new RunNamespaceError({ message: `wait for namespace ${name} to be deleted: ${error.message}` }))
    )
  })

/**
 * The Secrets named by `--image-pull-secret`, read from the run's namespace (`RunContext.namespace`) before anything
 * is created: a missing one ends the check with a message naming it.
 */
export const readPullSecrets: Effect.Effect<ReadonlyArray<KubeObject>, RunNamespaceError, KubeClient | RunContext> = Effect.gen(function*() {
  const run = yield* RunContext
  const kube = yield* KubeClient
  return yield* Effect.forEach(run.imagePullSecrets, (name) =>
    kube.get({ apiVersion: "v1", kind: "Secret", namespace: run.namespace, name }).pipe(
      Effect.catchTag("KubeError", (error) =>
        fail(
          error.reason === "NotFound"
            ? `the image pull secret ${name} (--image-pull-secret) is not in namespace ${run.namespace}; create it there or leave out the flag (nothing was created)`
            : `cannot read the image pull secret ${run.namespace}/${name} (--image-pull-secret): ${error.message}`
        ))
    ))
})

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** A copy of a pull Secret for `namespace`: its type and data, the run's labels, nothing of the original's metadata. */
export const pullSecretCopy = (source: KubeObject, namespace: string, labels: Readonly<Record<string, string>>): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: source.metadata.name, namespace, labels: { ...labels } },
  ...(typeof source["type"] === "string" ? { type: source["type"] } : {}),
  ...(isRecord(source["data"]) ? { data: { ...source["data"] } } : {})
})
