/**
 * The HTTP face of the simulator: Kubernetes REST paths, discovery, lists with selectors and pages, watches,
 * patches, pod logs and the service proxy — over the object semantics of `Cluster`.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Audit } from "./audit.ts"
import type { Cluster, PropagationPolicy } from "./cluster.ts"
import * as Discovery from "./discovery.ts"
import * as Errors from "./errors.ts"
import { Faults } from "./faults.ts"
import { Logs, shape } from "./logs.ts"
import * as Patch from "./patch.ts"
import * as Selectors from "./selectors.ts"
import type { Change } from "./store.ts"
import * as Table from "./table.ts"
import { apiVersionOf, type KubeObject, type ResourceType, typeKey } from "./types.ts"

/** A handler behind `services/{name}:{port}/proxy/…`; `path` is what follows `proxy` (always starting with `/`). */
export type ProxyHandler = (request: IncomingMessage, response: ServerResponse, path: string) => void

export interface ServerOptions {
  /** Bearer token → user name. */
  readonly tokens: ReadonlyMap<string, string>
  readonly bookmarkIntervalMs?: number | undefined
  readonly serverAddress: () => string
  /** Seed of the fault injector's random decisions. */
  readonly seed?: number | undefined
  /**
   * Requests without credentials act as an administrator, as on the insecure port old API servers had: kubectl
   * sends no credentials over plain HTTP. Requests with an unknown token still get 401.
   */
  readonly insecureAdmin?: boolean | undefined
}

interface RequestInfo {
  readonly verb: string
  readonly type: ResourceType
  readonly namespace: string
  readonly name: string
  readonly subresource: string
  /** After `proxy`: the path to forward. */
  readonly rest: string
  readonly query: URLSearchParams
}

const json = (response: ServerResponse, code: number, body: unknown, contentType = "application/json", headers: Record<string, string> = {}) => {
  const text = JSON.stringify(body)
  response.writeHead(code, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text), ...headers })
  response.end(text)
}

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

