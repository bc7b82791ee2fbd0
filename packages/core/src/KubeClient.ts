/**
 * The Kubernetes access a plugin may use, as an Effect service.
 *
 * Details: this version defines the service tag, the error type and two layers: `layerTest` (an in-memory
 * object store for plugin tests) and `layerUnavailable` (every call fails with reason `Unavailable`, used where
 * no cluster connection exists). The implementation over `@kubernetes/client-node` lands with the kube layer.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Why a Kubernetes call failed, read from the HTTP status of the API server's answer. */
export type Reason =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Invalid"
  | "Unauthorized"
  | "Forbidden"
  | "Gone"
  | "TooManyRequests"
  | "Unavailable"
  | "Timeout"
  | "Unknown"

/** Maps an HTTP status of the Kubernetes API to a `Reason`. */
export const reasonFromStatus = (status: number): Reason => {
  switch (status) {
    case 404:
      return "NotFound"
    case 409:
      return "Conflict"
    case 422:
    case 400:
      return "Invalid"
    case 401:
      return "Unauthorized"
    case 403:
      return "Forbidden"
    case 410:
      return "Gone"
    case 429:
      return "TooManyRequests"
    case 502:
    case 503:
      return "Unavailable"
    case 504:
      return "Timeout"
    default:
      return "Unknown"
  }
}

/** A failed Kubernetes call: its reason, a message, and the object it concerned (`kind ns/name`). */
export class KubeError extends Data.TaggedError("KubeError")<{
  readonly reason: Reason
  readonly message: string
  readonly object?: string | undefined
}> {}

/** A reference to one object: API version, kind, namespace (absent for cluster-scoped kinds) and name. */
export interface ObjectRef {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace?: string | undefined
  readonly name: string
}

/** A Kubernetes object as JSON. */
export interface KubeObject {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: {
    readonly name: string
    readonly namespace?: string | undefined
    readonly labels?: Readonly<Record<string, string>> | undefined
    readonly [key: string]: unknown
  }
  readonly [key: string]: unknown
}

/** What to list: API version and kind, optionally a namespace and an equality label selector. */
export interface ListQuery {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace?: string | undefined
  readonly labels?: Readonly<Record<string, string>> | undefined
}

/** Renders an object reference as `Kind ns/name` for messages. */
export const describe = (ref: ObjectRef): string =>
  `${ref.kind} ${ref.namespace === undefined ? "" : `${ref.namespace}/`}${ref.name}`

const refOf = (object: KubeObject): ObjectRef => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  namespace: object.metadata.namespace,
  name: object.metadata.name
})

/** The Kubernetes client service. */
export class KubeClient extends Context.Service<KubeClient, {
  readonly get: (ref: ObjectRef) => Effect.Effect<KubeObject, KubeError>
  readonly list: (query: ListQuery) => Effect.Effect<ReadonlyArray<KubeObject>, KubeError>
  readonly create: (object: KubeObject) => Effect.Effect<KubeObject, KubeError>
  readonly delete: (ref: ObjectRef) => Effect.Effect<void, KubeError>
}>()("@aicr/core/KubeClient") {
  /** An in-memory store seeded with `objects`: create fails on duplicates, delete is idempotent. */
  static readonly layerTest = (objects: ReadonlyArray<KubeObject> = []) =>
    Layer.sync(KubeClient, () => {
      const store = new Map<string, KubeObject>()
      const keyOf = (ref: ObjectRef) => `${ref.apiVersion}|${ref.kind}|${ref.namespace ?? ""}|${ref.name}`
      for (const object of objects) store.set(keyOf(refOf(object)), object)
      return KubeClient.of({
        get: (ref) =>
          Effect.suspend(() => {
            const found = store.get(keyOf(ref))
            return found === undefined
              ? Effect.fail(new KubeError({ reason: "NotFound", message: `${describe(ref)} not found`, object: describe(ref) }))
              : Effect.succeed(found)
          }),
        list: (query) =>
          Effect.sync(() =>
            [...store.values()].filter((object) =>
              object.apiVersion === query.apiVersion &&
              object.kind === query.kind &&
              (query.namespace === undefined || object.metadata.namespace === query.namespace) &&
              Object.entries(query.labels ?? {}).every(([key, value]) => object.metadata.labels?.[key] === value)
            )
          ),
        create: (object) =>
          Effect.suspend(() => {
            const key = keyOf(refOf(object))
            if (store.has(key)) {
              const name = describe(refOf(object))
              return Effect.fail(new KubeError({ reason: "AlreadyExists", message: `${name} already exists`, object: name }))
            }
            store.set(key, object)
            return Effect.succeed(object)
          }),
        delete: (ref) => Effect.sync(() => void store.delete(keyOf(ref)))
      })
    })

  /** Every call fails with reason `Unavailable` and `message`: for runs with no cluster connection. */
  static readonly layerUnavailable = (message: string) =>
    Layer.succeed(
      KubeClient,
      KubeClient.of({
        get: (ref) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(ref) })),
        list: () => Effect.fail(new KubeError({ reason: "Unavailable", message })),
        create: (object) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(refOf(object)) })),
        delete: (ref) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(ref) }))
      })
    )
}
