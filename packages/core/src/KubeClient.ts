/**
 * The Kubernetes access a plugin may use, as an Effect service: get, paginated list, create, delete, watch-driven
 * `waitFor`, pod logs, HTTP through the service proxy and "is this kind served?".
 *
 * Details: this module defines the service tag, the error types and two layers: `layerTest` (an in-memory object
 * store for plugin tests; `waitFor` wakes on its changes, logs and proxy come from optional handlers) and
 * `layerUnavailable` (every call fails with reason `Unavailable`). The layer over a real API server is
 * `KubeClientLive.layerFromKubeconfig`. Objects are created only through `Acquire.acquire`, which records and
 * releases them.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

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

/** `waitFor` reached its deadline: what it waited for, how long, and the last object it observed (absent: never seen). */
export class WaitTimeout extends Data.TaggedError("WaitTimeout")<{
  readonly message: string
  readonly object: string
  readonly last: KubeObject | undefined
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

/** Options of a paginated list. */
export interface ListOptions {
  /** Page size (default 500). */
  readonly limit?: number | undefined
}

/** Options of a delete. */
export interface DeleteOptions {
  /** Propagation policy (default `Foreground`: dependents go first). */
  readonly propagation?: "Foreground" | "Background" | "Orphan" | undefined
}

/** Options of `waitFor`. */
export interface WaitOptions {
  /** How long to wait before failing with `WaitTimeout`. */
  readonly timeout: Duration.Input
  /** What is awaited, for the timeout message (e.g. "to become Ready"). */
  readonly description?: string | undefined
}

/** Options of a pod log read. */
export interface LogOptions {
  readonly container?: string | undefined
  /** Only the last N lines. */
  readonly tailLines?: number | undefined
  /** At most this many bytes (the API server cuts the log there). */
  readonly limitBytes?: number | undefined
  /** Keep the stream open and deliver new output as it is written, until the container ends or the stream is cancelled. */
  readonly follow?: boolean | undefined
  /** The log of the previous (restarted) container. */
  readonly previous?: boolean | undefined
}

/** A request through the API server's service proxy (`/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/{path}`). */
export interface ProxyRequest {
  readonly namespace: string
  readonly service: string
  /** The service port's name or number. */
  readonly port: string | number
  /** The path on the service, starting with `/`; may carry a query string. */
  readonly path: string
  readonly method?: "GET" | "POST" | "PUT" | "DELETE" | undefined
  /** A JSON body (sent with `Content-Type: application/json`). */
  readonly json?: unknown
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Time allowed until the response headers arrive (default 30 s); the body stream itself is not bounded. */
  readonly timeout?: Duration.Input | undefined
}

/** A proxied response: status, lower-cased headers, and the body as a stream that lives as long as the scope. */
export interface ProxyResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: Stream.Stream<Uint8Array, KubeError>
}

/** Renders an object reference as `Kind ns/name` for messages. */
export const describe = (ref: ObjectRef): string =>
  `${ref.kind} ${ref.namespace === undefined ? "" : `${ref.namespace}/`}${ref.name}`

/** The reference of an object. */
export const refOf = (object: KubeObject): ObjectRef => ({
  apiVersion: object.apiVersion,
  kind: object.kind,
  namespace: object.metadata.namespace,
  name: object.metadata.name
})

