/**
 * The `KubeClient` service over the Kubernetes HTTP API: credentials and TLS from a kubeconfig (or the in-cluster
 * service account) through `@kubernetes/client-node`'s `KubeConfig`, requests as raw JSON so no typed decoding drops
 * fields, kinds resolved to resources through discovery.
 *
 * Details: `layerFromKubeconfig` provides `KubeClient`: lists are streamed in pages of 500 following
 * `continue` tokens; discovery answers `isServed` and maps kinds to resources. `waitFor` lists the one object and
 * watches it from the list's resourceVersion, reopening a dropped watch from the last resourceVersion seen and
 * listing again only on 410; logs and service-proxy bodies are streamed, their requests aborted on cancellation. Every
 * failure is a `KubeError` naming the operation and the object; idempotent verbs retry 429 (honouring
 * `Retry-After`), 503 and connection errors with capped exponential backoff and jitter; a create is sent once.
 * Sleeps and request timeouts run on Effect's `Clock`, so `TestClock` drives them.
 *
 * Gotchas: `undici`'s `fetch` is used, not Node's global one, because the dispatcher `KubeConfig` builds for TLS is
 * an `undici` 8 `Agent`. A namespaced object without a namespace uses the context's namespace (else `default`).
 */
import { HttpMethod, KubeConfig, RequestContext } from "@kubernetes/client-node"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { existsSync, readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import type { Dispatcher } from "undici"
import { defaultRetryPolicy, type RetryEvent, type RetryPolicy, send, type Transport } from "./internal/kube-http.ts"
import * as KubeStream from "./internal/kube-stream.ts"
import * as KubeWatch from "./internal/kube-watch.ts"
import type * as KubeClientNs from "./KubeClient.ts"
import { describe, KubeClient, KubeError, type KubeObject, type ListQuery, type ObjectRef } from "./KubeClient.ts"

export type { RetryEvent, RetryPolicy } from "./internal/kube-http.ts"

/** The kubeconfig could not be found or used: no file, an unknown context, unreadable service-account files. */
export class KubeConfigError extends Data.TaggedError("KubeConfigError")<{
  readonly message: string
}> {}

/** Where the connection comes from and how requests behave. */
export interface Options {
  /** A kubeconfig file (`--kubeconfig`); else `KUBECONFIG`, `~/.kube/config`, then the in-cluster service account. */
  readonly kubeconfig?: string | undefined
  /** A context of the kubeconfig (`--context`); else its current context. */
  readonly context?: string | undefined
  /** Per-request timeout (default 30 s). */
  readonly requestTimeout?: Duration.Input | undefined
  /** Retry bounds for idempotent verbs (default 5 attempts, 200 ms doubling to 10 s, 60 s in all). */
  readonly retry?: Partial<RetryPolicy> | undefined
  /** Called before each retry sleeps (for progress output and tests). */
  readonly onRetry?: ((event: RetryEvent) => Effect.Effect<void>) | undefined
}

/** Options of a paginated list. */
export interface ListOptions extends KubeClientNs.ListOptions {
  /** List at this resourceVersion (with `resourceVersionMatch`), for a consistent start of a watch. */
  readonly resourceVersion?: string | undefined
  readonly resourceVersionMatch?: "Exact" | "NotOlderThan" | undefined
}

/** The live client: the `KubeClient` service, whose `listStream` also takes a starting resourceVersion. */
export interface Live extends KubeClientService {
  readonly listStream: (query: ListQuery, options?: ListOptions) => Stream.Stream<KubeObject, KubeError>
}

type KubeClientService = KubeClient["Service"]

const DEFAULT_SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

const inClusterConfig = (kc: KubeConfig, describeError: (reason: string) => string): Effect.Effect<void, KubeConfigError> =>
  Effect.try({
    try: () => {
      const dir = process.env["AICR_SERVICEACCOUNT_DIR"] || DEFAULT_SERVICEACCOUNT_DIR
      const host = process.env["KUBERNETES_SERVICE_HOST"]
      const port = process.env["KUBERNETES_SERVICE_PORT"] || "443"
      if (host === undefined || host === "") throw new Error("KUBERNETES_SERVICE_HOST is not set")
      const tokenFile = join(dir, "token")
      if (!existsSync(tokenFile)) throw new Error(`no service-account token at ${tokenFile}`)
      const caFile = join(dir, "ca.crt")
      const namespaceFile = join(dir, "namespace")
      const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`
      kc.loadFromOptions({
        clusters: [{ name: "in-cluster", server, skipTLSVerify: false, ...(existsSync(caFile) ? { caFile } : {}) }],
        users: [{ name: "in-cluster", authProvider: { name: "tokenFile", config: { tokenFile } } }],
        contexts: [{
          name: "in-cluster",
          cluster: "in-cluster",
          user: "in-cluster",
          ...(existsSync(namespaceFile) ? { namespace: readFileSync(namespaceFile, "utf8").trim() } : {})
        }],
        currentContext: "in-cluster"
      })
    },
    catch: (error) => new KubeConfigError({ message: describeError(error instanceof Error ? error.message : String(error)) })
  })

const loadInCluster = (kc: KubeConfig): Effect.Effect<void, KubeConfigError> =>
  inClusterConfig(kc, (reason) => `no kubeconfig found (--kubeconfig, KUBECONFIG, ~/.kube/config) and not running in a cluster: ${reason}`)

/**
 * Loads the in-cluster service account only, ignoring `KUBECONFIG` and `~/.kube/config`: the token (and `ca.crt`,
 * `namespace` when present) of `$AICR_SERVICEACCOUNT_DIR` (default `/var/run/secrets/kubernetes.io/serviceaccount`),
 * the API server at `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` (port default 443).
 *
 * Details: what a check running as a pod (`aicr check`) uses, so it acts only with its ServiceAccount's rights even
 * when a kubeconfig is lying around in the image or the environment.
 */
export const loadInClusterConfig = (): Effect.Effect<KubeConfig, KubeConfigError> =>
  Effect.suspend(() => {
    const kc = new KubeConfig()
    return Effect.as(inClusterConfig(kc, (reason) => `no in-cluster credentials: ${reason}`), kc)
  })

/** Loads the kubeconfig: `options.kubeconfig`, `KUBECONFIG`, `~/.kube/config`, else the in-cluster service account. */
export const loadKubeConfig = (options: Pick<Options, "kubeconfig" | "context"> = {}): Effect.Effect<KubeConfig, KubeConfigError> =>
  Effect.gen(function*() {
    const kc = new KubeConfig()
    const home = join(homedir(), ".kube", "config")
    const envKubeconfig = process.env["KUBECONFIG"]
    const source = options.kubeconfig ?? (envKubeconfig !== undefined && envKubeconfig !== "" ? "KUBECONFIG" : existsSync(home) ? home : undefined)
    if (source === undefined) {
      yield* loadInCluster(kc)
    } else {
      yield* Effect.try({
        try: () => (source === "KUBECONFIG" ? kc.loadFromDefault() : kc.loadFromFile(source)),
        catch: (error) =>
          new KubeConfigError({
            message: `cannot read kubeconfig ${source === "KUBECONFIG" ? envKubeconfig : source}: ${error instanceof Error ? error.message : String(error)}`
          })
      })
    }
    if (options.context !== undefined) {
      const context = options.context
      if (kc.getContextObject(context) === null) {
        const known = kc.getContexts().map((candidate) => candidate.name)
        return yield* new KubeConfigError({ message: `context "${context}" is not in the kubeconfig (contexts: ${known.join(", ") || "none"})` })
      }
      kc.setCurrentContext(context)
    }
    if (kc.getCurrentCluster() === null) {
      return yield* new KubeConfigError({ message: `the kubeconfig's current context "${kc.getCurrentContext()}" names no cluster` })
    }
    return kc
  })

interface Resource {
  readonly plural: string
  readonly namespaced: boolean
}

interface ApiResourceList {
  readonly resources?: ReadonlyArray<{ readonly name: string; readonly kind: string; readonly namespaced: boolean }>
}

const groupVersionPath = (apiVersion: string): string => (apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`)

const enc = encodeURIComponent

const labelSelector = (labels: ListQuery["labels"]): string | undefined => {
  const entries = Object.entries(labels ?? {})
  return entries.length === 0 ? undefined : entries.map(([key, value]) => `${key}=${value}`).join(",")
}

const sortKey = (object: KubeObject): string => `${object.metadata.namespace ?? ""}/${object.metadata.name}`

const MAX_LIST_RESTARTS = 5

/** Builds the `Api` over a loaded `KubeConfig`; the TLS dispatcher is closed with the scope. */
export const make = (kc: KubeConfig, options: Omit<Options, "kubeconfig" | "context"> = {}) =>
  Effect.gen(function*() {
    const cluster = kc.getCurrentCluster()
    if (cluster === null) return yield* new KubeConfigError({ message: "the kubeconfig has no current cluster" })
    const context = kc.getContextObject(kc.getCurrentContext())
    const defaultNamespace = context?.namespace ?? "default"
    const dispatcher = yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const ctx = new RequestContext(cluster.server, HttpMethod.GET)
          await kc.applySecurityAuthentication(ctx)
          return ctx.getDispatcher() as Dispatcher | undefined
        },
        catch: (error) => new KubeConfigError({ message: `cannot set up TLS for ${cluster.server}: ${error instanceof Error ? error.message : String(error)}` })
      }),
      (dispatcher) => Effect.promise(() => dispatcher?.close() ?? Promise.resolve()).pipe(Effect.ignore)
    )
    const transport: Transport = {
      server: cluster.server,
      dispatcher,
      headers: async () => {
        const opts: { headers?: Record<string, string>; auth?: string } = {}
        await kc.applyToHTTPSOptions(opts)
        const headers: Record<string, string> = { ...(opts.headers ?? {}) }
        if (opts.auth !== undefined && headers["Authorization"] === undefined) headers["Authorization"] = `Basic ${Buffer.from(opts.auth).toString("base64")}`
        return headers
      },
      requestTimeout: Duration.fromInputUnsafe(options.requestTimeout ?? "30 seconds"),
      retry: { ...defaultRetryPolicy, ...options.retry },
      onRetry: options.onRetry ?? (() => Effect.void)
    }

    const discovery = new Map<string, ReadonlyMap<string, Resource>>()

    /** The kinds served in `apiVersion`, fetched afresh; `undefined` when the group-version is not served. */
    const discover = (apiVersion: string, operation: string): Effect.Effect<ReadonlyMap<string, Resource> | undefined, KubeError> =>
      send(transport, { method: "GET", path: groupVersionPath(apiVersion), operation: `${operation}: discover ${apiVersion}`, object: apiVersion }, true).pipe(
        Effect.map(({ body }) => {
          const kinds = new Map<string, Resource>()
          for (const resource of (body as ApiResourceList).resources ?? []) {
            if (resource.name.includes("/")) continue
            kinds.set(resource.kind, { plural: resource.name, namespaced: resource.namespaced })
          }
          discovery.set(apiVersion, kinds)
          return kinds as ReadonlyMap<string, Resource> | undefined
        }),
        Effect.catchIf((error) => error.reason === "NotFound", () => Effect.sync(() => {
          discovery.delete(apiVersion)
          return undefined
        }))
      )

    const lookup = (apiVersion: string, kind: string, operation: string): Effect.Effect<Resource | undefined, KubeError> =>
      Effect.suspend(() => {
        const cached = discovery.get(apiVersion)?.get(kind)
        return cached !== undefined ? Effect.succeed(cached) : Effect.map(discover(apiVersion, operation), (kinds) => kinds?.get(kind))
      })

    const resolve = (apiVersion: string, kind: string, operation: string, object: string | undefined) =>
      Effect.flatMap(lookup(apiVersion, kind, operation), (resource) =>
        resource === undefined
          ? Effect.fail(new KubeError({ reason: "NotFound", message: `${operation}: the server does not serve kind ${kind} in ${apiVersion}`, object }))
          : Effect.succeed(resource))

    const collectionPath = (apiVersion: string, resource: Resource, namespace: string | undefined) =>
      `${groupVersionPath(apiVersion)}${resource.namespaced && namespace !== undefined ? `/namespaces/${enc(namespace)}` : ""}/${resource.plural}`

    const objectPath = (ref: ObjectRef, resource: Resource) =>
      `${collectionPath(ref.apiVersion, resource, resource.namespaced ? ref.namespace ?? defaultNamespace : undefined)}/${enc(ref.name)}`

    const withNamespace = (ref: ObjectRef, resource: Resource): ObjectRef =>
      resource.namespaced ? { ...ref, namespace: ref.namespace ?? defaultNamespace } : { ...ref, namespace: undefined }

    const get = Effect.fn("KubeClientLive.get")(function*(ref: ObjectRef) {
      const operation = `get ${describe(ref)}`
      const resource = yield* resolve(ref.apiVersion, ref.kind, operation, describe(ref))
      const target = withNamespace(ref, resource)
      const { body } = yield* send(transport, { method: "GET", path: objectPath(target, resource), operation: `get ${describe(target)}`, object: describe(target) }, true)
      return body as KubeObject
    })

    const create = Effect.fn("KubeClientLive.create")(function*(object: KubeObject) {
      const ref: ObjectRef = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name }
      const resource = yield* resolve(ref.apiVersion, ref.kind, `create ${describe(ref)}`, describe(ref))
      const target = withNamespace(ref, resource)
      const { body } = yield* send(
        transport,
        { method: "POST", path: collectionPath(ref.apiVersion, resource, target.namespace), body: object, operation: `create ${describe(target)}`, object: describe(target) },
        false
      )
      return body as KubeObject
    })

    const remove = Effect.fn("KubeClientLive.delete")(function*(ref: ObjectRef, deleteOptions?: KubeClientNs.DeleteOptions) {
      const resource = yield* resolve(ref.apiVersion, ref.kind, `delete ${describe(ref)}`, describe(ref))
      const target = withNamespace(ref, resource)
      yield* send(
        transport,
        {
          method: "DELETE",
          path: objectPath(target, resource),
          body: { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: deleteOptions?.propagation ?? "Foreground" },
          operation: `delete ${describe(target)}`,
          object: describe(target)
        },
        true
      ).pipe(Effect.catchIf((error) => error.reason === "NotFound", () => Effect.void))
    })

    const listStreamImpl = (query: ListQuery, listOptions: ListOptions = {}): Stream.Stream<KubeObject, KubeError> => {
      const scope = query.namespace === undefined ? "in all namespaces" : `in ${query.namespace}`
      const operation = `list ${query.kind} ${scope}`
      const limit = listOptions.limit ?? 500
      type Page = { readonly continueToken: string | undefined; readonly after: string | undefined; readonly restarts: number }
      return Stream.unwrap(Effect.map(resolve(query.apiVersion, query.kind, operation, query.kind), (resource) => {
        const path = collectionPath(query.apiVersion, resource, query.namespace)
        const page = (state: Page): Effect.Effect<readonly [ReadonlyArray<KubeObject>, Option.Option<Page>], KubeError> =>
          send(transport, {
            method: "GET",
            path,
            query: {
              limit: String(limit),
              labelSelector: labelSelector(query.labels),
              continue: state.continueToken,
              ...(state.continueToken === undefined && state.after === undefined
                ? { resourceVersion: listOptions.resourceVersion, resourceVersionMatch: listOptions.resourceVersionMatch }
                : {})
            },
            operation,
            object: query.kind
          }, true).pipe(
            Effect.map(({ body }) => {
              const list = body as { readonly items?: ReadonlyArray<KubeObject>; readonly metadata?: { readonly continue?: string } }
              const apiVersion = query.apiVersion
              const all = (list.items ?? []).map((item) => (item.apiVersion === undefined ? { ...item, apiVersion, kind: query.kind } : item))
              const items = state.after === undefined ? all : all.filter((item) => sortKey(item) > state.after!)
              const last = items.length === 0 ? state.after : sortKey(items[items.length - 1]!)
              const token = list.metadata?.continue
              const next: Option.Option<Page> = token === undefined || token === ""
                ? Option.none()
                : Option.some({ continueToken: token, after: last, restarts: state.restarts })
              return [items, next] as const
            }),
            Effect.catchIf(
              (error) => error.reason === "Gone" && state.continueToken !== undefined && state.restarts < MAX_LIST_RESTARTS,
              () => page({ continueToken: undefined, after: state.after, restarts: state.restarts + 1 })
            )
          )
        return Stream.paginate<Page, KubeObject, KubeError>({ continueToken: undefined, after: undefined, restarts: 0 }, page)
      }))
    }

    const isServedImpl = Effect.fn("KubeClientLive.isServed")(function*(apiVersion: string, kind: string) {
      const kinds = yield* discover(apiVersion, `is ${kind} served`)
      return kinds?.has(kind) ?? false
    })

    const waitFor = Effect.fn("KubeClientLive.waitFor")(function*(
      ref: ObjectRef,
      predicate: (object: KubeObject | undefined) => boolean,
      waitOptions: KubeClientNs.WaitOptions
    ) {
      const locate = Effect.map(resolve(ref.apiVersion, ref.kind, `wait for ${describe(ref)}`, describe(ref)), (resource): KubeWatch.Target => {
        const target = withNamespace(ref, resource)
        return { ref: target, collection: collectionPath(ref.apiVersion, resource, target.namespace) }
      })
      return yield* KubeWatch.waitFor(transport, ref, locate, predicate, waitOptions)
    })

    const waitForMatch = Effect.fn("KubeClientLive.waitForMatch")(function*(
      query: ListQuery,
      select: (objects: ReadonlyArray<KubeObject>) => KubeObject | undefined,
      waitOptions: KubeClientNs.WaitOptions
    ) {
      const name = KubeWatch.describeQuery(query)
      const locate = Effect.map(resolve(query.apiVersion, query.kind, `wait for ${name}`, name), (resource): KubeWatch.MatchTarget => ({
        query,
        collection: collectionPath(query.apiVersion, resource, query.namespace)
      }))
      return yield* KubeWatch.waitForMatch(transport, query, locate, select, waitOptions)
    })

    const live: Live = {
      get,
      list: (query) => Stream.runCollect(listStreamImpl(query)),
      listStream: listStreamImpl,
      create,
      delete: remove,
      waitFor,
      waitForMatch,
      logs: (pod, logOptions) => KubeStream.logs(transport, pod, logOptions),
      proxy: (request) => KubeStream.proxy(transport, request),
      isServed: isServedImpl
    }
    return live
  })

/** `KubeClient` from the in-cluster service account only (see {@link loadInClusterConfig}). */
export const layerInCluster = (options: Omit<Options, "kubeconfig" | "context"> = {}): Layer.Layer<KubeClient, KubeConfigError> =>
  Layer.effect(
    KubeClient,
    Effect.gen(function*() {
      const kc = yield* loadInClusterConfig()
      return KubeClient.of(yield* make(kc, options))
    })
  )

/** `KubeClient` from a kubeconfig, `KUBECONFIG`, `~/.kube/config` or the in-cluster service account. */
export const layerFromKubeconfig = (options: Options = {}): Layer.Layer<KubeClient, KubeConfigError> =>
  Layer.effect(
    KubeClient,
    Effect.gen(function*() {
      const kc = yield* loadKubeConfig(options)
      return KubeClient.of(yield* make(kc, options))
    })
  )
