/**
 * `waitFor` and `waitForMatch` over the watch API: list the one object (by `metadata.name` field selector) or the
 * objects of a label selector, then watch from the list's resourceVersion. A watch that ends or breaks is reopened from the last resourceVersion seen (bookmarks
 * included) without listing again; only a 410 — as the answer to the watch or as an ERROR event — lists again.
 * The deadline runs on Effect's `Clock`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, KubeError, type KubeObject, type ListQuery, type ObjectRef, reasonFromStatus, type WaitOptions, WaitTimeout } from "../KubeClient.ts"
import { open, parseJson, send, type Transport } from "./kube-http.ts"

/** Where the awaited object lives: its reference (namespace resolved, absent when cluster-scoped) and its collection's path. */
export interface Target {
  readonly ref: ObjectRef
  readonly collection: string
}

/** A collection to watch: its path, the selector sent to the server, and the test an object must pass. */
interface Watched {
  readonly collection: string
  readonly selector: Readonly<Record<string, string>>
  readonly matches: (object: unknown) => object is KubeObject
  readonly complete: (object: KubeObject) => KubeObject
}

/** A collection of the objects of a label selector (`waitForMatch`). */
export interface MatchTarget {
  readonly query: ListQuery
  readonly collection: string
}

interface WatchEvent {
  readonly type?: unknown
  readonly object?: unknown
}

interface StatusObject {
  readonly kind?: unknown
  readonly code?: unknown
  readonly reason?: unknown
  readonly message?: unknown
}

type Ending<A> =
  | { readonly _tag: "Satisfied"; readonly value: A }
  | { readonly _tag: "Ended"; readonly progressed: boolean }
  | { readonly _tag: "Gone" }

interface State {
  name: string
  /** The matching objects as last seen, by namespace/name. */
  objects: Map<string, KubeObject>
  resourceVersion: string
}

const keyOf = (object: KubeObject): string => `${object.metadata.namespace ?? ""}/${object.metadata.name}`

/** The longest watch asked of the server; it ends the stream then and the watch is reopened from where it was. */
const MAX_WATCH_SECONDS = 300

const RETRIED_EVENT_CODES = new Set([429, 500, 503, 504])

const resourceVersionOf = (object: unknown): string | undefined => {
  const version = (object as { readonly metadata?: { readonly resourceVersion?: unknown } } | null | undefined)?.metadata?.resourceVersion
  return typeof version === "string" && version !== "" ? version : undefined
}

const completed = (ref: ObjectRef, object: KubeObject): KubeObject =>
  object.apiVersion === undefined || object.kind === undefined ? { ...object, apiVersion: ref.apiVersion, kind: ref.kind } : object

const isTheObject = (ref: ObjectRef, object: unknown): object is KubeObject => {
  const metadata = (object as { readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown } } | null | undefined)?.metadata
  return metadata?.name === ref.name && (ref.namespace === undefined || metadata.namespace === undefined || metadata.namespace === ref.namespace)
}

const isGone = (status: StatusObject): boolean => status.code === 410 || status.reason === "Expired" || status.reason === "Gone"

const fieldSelector = (ref: ObjectRef): string => `metadata.name=${ref.name}`

const timeoutMessage = (timeout: Duration.Duration, name: string, description: string | undefined): string =>
  `timed out after ${Duration.format(timeout)} waiting for ${name}${description === undefined ? "" : ` ${description}`}`

/**
 * The engine of both waits: lists the watched collection, then watches it (resuming from the last resourceVersion,
 * re-listing on 410) until `decide` returns a value for the matching objects; `onTimeout` builds the failure.
 */