/** The Kubernetes client service. */
export class KubeClient extends Context.Service<KubeClient, {
  readonly get: (ref: ObjectRef) => Effect.Effect<KubeObject, KubeError>
  /** Every matching object, all pages collected. Prefer `listStream` for large lists. */
  readonly list: (query: ListQuery) => Effect.Effect<ReadonlyArray<KubeObject>, KubeError>
  /** Every matching object, page by page (default 500); a 410 on a `continue` token restarts after the last object seen. */
  readonly listStream: (query: ListQuery, options?: ListOptions) => Stream.Stream<KubeObject, KubeError>
  /** Creates the object; never retried blindly. Validators create through `Acquire.acquire`, not directly. */
  readonly create: (object: KubeObject) => Effect.Effect<KubeObject, KubeError>
  /** Deletes (foreground propagation by default); a missing object is success. */
  readonly delete: (ref: ObjectRef, options?: DeleteOptions) => Effect.Effect<void, KubeError>
  /**
   * Waits until `predicate` holds for the object (`undefined` while it does not exist): lists it, then watches from
   * the list's resourceVersion, resumes a dropped watch from the last resourceVersion seen, re-lists only on 410.
   * Returns the object that satisfied the predicate (`undefined` when absence did).
   */
  readonly waitFor: (
    ref: ObjectRef,
    predicate: (object: KubeObject | undefined) => boolean,
    options: WaitOptions
  ) => Effect.Effect<KubeObject | undefined, KubeError | WaitTimeout>
  /**
   * Waits until `select` picks an object among those the query matches (namespace and label selector), watching the
   * collection the same way as `waitFor`; the timeout carries the newest matching object seen.
   */
  readonly waitForMatch: (
    query: ListQuery,
    select: (objects: ReadonlyArray<KubeObject>) => KubeObject | undefined,
    options: WaitOptions
  ) => Effect.Effect<KubeObject, KubeError | WaitTimeout>
  /** A pod's log as text chunks; cancelling the stream (also while following) never fails. */
  readonly logs: (pod: { readonly namespace: string; readonly name: string }, options?: LogOptions) => Stream.Stream<string, KubeError>
  /** HTTP through the service proxy; the response body is released with the scope. Non-2xx statuses are returned, not failed. */
  readonly proxy: (request: ProxyRequest) => Effect.Effect<ProxyResponse, KubeError, Scope.Scope>
  /** Whether the API server serves `kind` in `apiVersion`: false only when the group-version or the kind is absent (NotFound); Forbidden, timeouts and other errors fail. */
  readonly isServed: (apiVersion: string, kind: string) => Effect.Effect<boolean, KubeError>
}>()("@aicr/core/KubeClient") {
  /**
   * An in-memory store seeded with `objects`: create fails on duplicates (and sets `metadata.resourceVersion`),
   * delete is idempotent, `waitFor` re-checks on every change, `isServed` answers from `served` (default: every
   * apiVersion/kind of the seed objects and of created objects, plus core kinds). Logs and proxy answer from the
   * handlers given, else fail NotFound.
   */
  static readonly layerTest = (objects: ReadonlyArray<KubeObject> = [], handlers: TestHandlers = {}) =>
    Layer.effect(KubeClient, Effect.map(makeTest(objects, handlers), (store) => store.client))

  /** Every call fails with reason `Unavailable` and `message`: for runs with no cluster connection. */
  static readonly layerUnavailable = (message: string) =>
    Layer.succeed(
      KubeClient,
      KubeClient.of({
        get: (ref) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(ref) })),
        list: () => Effect.fail(new KubeError({ reason: "Unavailable", message })),
        listStream: () => Stream.fail(new KubeError({ reason: "Unavailable", message })),
        create: (object) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(refOf(object)) })),
        delete: (ref) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(ref) })),
        waitFor: (ref) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: describe(ref) })),
        waitForMatch: (query) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: query.kind })),
        logs: (pod) => Stream.fail(new KubeError({ reason: "Unavailable", message, object: `Pod ${pod.namespace}/${pod.name}` })),
        proxy: (request) => Effect.fail(new KubeError({ reason: "Unavailable", message, object: `Service ${request.namespace}/${request.service}` })),
        isServed: () => Effect.fail(new KubeError({ reason: "Unavailable", message }))
      })
    )
}

/** What `layerTest` answers for logs and the service proxy. */
export interface TestHandlers {
  readonly logs?: ((pod: { readonly namespace: string; readonly name: string }, options: LogOptions) => string | undefined) | undefined
  readonly proxy?: ((request: ProxyRequest) => { readonly status: number; readonly body: string; readonly headers?: Record<string, string> } | undefined) | undefined
  /** `apiVersion|kind` pairs served in addition to those of the objects. */
  readonly served?: ReadonlyArray<string> | undefined
}

const CORE_KINDS = ["v1|Pod", "v1|Service", "v1|ConfigMap", "v1|Secret", "v1|Namespace", "v1|Node", "v1|ServiceAccount", "batch/v1|Job"]

const matchesQuery = (object: KubeObject, query: ListQuery): boolean =>
  object.apiVersion === query.apiVersion &&
  object.kind === query.kind &&
  (query.namespace === undefined || object.metadata.namespace === query.namespace) &&
  Object.entries(query.labels ?? {}).every(([key, value]) => object.metadata.labels?.[key] === value)

