/**
 * `waitFor` over the watch API: list the one object (by `metadata.name` field selector), then watch it from the
 * list's resourceVersion. A watch that ends or breaks is reopened from the last resourceVersion seen (bookmarks
 * included) without listing again; only a 410 — as the answer to the watch or as an ERROR event — lists again.
 * The deadline runs on Effect's `Clock`.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { describe, KubeError, type KubeObject, type ObjectRef, reasonFromStatus, type WaitOptions, WaitTimeout } from "../KubeClient.ts"
import { open, parseJson, send, type Transport } from "./kube-http.ts"

/** Where the awaited object lives: its reference (namespace resolved, absent when cluster-scoped) and its collection's path. */
export interface Target {
  readonly ref: ObjectRef
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

type Ending =
  | { readonly _tag: "Satisfied"; readonly object: KubeObject | undefined }
  | { readonly _tag: "Ended"; readonly progressed: boolean }
  | { readonly _tag: "Gone" }

interface State {
  name: string
  last: KubeObject | undefined
  resourceVersion: string
}

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
    const watchSeconds = Math.max(1, Math.min(MAX_WATCH_SECONDS, Math.ceil(Duration.toSeconds(timeout))))
    const state: State = { name: describe(ref), last: undefined, resourceVersion: "" }

    const list = (target: Target): Effect.Effect<void, KubeError> =>
      Effect.map(
        send(transport, {
          method: "GET",
          path: target.collection,
          query: { fieldSelector: fieldSelector(target.ref) },
          operation: `list ${state.name}`,
          object: state.name
        }, true),
        ({ body }) => {
          const answer = body as { readonly metadata?: { readonly resourceVersion?: string }; readonly items?: ReadonlyArray<KubeObject> } | undefined
          const found = (answer?.items ?? []).find((item) => isTheObject(target.ref, item))
          state.last = found === undefined ? undefined : completed(target.ref, found)
          state.resourceVersion = answer?.metadata?.resourceVersion ?? ""
        }
      )

    const onEvent = (target: Target, line: string): Effect.Effect<Ending | undefined, KubeError> => {
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
          if (!isTheObject(target.ref, event.object)) return Effect.succeed(undefined)
          state.last = event.type === "DELETED" ? undefined : completed(target.ref, event.object)
          return Effect.succeed(predicate(state.last) ? { _tag: "Satisfied", object: state.last } : undefined)
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

    const watchOnce = (target: Target): Effect.Effect<Ending, KubeError> =>
      Effect.scoped(
        Effect.gen(function*() {
          const response = yield* open(transport, {
            method: "GET",
            path: target.collection,
            query: {
              watch: "1",
              resourceVersion: state.resourceVersion === "" ? undefined : state.resourceVersion,
              allowWatchBookmarks: "true",
              fieldSelector: fieldSelector(target.ref),
              timeoutSeconds: String(watchSeconds)
            },
            headers: { Accept: "application/json" },
            operation: `watch ${state.name}`,
            object: state.name
          }, true)
          let ending: Ending = { _tag: "Ended", progressed: false }
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
      ).pipe(Effect.catchIf((error) => error.reason === "Gone", () => Effect.succeed<Ending>({ _tag: "Gone" })))

    const pause = (quiet: number): Effect.Effect<void> => {
      if (quiet < 2) return Effect.void
      const base = Duration.toMillis(Duration.fromInputUnsafe(transport.retry.baseDelay))
      const cap = Duration.toMillis(Duration.fromInputUnsafe(transport.retry.maxDelay))
      return Effect.sleep(Duration.millis(Math.min(cap, base * 2 ** (quiet - 2))))
    }

    const run = Effect.gen(function*() {
      const target = yield* locate
      state.name = describe(target.ref)
      yield* list(target)
      if (predicate(state.last)) return state.last
      let quiet = 0
      for (;;) {
        const ending = yield* watchOnce(target)
        if (ending._tag === "Satisfied") return ending.object
        quiet = ending._tag === "Ended" && ending.progressed ? 0 : quiet + 1
        yield* pause(quiet)
        if (ending._tag === "Gone") {
          yield* list(target)
          if (predicate(state.last)) return state.last
        }
      }
    })

    return run.pipe(
      Effect.timeoutOption(timeout),
      Effect.flatMap((result) =>
        result._tag === "Some"
          ? Effect.succeed(result.value)
          : Effect.fail(new WaitTimeout({ message: timeoutMessage(timeout, state.name, options.description), object: state.name, last: state.last }))
      )
    )
  })