const watchUntil = <A>(
  transport: Transport,
  state: State,
  locate: Effect.Effect<Watched, KubeError>,
  decide: () => { readonly done: true; readonly value: A } | undefined,
  timeout: Duration.Duration,
  onTimeout: () => WaitTimeout
): Effect.Effect<A, KubeError | WaitTimeout> =>
  Effect.suspend(() => {
    const watchSeconds = Math.max(1, Math.min(MAX_WATCH_SECONDS, Math.ceil(Duration.toSeconds(timeout))))

    const list = (target: Watched): Effect.Effect<void, KubeError> =>
      Effect.map(
        send(transport, {
          method: "GET",
          path: target.collection,
          query: { ...target.selector },
          operation: `list ${state.name}`,
          object: state.name
        }, true),
        ({ body }) => {
          const answer = body as { readonly metadata?: { readonly resourceVersion?: string }; readonly items?: ReadonlyArray<KubeObject> } | undefined
          state.objects = new Map()
          for (const item of answer?.items ?? []) {
            if (target.matches(item)) state.objects.set(keyOf(item), target.complete(item))
          }
          state.resourceVersion = answer?.metadata?.resourceVersion ?? ""
        }
      )

    const onEvent = (target: Watched, line: string): Effect.Effect<Ending<A> | undefined, KubeError> => {
      if (line.trim() === "") return Effect.succeed(undefined)
      const event = parseJson(line) as WatchEvent | undefined
      if (event === undefined || event === null || typeof event !== "object") return Effect.succeed({ _tag: "Ended", progressed: true })
      const version = resourceVersionOf(event.object)
      switch (event.type) {
        case "BOOKMARK":
          if (version !== undefined) state.resourceVersion = version
          return Effect.succeed(undefined)
        case "ADDED":
        case "MODIFIED":
        case "DELETED": {
          if (version !== undefined) state.resourceVersion = version
          if (!target.matches(event.object)) return Effect.succeed(undefined)
          if (event.type === "DELETED") state.objects.delete(keyOf(event.object))
          else state.objects.set(keyOf(event.object), target.complete(event.object))
          const decided = decide()
          return Effect.succeed(decided === undefined ? undefined : { _tag: "Satisfied", value: decided.value })
        }
        case "ERROR": {
          const status = (event.object ?? {}) as StatusObject
          if (isGone(status)) return Effect.succeed({ _tag: "Gone" })
          const code = typeof status.code === "number" ? status.code : 500
          if (RETRIED_EVENT_CODES.has(code)) return Effect.succeed({ _tag: "Ended", progressed: false })
          const message = typeof status.message === "string" && status.message !== "" ? status.message : `watch error ${code}`
          return Effect.fail(new KubeError({ reason: reasonFromStatus(code), message: `watch ${state.name}: ${message}`, object: state.name }))
        }
        default:
          return Effect.succeed(undefined)
      }
    }

    const watchOnce = (target: Watched): Effect.Effect<Ending<A>, KubeError> =>
      Effect.scoped(
        Effect.gen(function*() {
          const response = yield* open(transport, {
            method: "GET",
            path: target.collection,
            query: {
              watch: "1",
              resourceVersion: state.resourceVersion === "" ? undefined : state.resourceVersion,
              allowWatchBookmarks: "true",
              ...target.selector,
              timeoutSeconds: String(watchSeconds)
            },
            headers: { Accept: "application/json" },
            operation: `watch ${state.name}`,
            object: state.name
          }, true)
          let ending: Ending<A> = { _tag: "Ended", progressed: false }
          yield* response.body.pipe(
            Stream.catchTag("KubeError", () => Stream.empty),
            Stream.decodeText,
            Stream.splitLines,
            Stream.runForEachWhile((line) =>
              Effect.map(onEvent(target, line), (next) => {
                if (line.trim() !== "" && ending._tag === "Ended") ending = { _tag: "Ended", progressed: true }
                if (next === undefined) return true
                ending = next
                return false
              })
            )
          )
          return ending
        })
      ).pipe(Effect.catchIf((error) => error.reason === "Gone", () => Effect.succeed<Ending<A>>({ _tag: "Gone" })))

    const pause = (quiet: number): Effect.Effect<void> => {
      if (quiet < 2) return Effect.void
      const base = Duration.toMillis(Duration.fromInputUnsafe(transport.retry.baseDelay))
      const cap = Duration.toMillis(Duration.fromInputUnsafe(transport.retry.maxDelay))
      return Effect.sleep(Duration.millis(Math.min(cap, base * 2 ** (quiet - 2))))
    }

    const run = Effect.gen(function*() {
      const target = yield* locate
      yield* list(target)
      const first = decide()
      if (first !== undefined) return first.value
      let quiet = 0
      for (;;) {
        const ending = yield* watchOnce(target)
        if (ending._tag === "Satisfied") return ending.value
        quiet = ending._tag === "Ended" && ending.progressed ? 0 : quiet + 1
        yield* pause(quiet)
        if (ending._tag === "Gone") {
          yield* list(target)
          const decided = decide()
          if (decided !== undefined) return decided.value
        }
      }
    })

    return run.pipe(
      Effect.timeoutOption(timeout),
      Effect.flatMap((result) => (result._tag === "Some" ? Effect.succeed(result.value) : Effect.fail(onTimeout())))
    )
  })