const makeTest = (objects: ReadonlyArray<KubeObject>, handlers: TestHandlers): Effect.Effect<TestStore> =>
  Effect.sync(() => {
    const store = new Map<string, KubeObject>()
    const served = new Set([...CORE_KINDS, ...(handlers.served ?? [])])
    const waiters = new Set<() => void>()
    let version = 0
    const keyOf = (ref: ObjectRef) => `${ref.apiVersion}|${ref.kind}|${ref.namespace ?? ""}|${ref.name}`
    const stamp = (object: KubeObject): KubeObject => {
      version += 1
      return { ...object, metadata: { ...object.metadata, resourceVersion: String(version) } }
    }
    const changed = () => {
      for (const wake of [...waiters]) wake()
    }
    for (const object of objects) {
      store.set(keyOf(refOf(object)), stamp(object))
      served.add(`${object.apiVersion}|${object.kind}`)
    }
    const notFound = (what: string) => new KubeError({ reason: "NotFound", message: `${what} not found`, object: what })
    const list = (query: ListQuery) => Effect.sync(() => [...store.values()].filter((object) => matchesQuery(object, query)))
    const waitFor = (ref: ObjectRef, predicate: (object: KubeObject | undefined) => boolean, options: WaitOptions) => {
      const check = Effect.sync(() => {
        const current = store.get(keyOf(ref))
        return { done: predicate(current), current }
      })
      const loop: Effect.Effect<KubeObject | undefined> = Effect.flatMap(check, ({ done, current }) =>
        done
          ? Effect.succeed(current)
          : Effect.flatMap(
            Effect.callback<void>((resume) => {
              const wake = () => {
                waiters.delete(wake)
                resume(Effect.void)
              }
              waiters.add(wake)
              return Effect.sync(() => void waiters.delete(wake))
            }),
            () => loop
          ))
      const timeout = Duration.fromInputUnsafe(options.timeout)
      return loop.pipe(
        Effect.timeoutOption(timeout),
        Effect.flatMap((result) =>
          result._tag === "Some"
            ? Effect.succeed(result.value)
            : Effect.fail(
              new WaitTimeout({
                message: `timed out after ${Duration.format(timeout)} waiting for ${describe(ref)}${options.description === undefined ? "" : ` ${options.description}`}`,
                object: describe(ref),
                last: store.get(keyOf(ref))
              })
            ))
      )
    }
    const waitForMatch = (query: ListQuery, select: (objects: ReadonlyArray<KubeObject>) => KubeObject | undefined, options: WaitOptions) => {
      let picked: KubeObject | undefined
      const name = `${query.kind}s${query.namespace === undefined ? "" : ` in ${query.namespace}`}`
      return Effect.flatMap(
        Effect.result(waitFor({ apiVersion: query.apiVersion, kind: query.kind, namespace: query.namespace, name }, () => {
          picked = select([...store.values()].filter((object) => matchesQuery(object, query)))
          return picked !== undefined
        }, options)),
        (result) =>
          result._tag === "Success" && picked !== undefined
            ? Effect.succeed(picked)
            : Effect.fail(result._tag === "Failure" ? result.failure : new WaitTimeout({ message: `no ${name} matched`, object: name, last: undefined }))
      )
    }
    const client = KubeClient.of({
      get: (ref) =>
        Effect.suspend(() => {
          const found = store.get(keyOf(ref))
          return found === undefined ? Effect.fail(notFound(describe(ref))) : Effect.succeed(found)
        }),
      list,
      listStream: (query) => Stream.unwrap(Effect.map(list(query), Stream.fromIterable)),
      create: (object) =>
        Effect.suspend(() => {
          const key = keyOf(refOf(object))
          if (store.has(key)) {
            const name = describe(refOf(object))
            return Effect.fail(new KubeError({ reason: "AlreadyExists", message: `${name} already exists`, object: name }))
          }
          const stored = stamp(object)
          store.set(key, stored)
          served.add(`${object.apiVersion}|${object.kind}`)
          changed()
          return Effect.succeed(stored)
        }),
      delete: (ref) =>
        Effect.sync(() => {
          if (store.delete(keyOf(ref))) changed()
        }),
      waitFor,
      waitForMatch,
      logs: (pod, options = {}) =>
        Stream.suspend(() => {
          const text = handlers.logs?.(pod, options)
          return text === undefined ? Stream.fail(notFound(`Pod ${pod.namespace}/${pod.name}`)) : Stream.make(text)
        }),
      proxy: (request) =>
        Effect.suspend(() => {
          const answer = handlers.proxy?.(request)
          if (answer === undefined) return Effect.fail(notFound(`Service ${request.namespace}/${request.service}`))
          const headers = Object.fromEntries(Object.entries(answer.headers ?? {}).map(([key, value]) => [key.toLowerCase(), value]))
          return Effect.succeed({ status: answer.status, headers, body: Stream.make(new TextEncoder().encode(answer.body)) })
        }),
      isServed: (apiVersion, kind) => Effect.sync(() => served.has(`${apiVersion}|${kind}`))
    })
    const put = (object: KubeObject): Effect.Effect<KubeObject> =>
      Effect.sync(() => {
        const stored = stamp(object)
        store.set(keyOf(refOf(object)), stored)
        served.add(`${object.apiVersion}|${object.kind}`)
        changed()
        return stored
      })
    const remove = (ref: ObjectRef): Effect.Effect<void> =>
      Effect.sync(() => {
        if (store.delete(keyOf(ref))) changed()
      })
    return { client, put, remove } satisfies TestStore
  })

/** The in-memory store behind `layerTest`, with the writes a controller would make (for plugin tests). */
export interface TestStore {
  readonly client: KubeClient["Service"]
  /** Creates or replaces the object (as a controller's status write would) and wakes `waitFor`. */
  readonly put: (object: KubeObject) => Effect.Effect<KubeObject>
  /** Removes the object if present and wakes `waitFor`. */
  readonly remove: (ref: ObjectRef) => Effect.Effect<void>
}

/** Builds an in-memory store: use `client` as the `KubeClient` and `put` / `remove` to play the cluster's controllers. */
export const makeTestStore = (objects: ReadonlyArray<KubeObject> = [], handlers: TestHandlers = {}): Effect.Effect<TestStore> =>
  makeTest(objects, handlers)