/** Request bodies are JSON; a protobuf body (kubectl's typed generators send one) is refused with 415. */
const readJsonBody = async (request: IncomingMessage): Promise<string> => {
  const contentType = (request.headers["content-type"] ?? "application/json").split(";")[0]!.trim()
  if (contentType === "application/vnd.kubernetes.protobuf" || contentType === "application/cbor") {
    throw new Errors.StatusError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got ${contentType})`)
  }
  return readBody(request)
}

const parseJson = (text: string): unknown => {
  if (text.trim() === "") throw Errors.badRequest("the request body is empty")
  try {
    return JSON.parse(text)
  } catch (error) {
    throw Errors.badRequest(`the body of the request could not be decoded: ${error instanceof Error ? error.message : String(error)}`)
  }
}

const integer = (query: URLSearchParams, name: string): number | undefined => {
  const raw = query.get(name)
  if (raw === null || raw === "") return undefined
  const value = Number(raw)
  if (!Number.isInteger(value)) throw Errors.badRequest(`invalid ${name}: ${raw}`)
  return value
}

interface ContinueToken {
  rv: number
  start: string
}

const encodeContinue = (token: ContinueToken): string => Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", ...token })).toString("base64url")
const decodeContinue = (text: string): ContinueToken => {
  try {
    const token = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as ContinueToken & { v?: string }
    if (token.v !== "meta.k8s.io/v1" || !Number.isInteger(token.rv) || typeof token.start !== "string") throw new Error("bad token")
    return token
  } catch {
    throw Errors.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
  }
}

const objectKey = (object: KubeObject) => `${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`

export class ApiServer {
  readonly audit = new Audit()
  readonly faults: Faults
  readonly logs = new Logs()
  private readonly proxies = new Map<string, ProxyHandler>()
  private readonly openWatches = new Set<ServerResponse>()
  /** Streams (watches, followed logs) are audited when they start, not when they end. */
  private readonly streaming = new WeakMap<ServerResponse, () => void>()

  readonly cluster: Cluster
  private readonly options: ServerOptions

  constructor(cluster: Cluster, options: ServerOptions) {
    this.cluster = cluster
    this.options = options
    this.faults = new Faults(options.seed)
    cluster.store.subscribe((change) => {
      if (change.key === "/pods" && change.type === "DELETED") this.logs.forget(change.namespace, change.name)
    })
  }

  /** Serves `services/{name}[:{port}]/proxy/…` of `namespace` with `handler`; returns the unregister function. */
  registerProxy(namespace: string, service: string, port: string | number | undefined, handler: ProxyHandler): () => void {
    const id = `${namespace}/${service}:${port ?? ""}`
    this.proxies.set(id, handler)
    return () => void this.proxies.delete(id)
  }

  /** Ends every open watch stream (server shutdown). */
  closeWatches(): void {
    for (const response of this.openWatches) response.end()
    this.openWatches.clear()
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    const started = new Date()
    const url = new URL(request.url ?? "/", "http://sim")
    const record = { user: "", verb: "", resource: "", group: "", subresource: undefined as string | undefined, namespace: undefined as string | undefined, name: undefined as string | undefined }
    let recorded = false
    const recordAudit = () => {
      if (recorded) return
      recorded = true
      this.audit.record({
        time: started.toISOString(),
        user: record.user,
        verb: record.verb,
        resource: record.resource,
        group: record.group,
        ...(record.subresource === undefined ? {} : { subresource: record.subresource }),
        ...(record.namespace === undefined ? {} : { namespace: record.namespace }),
        ...(record.name === undefined ? {} : { name: record.name }),
        code: response.statusCode,
        method: request.method ?? "GET",
        path: url.pathname
      })
    }
    response.on("finish", recordAudit)
    response.on("close", recordAudit)
    this.streaming.set(response, recordAudit)
    const fail = (error: unknown) => {
      if (response.headersSent) {
        response.destroy()
        return
      }
      const status = error instanceof Errors.StatusError ? error : Errors.internalError(error instanceof Error ? error.message : String(error))
      json(response, status.code, status.body, "application/json", status.headers)
    }
    try {
      const user = this.authenticate(request)
      record.user = user
      const info = this.route(request.method ?? "GET", url)
      if (info === undefined) {
        record.verb = (request.method ?? "GET").toLowerCase()
        this.serveNonResource(request, response, url)
        return
      }
      record.verb = info.verb
      record.resource = info.type.resource
      record.group = info.type.group
      if (info.subresource !== "") record.subresource = info.subresource
      if (info.namespace !== "") record.namespace = info.namespace
      if (info.name !== "") record.name = info.name
      const fault = this.faults.decide({ verb: info.verb, resource: info.type.resource, group: info.type.group, subresource: info.subresource || undefined, namespace: info.namespace || undefined, name: info.name || undefined, user })
      const latency = this.faults.latencyMs()
      const go = () => {
        if (fault !== undefined) return fail(fault)
        this.serveResource(request, response, info).catch(fail)
      }
      if (latency > 0) setTimeout(go, latency)
      else go()
    } catch (error) {
      fail(error)
    }
  }

  private authenticate(request: IncomingMessage): string {
    const header = request.headers.authorization
    if (header === undefined) {
      if (this.options.insecureAdmin === true) return "system:admin"
      throw Errors.unauthorized()
    }
    const match = /^Bearer\s+(.+)$/i.exec(header)
    const user = match === null ? undefined : this.options.tokens.get(match[1]!.trim())
    if (user === undefined) throw Errors.unauthorized()
    return user
  }

  // -------------------------------------------------------------------------------------------------------------
  // Routing

  private route(method: string, url: URL): RequestInfo | undefined {
    const parts = url.pathname.split("/").filter((part) => part !== "").map(decodeURIComponent)
    let group: string
    let version: string
    let rest: Array<string>
    if (parts[0] === "api" && parts.length >= 3) {
      group = ""
      version = parts[1]!
      rest = parts.slice(2)
    } else if (parts[0] === "apis" && parts.length >= 4) {
      group = parts[1]!
      version = parts[2]!
      rest = parts.slice(3)
    } else return undefined
    let watchPrefix = false
    if (rest[0] === "watch") {
      watchPrefix = true
      rest = rest.slice(1)
    }
    let namespace = ""
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1]!
      rest = rest.slice(2)
    }
    const [resource, name = "", subresource = "", ...after] = rest
    if (resource === undefined) return undefined
    const type = this.cluster.registry.find(group, version, resource)
    if (type === undefined) throw Errors.notFoundPath()
    if (namespace !== "" && !type.namespaced) throw Errors.notFoundPath()
    if (subresource !== "" && !type.subresources.includes(subresource)) throw Errors.notFoundPath()
    if (subresource !== "proxy" && after.length > 0) throw Errors.notFoundPath()
    const query = url.searchParams
    const collection = name === ""
    const watch = watchPrefix || query.get("watch") === "true" || query.get("watch") === "1"
    const verb = (() => {
      switch (method) {
        case "GET":
          return collection ? (watch ? "watch" : "list") : watch ? "watch" : "get"
        case "POST":
          return "create"
        case "PUT":
          return "update"
        case "PATCH":
          return "patch"
        case "DELETE":
          return collection ? "deletecollection" : "delete"
        default:
          throw Errors.methodNotAllowed()
      }
    })()
    return { verb, type, namespace, name, subresource, rest: `/${after.join("/")}${url.pathname.endsWith("/") && after.length > 0 ? "/" : ""}`, query }
  }

  private serveNonResource(request: IncomingMessage, response: ServerResponse, url: URL): void {
    if (request.method !== "GET") throw Errors.methodNotAllowed()
    const path = url.pathname.replace(/\/+$/, "")
    const registry = this.cluster.registry
    const accept = request.headers.accept
    if (path === "/version") return json(response, 200, Discovery.versionInfo())
    if (path === "/healthz" || path === "/readyz" || path === "/livez") {
      response.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" })
      response.end("ok")
      return
    }
    if (path === "/api") {
      if (Discovery.wantsAggregated(accept)) return json(response, 200, Discovery.aggregatedDiscovery(registry, "api"), Discovery.AGGREGATED_CONTENT_TYPE)
      return json(response, 200, Discovery.coreApiVersions(this.options.serverAddress()))
    }
    if (path === "/apis") {
      if (Discovery.wantsAggregated(accept)) return json(response, 200, Discovery.aggregatedDiscovery(registry, "apis"), Discovery.AGGREGATED_CONTENT_TYPE)
      return json(response, 200, Discovery.apiGroupList(registry))
    }
    const parts = path.split("/").filter((part) => part !== "")
    if (parts[0] === "api" && parts.length === 2) {
      const list = Discovery.apiResourceList(registry, "", parts[1]!)
      if (list !== undefined) return json(response, 200, list)
    }
    if (parts[0] === "apis" && parts.length === 2) {
      const group = Discovery.apiGroup(registry, parts[1]!)
      if (group !== undefined) return json(response, 200, group)
    }
    if (parts[0] === "apis" && parts.length === 3) {
      const list = Discovery.apiResourceList(registry, parts[1]!, parts[2]!)
      if (list !== undefined) return json(response, 200, list)
    }
    throw Errors.notFoundPath()
  }

  // -------------------------------------------------------------------------------------------------------------
  // Resources

  private async serveResource(request: IncomingMessage, response: ServerResponse, info: RequestInfo): Promise<void> {
    const { type, namespace, name, query } = info
    const dryRun = query.getAll("dryRun").includes("All")
    if (info.subresource === "proxy") return this.proxy(request, response, info)
    if (info.subresource === "log") return this.log(response, info)
    if (info.subresource === "scale") return this.scale(request, response, info, dryRun)
    switch (info.verb) {
      case "get":
        return json(response, 200, this.render(request, type, this.cluster.get(type, namespace, name)))
      case "list":
        return json(response, 200, ...this.list(request, info))
      case "watch":
        return this.watch(request, response, info)
      case "create": {
        const body = parseJson(await readJsonBody(request)) as KubeObject
        if (type.resource === "namespaces" && namespace === "" && info.name !== "") throw Errors.methodNotAllowed()
        const created = this.cluster.create(type, namespace, body, { dryRun })
        return json(response, 201, created)
      }
      case "update": {
        const body = parseJson(await readJsonBody(request)) as KubeObject
        const subresource = info.subresource === "" ? undefined : info.subresource
        if (subresource === "finalize") return json(response, 200, this.finalize(type, name, body, dryRun))
        return json(response, 200, this.cluster.update(type, namespace, name, body, { subresource, dryRun }))
      }
      case "patch":
        return json(response, 200, this.patch(request, info, await readBody(request), dryRun))
      case "delete": {
        const text = await readBody(request)
        const options = text.trim() === "" ? {} : (parseJson(text) as { propagationPolicy?: PropagationPolicy; preconditions?: { uid?: string; resourceVersion?: string }; dryRun?: Array<string>; orphanDependents?: boolean })
        const policy = (query.get("propagationPolicy") as PropagationPolicy | null) ?? options.propagationPolicy ??
          (options.orphanDependents === true ? "Orphan" : options.orphanDependents === false ? "Background" : undefined)
        if (policy !== undefined && !["Foreground", "Background", "Orphan"].includes(policy)) {
          throw Errors.invalid({ group: "meta.k8s.io", kind: "DeleteOptions" }, "", [{ field: "propagationPolicy", message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`, reason: "FieldValueNotSupported" }])
        }
        const result = this.cluster.delete(type, namespace, name, {
          propagationPolicy: policy,
          preconditions: options.preconditions,
          dryRun: dryRun || (options.dryRun ?? []).includes("All")
        })
        if (result._tag === "Pending") return json(response, 200, result.object)
        return json(response, 200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name, ...(type.group === "" ? {} : { group: type.group }), kind: type.resource, uid: result.object.metadata.uid }
        })
      }
      case "deletecollection": {
        const [list] = this.list(request, info)
        for (const item of (list as { items: Array<KubeObject> }).items) {
          try {
            this.cluster.delete(type, item.metadata.namespace ?? "", item.metadata.name!, { dryRun })
          } catch (error) {
            if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
          }
        }
        return json(response, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success" })
      }
      default:
        throw Errors.methodNotAllowed()
    }
  }

  /** A single object, or a Table when kubectl asks for one. */
  private render(request: IncomingMessage, type: ResourceType, object: KubeObject): unknown {
    if (!Table.wantsTable(request.headers.accept)) return object
    return Table.toTable(type, [object], { includeObject: includeObject(request), now: new Date(), listMeta: { resourceVersion: object.metadata.resourceVersion ?? "" } })
  }

  private selectors(info: RequestInfo) {
    const labels = Selectors.parseLabelSelector(info.query.get("labelSelector") ?? "")
    const fields = Selectors.parseFieldSelector(info.query.get("fieldSelector") ?? "")
    Selectors.checkFieldSelector(fields, info.type)
    return (object: KubeObject) => Selectors.matchesLabels(labels, object.metadata.labels) && Selectors.matchesFields(fields, object)
  }

  private list(request: IncomingMessage, info: RequestInfo): [unknown, string] {
    const { type, query } = info
    const matches = this.selectors(info)
    const limit = integer(query, "limit")
    const continueText = query.get("continue") ?? ""
    const store = this.cluster.store
    let at = store.resourceVersion
    let start = ""
    if (continueText !== "") {
      const token = decodeContinue(continueText)
      at = token.rv
      start = token.start
    } else {
      const rv = query.get("resourceVersion") ?? ""
      const match = query.get("resourceVersionMatch") ?? ""
      if (rv !== "" && rv !== "0" && match === "Exact") {
        const exact = Number(rv)
        if (!Number.isInteger(exact)) throw Errors.badRequest(`invalid resource version: ${rv}`)
        if (exact > store.resourceVersion) throw Errors.tooOldResourceVersion(exact, store.resourceVersion)
        at = exact
      }
    }
    const snapshot = store.list(typeKey(type), type.namespaced && info.namespace !== "" ? info.namespace : undefined, at)
    if (snapshot === undefined) throw continueText === "" ? Errors.tooOldResourceVersion(at, store.compactedResourceVersion) : Errors.expiredContinue()
    const items: Array<KubeObject> = []
    let next: string | undefined
    let index = 0
    const ordered = start === "" ? snapshot : snapshot.filter((object) => objectKey(object) > start)
    for (; index < ordered.length; index++) {
      const object = ordered[index]!
      if (!matches(object)) continue
      if (limit !== undefined && limit > 0 && items.length === limit) {
        next = objectKey(items[items.length - 1]!)
        break
      }
      items.push(this.cluster.present(type, object))
    }
    const labelOrField = (query.get("labelSelector") ?? "") !== "" || (query.get("fieldSelector") ?? "") !== ""
    const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = { resourceVersion: String(at) }
    if (next !== undefined) {
      metadata.continue = encodeContinue({ rv: at, start: next })
      if (!labelOrField) metadata.remainingItemCount = ordered.length - index
    }
    if (Table.wantsTable(request.headers.accept)) {
      return [Table.toTable(type, items, { includeObject: includeObject(request), now: new Date(), listMeta: metadata }), Table.TABLE_CONTENT_TYPE]
    }
    return [{ kind: type.listKind, apiVersion: apiVersionOf(type), metadata, items }, "application/json"]
  }

  private patch(request: IncomingMessage, info: RequestInfo, text: string, dryRun: boolean): KubeObject {
    const { type, namespace, name } = info
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim()
    const current = this.cluster.get(type, namespace, name)
    const document = parseJson(text)
    let patched: unknown
    switch (contentType) {
      case "application/json-patch+json":
        patched = Patch.applyJsonPatch(current, document)
        break
      case "application/merge-patch+json":
        patched = Patch.applyMergePatch(current, document)
        break
      case "application/strategic-merge-patch+json":
        if (!Patch.strategicPatchSupported(type)) {
          throw new Errors.StatusError(415, "UnsupportedMediaType", `strategic merge patch is not supported for ${type.group}/${type.version}, Kind=${type.kind}`)
        }
        patched = Patch.applyStrategicMergePatch(current, document, type.kind)
        break
      default:
        throw Errors.unsupportedMediaType(contentType)
    }
    const object = patched as KubeObject
    const wanted = (document as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion
    if (wanted === undefined && object.metadata !== undefined) object.metadata.resourceVersion = current.metadata.resourceVersion
    return this.cluster.update(type, namespace, name, object, { subresource: info.subresource === "" ? undefined : info.subresource, dryRun })
  }

  private finalize(type: ResourceType, name: string, body: KubeObject, dryRun: boolean): KubeObject {
    const current = this.cluster.get(type, "", name)
    const finalizers = (body["spec"] as { finalizers?: Array<string> } | undefined)?.finalizers ?? []
    return this.cluster.update(type, "", name, { ...current, spec: { ...(current["spec"] as object), finalizers } }, { dryRun })
  }

  // -------------------------------------------------------------------------------------------------------------
  // Watch

  private watch(request: IncomingMessage, response: ServerResponse, info: RequestInfo): void {
    const { type, query } = info
    const matches = this.selectors(info)
    const key = typeKey(type)
    const namespace = type.namespaced && info.namespace !== "" ? info.namespace : undefined
    if (info.name !== "") {
      const fields = query.get("fieldSelector")
      if (fields !== null && fields !== "" && fields !== `metadata.name=${info.name}`) throw Errors.badRequest("fieldSelector metadata.name doesn't match requested name")
    }
    const byName = (object: KubeObject) => info.name === "" || object.metadata.name === info.name
    const inScope = (change: Change) => change.key === key && (namespace === undefined || change.namespace === namespace)
    const table = Table.wantsTable(request.headers.accept)
    const bookmarks = query.get("allowWatchBookmarks") === "true"
    const timeoutSeconds = integer(query, "timeoutSeconds")
    const fault = this.faults.watchFault(type.resource)
    const store = this.cluster.store

    response.writeHead(200, { "Content-Type": table ? Table.TABLE_CONTENT_TYPE : "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" })
    response.flushHeaders()
    this.streaming.get(response)?.()
    this.openWatches.add(response)
    let sent = 0
    let closed = false
    let dropping = false
    let headerSent = false
    const timers: Array<NodeJS.Timeout> = []
    let unsubscribe = () => {}
    const close = (destroy = false) => {
      if (closed) return
      closed = true
      unsubscribe()
      for (const timer of timers) clearTimeout(timer)
      this.openWatches.delete(response)
      if (destroy) response.destroy()
      else response.end()
    }
    request.on("close", () => close())
    const send = (eventType: string, object: unknown) => {
      if (closed || dropping) return
      const payload = eventType === "ERROR" || eventType === "BOOKMARK" || !table
        ? object
        : Table.toTable(type, [object as KubeObject], { includeObject: includeObject(request), now: new Date(), noHeaders: headerSent })
      if (table && eventType !== "ERROR" && eventType !== "BOOKMARK") headerSent = true
      const line = `${JSON.stringify({ type: eventType, object: payload })}\n`
      if (eventType === "ADDED" || eventType === "MODIFIED" || eventType === "DELETED") sent++
      if (fault?.dropAfterEvents !== undefined && sent >= fault.dropAfterEvents) {
        dropping = true
        response.write(line, () => close(true))
        return
      }
      response.write(line)
    }
    const deliver = (change: Change) => {
      if (!inScope(change)) return
      const now = change.type === "DELETED" ? false : matches(change.object) && byName(change.object)
      const before = change.previous !== undefined && matches(change.previous) && byName(change.previous)
      const object = this.cluster.present(type, structuredClone(change.object))
      if (change.type === "ADDED" && now) send("ADDED", object)
      else if (change.type === "MODIFIED") {
        if (now && before) send("MODIFIED", object)
        else if (now) send("ADDED", object)
        else if (before) send("DELETED", object)
      } else if (change.type === "DELETED" && before) send("DELETED", object)
    }

    const rvText = query.get("resourceVersion") ?? ""
    const initialEvents = query.get("sendInitialEvents") === "true"
    if (initialEvents) {
      if (!bookmarks || query.get("resourceVersionMatch") !== "NotOlderThan") {
        throw Errors.invalid({ group: "meta.k8s.io", kind: "ListOptions" }, "", [{ field: "sendInitialEvents", message: "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled and resourceVersionMatch is NotOlderThan and allowWatchBookmarks is true", reason: "FieldValueForbidden" }])
      }
    }
    if (rvText === "" || rvText === "0" || initialEvents) {
      for (const object of store.list(key, namespace) ?? []) {
        if (matches(object) && byName(object)) send("ADDED", this.cluster.present(type, object))
      }
      if (initialEvents) {
        send("BOOKMARK", { kind: type.kind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(store.resourceVersion), annotations: { "k8s.io/initial-events-end": "true" } } })
      }
    } else {
      const since = Number(rvText)
      const changes = Number.isInteger(since) ? store.changesSince(since) : undefined
      if (changes === undefined) {
        send("ERROR", Errors.tooOldResourceVersion(Number.isInteger(since) ? since : 0, store.compactedResourceVersion).body)
        close()
        return
      }
      for (const change of changes) deliver(change)
    }
    if (closed) return
    unsubscribe = store.subscribe(deliver)
    if (bookmarks) {
      const interval = this.options.bookmarkIntervalMs ?? 1000
      const tick = () => {
        send("BOOKMARK", { kind: type.kind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: String(store.resourceVersion) } })
        timers.push(setTimeout(tick, interval))
      }
      timers.push(setTimeout(tick, interval))
    }
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) timers.push(setTimeout(() => close(), timeoutSeconds * 1000))
    if (fault?.closeAfterMs !== undefined) timers.push(setTimeout(() => close(), fault.closeAfterMs))
  }

  // -------------------------------------------------------------------------------------------------------------
  // The scale subresource of custom resources that declare one (autoscaling/v1 Scale)

  private async scale(request: IncomingMessage, response: ServerResponse, info: RequestInfo, dryRun: boolean): Promise<void> {
    const { type, namespace, name } = info
    const paths = type.scale
    if (paths === undefined) throw Errors.notFoundPath()
    const current = this.cluster.get(type, namespace, name)
    const toScale = (object: KubeObject) => ({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: {
        name: object.metadata.name,
        ...(object.metadata.namespace === undefined ? {} : { namespace: object.metadata.namespace }),
        uid: object.metadata.uid,
        resourceVersion: object.metadata.resourceVersion,
        creationTimestamp: object.metadata.creationTimestamp
      },
      spec: { replicas: Number(readPath(object, paths.specReplicasPath) ?? 0) },
      status: {
        replicas: Number(readPath(object, paths.statusReplicasPath) ?? 0),
        ...(paths.labelSelectorPath === undefined || readPath(object, paths.labelSelectorPath) === undefined ? {} : { selector: String(readPath(object, paths.labelSelectorPath)) })
      }
    })
    if (info.verb === "get") return json(response, 200, toScale(current))
    if (info.verb !== "update" && info.verb !== "patch") throw Errors.methodNotAllowed()
    const text = await readBody(request)
    let wanted: { spec?: { replicas?: unknown }; metadata?: { resourceVersion?: string } }
    if (info.verb === "update") wanted = parseJson(text) as typeof wanted
    else {
      const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim()
      const base = toScale(current)
      wanted = (contentType === "application/json-patch+json" ? Patch.applyJsonPatch(base, parseJson(text)) : Patch.applyMergePatch(base, parseJson(text))) as typeof wanted
    }
    const replicas = wanted.spec?.replicas
    if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
      throw Errors.invalid({ group: "autoscaling", kind: "Scale" }, name, [{ field: "spec.replicas", message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }])
    }
    const next = structuredClone(current)
    writePath(next, paths.specReplicasPath, replicas)
    if (info.verb === "update" && wanted.metadata?.resourceVersion !== undefined) next.metadata.resourceVersion = wanted.metadata.resourceVersion
    return json(response, 200, toScale(this.cluster.update(type, namespace, name, next, { dryRun })))
  }

  // -------------------------------------------------------------------------------------------------------------
  // Pod logs and the service proxy

  private log(response: ServerResponse, info: RequestInfo): void {
    const { type, namespace, name, query } = info
    if (info.verb !== "get") throw Errors.methodNotAllowed()
    const pod = this.cluster.get(type, namespace, name)
    const spec = (pod["spec"] ?? {}) as { containers?: Array<{ name: string }>; initContainers?: Array<{ name: string }> }
    const containers = (spec.containers ?? []).map((container) => container.name)
    const all = [...containers, ...(spec.initContainers ?? []).map((container) => container.name)]
    let container = query.get("container") ?? ""
    if (container === "") {
      if (containers.length !== 1) {
        throw Errors.badRequest(`a container name must be specified for pod ${name}, choose one of: [${containers.join(" ")}]`)
      }
      container = containers[0]!
    }
    if (!all.includes(container)) throw Errors.badRequest(`container ${container} is not valid for pod ${name}`)
    const previous = query.get("previous") === "true"
    const current = this.logs.read(namespace, name, container, previous)
    if (current === undefined) throw Errors.badRequest(`previous terminated container "${container}" in pod "${name}" not found`)
    const tailLines = integer(query, "tailLines")
    const limitBytes = integer(query, "limitBytes")
    const text = shape(current.text, { tailLines, limitBytes })
    const follow = query.get("follow") === "true" && !previous && !current.ended
    response.writeHead(200, { "Content-Type": "text/plain", ...(follow ? { "Transfer-Encoding": "chunked" } : {}) })
    if (!follow) {
      response.end(text)
      return
    }
    let written = Buffer.byteLength(text)
    response.write(text)
    this.streaming.get(response)?.()
    const stop = this.logs.follow(namespace, name, container, (chunk) => {
      if (chunk === null) {
        stop()
        response.end()
        return
      }
      if (limitBytes !== undefined) {
        const room = limitBytes - written
        if (room <= 0) return
        chunk = Buffer.from(chunk).subarray(0, room).toString()
      }
      written += Buffer.byteLength(chunk)
      response.write(chunk)
      if (limitBytes !== undefined && written >= limitBytes) {
        stop()
        response.end()
      }
    })
    response.on("close", stop)
  }

  private proxy(request: IncomingMessage, response: ServerResponse, info: RequestInfo): void {
    const { type, namespace } = info
    if (type.resource !== "services") throw Errors.notFoundPath()
    const [service, port] = info.name.split(":", 2) as [string, string | undefined]
    this.cluster.get(type, namespace, service)
    const handler = this.proxies.get(`${namespace}/${service}:${port ?? ""}`) ?? this.proxies.get(`${namespace}/${service}:`)
    if (handler === undefined) throw Errors.serviceUnavailable(`no endpoints available for service "${service}"`)
    handler(request, response, info.rest === "/" || info.rest === "" ? "/" : info.rest)
  }
}

const includeObject = (request: IncomingMessage): "None" | "Metadata" | "Object" => {
  const value = new URL(request.url ?? "/", "http://sim").searchParams.get("includeObject")
  return value === "None" || value === "Object" ? value : "Metadata"
}

/** Reads a `.spec.replicas`-style path. */
const readPath = (object: unknown, path: string): unknown =>
  path.replace(/^\./, "").split(".").reduce<unknown>((value, key) => (value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined), object)

/** Writes a `.spec.replicas`-style path, creating objects on the way. */
const writePath = (object: Record<string, unknown>, path: string, value: unknown): void => {
  const keys = path.replace(/^\./, "").split(".")
  let target = object
  for (const key of keys.slice(0, -1)) {
    if (target[key] === null || typeof target[key] !== "object") target[key] = {}
    target = target[key] as Record<string, unknown>
  }
  target[keys[keys.length - 1]!] = value
}