/**
 * Waits until `predicate` holds for the object `locate` finds (`undefined` while it does not exist), within
 * `options.timeout`; fails with `WaitTimeout` carrying the last object observed.
 */
export const waitFor = (
  transport: Transport,
  ref: ObjectRef,
  locate: Effect.Effect<Target, KubeError>,
  predicate: (object: KubeObject | undefined) => boolean,
  options: WaitOptions
): Effect.Effect<KubeObject | undefined, KubeError | WaitTimeout> =>
  Effect.suspend(() => {
    const timeout = Duration.fromInputUnsafe(options.timeout)
    const state: State = { name: describe(ref), objects: new Map(), resourceVersion: "" }
    let resolved: ObjectRef = ref
    const current = (): KubeObject | undefined => state.objects.values().next().value
    const watched = Effect.map(locate, (target): Watched => {
      resolved = target.ref
      state.name = describe(target.ref)
      return {
        collection: target.collection,
        selector: { fieldSelector: fieldSelector(target.ref) },
        matches: (object): object is KubeObject => isTheObject(target.ref, object),
        complete: (object) => completed(target.ref, object)
      }
    })
    return watchUntil(
      transport,
      state,
      watched,
      () => {
        const object = current()
        return predicate(object) ? { done: true, value: object } : undefined
      },
      timeout,
      () => new WaitTimeout({ message: timeoutMessage(timeout, describe(resolved), options.description), object: describe(resolved), last: current() })
    )
  })

const labelSelector = (labels: Readonly<Record<string, string>> | undefined): Record<string, string> => {
  const entries = Object.entries(labels ?? {})
  return entries.length === 0 ? {} : { labelSelector: entries.map(([key, value]) => `${key}=${value}`).join(",") }
}

const hasLabels = (query: ListQuery, object: unknown): object is KubeObject => {
  const metadata = (object as { readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown; readonly labels?: Record<string, unknown> } } | null | undefined)?.metadata
  if (typeof metadata?.name !== "string") return false
  if (query.namespace !== undefined && metadata.namespace !== undefined && metadata.namespace !== query.namespace) return false
  return Object.entries(query.labels ?? {}).every(([key, value]) => metadata.labels?.[key] === value)
}

/** What `waitForMatch` is called: `Kind ns/*` with the label selector. */
export const describeQuery = (query: ListQuery): string => {
  const labels = Object.entries(query.labels ?? {}).map(([key, value]) => `${key}=${value}`).join(",")
  return `${query.kind}s ${query.namespace === undefined ? "" : `in ${query.namespace} `}${labels === "" ? "" : `with ${labels}`}`.trim()
}

/**
 * Waits until `select` picks an object among those of the query's label selector (namespace and labels), within
 * `options.timeout`; fails with `WaitTimeout` carrying the newest object observed.
 */
export const waitForMatch = (
  transport: Transport,
  query: ListQuery,
  locate: Effect.Effect<MatchTarget, KubeError>,
  select: (objects: ReadonlyArray<KubeObject>) => KubeObject | undefined,
  options: WaitOptions
): Effect.Effect<KubeObject, KubeError | WaitTimeout> =>
  Effect.suspend(() => {
    const timeout = Duration.fromInputUnsafe(options.timeout)
    const state: State = { name: describeQuery(query), objects: new Map(), resourceVersion: "" }
    const ref: ObjectRef = { apiVersion: query.apiVersion, kind: query.kind, namespace: query.namespace, name: "" }
    const watched = Effect.map(locate, (target): Watched => ({
      collection: target.collection,
      selector: labelSelector(target.query.labels),
      matches: (object): object is KubeObject => hasLabels(target.query, object),
      complete: (object) => completed(ref, object)
    }))
    const newest = (): KubeObject | undefined =>
      [...state.objects.values()].sort((a, b) => String(a.metadata["creationTimestamp"] ?? "").localeCompare(String(b.metadata["creationTimestamp"] ?? ""))).at(-1)
    return watchUntil(
      transport,
      state,
      watched,
      () => {
        const picked = select([...state.objects.values()])
        return picked === undefined ? undefined : { done: true, value: picked }
      },
      timeout,
      () => new WaitTimeout({ message: timeoutMessage(timeout, state.name, options.description), object: state.name, last: newest() })
    )
  })
