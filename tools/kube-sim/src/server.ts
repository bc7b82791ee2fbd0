/**
 * The HTTP face of the simulator: Kubernetes REST paths, discovery, lists with selectors and pages, watches,
 * patches, pod logs and the service proxy — over the object semantics of `Cluster`.
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { Audit } from "./audit.ts"
import { parse as parseYaml } from "yaml"
import * as Apply from "./apply.ts"
import { type Cluster, type FieldValidation, type PropagationPolicy, storeKey } from "./cluster.ts"
import * as Discovery from "./discovery.ts"
import * as Errors from "./errors.ts"
import { Faults } from "./faults.ts"
import { Logs, shape } from "./logs.ts"
import * as OpenApi from "./openapi.ts"
import * as Patch from "./patch.ts"
import * as Rbac from "./rbac.ts"
import * as Selectors from "./selectors.ts"
import type { Change } from "./store.ts"
import * as Table from "./table.ts"
import { apiVersionOf, type KubeObject, type RequestTarget, type ResourceType, typeKey } from "./types.ts"

type Failure = { readonly go: string }
const isFailure = (error: unknown): error is Failure => typeof error === "object" && error !== null && "go" in error

/** How Go's strconv.Quote-based quoteChar prints a byte in encoding/json syntax errors. */
const quoteByte = (c: number): string => {
  if (c === 0x27) return "'\\''"
  if (c === 0x22) return "'\"'"
  const escapes: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 92: "\\\\" }
  if (escapes[c] !== undefined) return `'${escapes[c]}'`
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, "0")}'`
  if ((c >= 0x80 && c < 0xa0) || c === 0xad) return `'\\u00${c.toString(16).padStart(2, "0")}'`
  return `'${String.fromCharCode(c)}'`
}

/** The syntax error Go's encoding/json reports for `bytes` (`invalid character 'x' looking for beginning of value`), if any. */
export const goJsonSyntaxError = (bytes: Uint8Array): string | undefined => {
  let at = 0
  const fail = (context: string, atSpace = false): never => {
    if (at < bytes.length) throw { go: `invalid character ${quoteByte(bytes[at]!)} ${context}` }
    throw { go: atSpace ? `invalid character ' ' ${context}` : "unexpected end of JSON input" }
  }
  const space = () => {
    while (at < bytes.length && (bytes[at] === 0x20 || bytes[at] === 0x09 || bytes[at] === 0x0a || bytes[at] === 0x0d)) at++
  }
  const digit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39
  const hex = (c: number | undefined) => digit(c) || (c !== undefined && ((c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)))
  const literal = (word: string) => {
    for (let k = 1; k < word.length; k++) {
      at++
      if (bytes[at] !== word.charCodeAt(k)) fail(`in literal ${word} (expecting ${quoteByte(word.charCodeAt(k))})`, true)
    }
    at++
  }
  const string = () => {
    at++
    for (;;) {
      const c = bytes[at]
      if (c === undefined) fail("")
      if (c === 0x22) {
        at++
        return
      }
      if (c === 0x5c) {
        at++
        if (bytes[at] === 0x75) {
          for (let k = 0; k < 4; k++) {
            at++
            if (!hex(bytes[at])) fail("in \\u hexadecimal character escape", true)
          }
        } else if (bytes[at] === undefined || !"\"\\/bfnrt".includes(String.fromCharCode(bytes[at]!))) fail("in string escape code", true)
        at++
        continue
      }
      if (c! < 0x20) fail("in string literal")
      at++
    }
  }
  const number = () => {
    if (bytes[at] === 0x2d) {
      at++
      if (!digit(bytes[at])) fail("in numeric literal", true)
    }
    if (bytes[at] === 0x30) at++
    else while (digit(bytes[at])) at++
    if (bytes[at] === 0x2e) {
      at++
      if (!digit(bytes[at])) fail("after decimal point in numeric literal", true)
      while (digit(bytes[at])) at++
    }
    if (bytes[at] === 0x65 || bytes[at] === 0x45) {
      at++
      if (bytes[at] === 0x2b || bytes[at] === 0x2d) at++
      if (!digit(bytes[at])) fail("in exponent of numeric literal", true)
      while (digit(bytes[at])) at++
    }
  }
  const value = (): void => {
    space()
    const c = bytes[at]
    if (c === 0x7b) return object()
    if (c === 0x5b) return array()
    if (c === 0x22) return string()
    if (c === 0x2d || digit(c)) return number()
    if (c === 0x74) return literal("true")
    if (c === 0x66) return literal("false")
    if (c === 0x6e) return literal("null")
    fail("looking for beginning of value")
  }
  const object = () => {
    at++
    space()
    if (bytes[at] === 0x7d) {
      at++
      return
    }
    for (;;) {
      if (bytes[at] !== 0x22) fail("looking for beginning of object key string")
      string()
      space()
      if (bytes[at] !== 0x3a) fail("after object key")
      at++
      value()
      space()
      if (bytes[at] === 0x7d) {
        at++
        return
      }
      if (bytes[at] !== 0x2c) fail("after object key:value pair")
      at++
      space()
    }
  }
  const array = () => {
    at++
    space()
    if (bytes[at] === 0x5d) {
      at++
      return
    }
    for (;;) {
      value()
      space()
      if (bytes[at] === 0x5d) {
        at++
        return
      }
      if (bytes[at] !== 0x2c) fail("after array element")
      at++
    }
  }
  try {
    value()
    space()
    if (at < bytes.length) fail("after top-level value")
    return undefined
  } catch (error) {
    if (isFailure(error)) return error.go
    throw error
  }
}

/** summarizeData of the API server's handlers: the start of a body for an error message. */
const summarize = (bytes: Uint8Array): string => {
  if (bytes.length === 0) return "<empty>"
  const head = bytes.subarray(0, 30)
  const more = bytes.length > 30 ? " ..." : ""
  return bytes[0] === 0x7b ? `${Buffer.from(head).toString("utf8")}${more}` : `${Buffer.from(head).toString("hex")}${more}`
}

const goTypeOf = (value: unknown): string =>
  Array.isArray(value) ? "array" : value === null ? "null" : typeof value === "boolean" ? "bool" : typeof value === "object" ? "object" : typeof value

const TYPE_META = 'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'

/**
 * Decodes the body of a create or update as a real server does, with its 400 texts:
 * `the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: …`.
 */
const decodeObject = (text: string, type: ResourceType): KubeObject => {
  const bytes = Buffer.from(text, "utf8")
  const unrecognized = (why: string) =>
    Errors.badRequest(`the object provided is unrecognized (must be of type ${type.kind}): couldn't get version/kind; json parse error: ${why} (${summarize(bytes)})`)
  const syntax = goJsonSyntaxError(bytes)
  if (syntax !== undefined) throw unrecognized(syntax)
  const value = JSON.parse(text) as unknown
  if (value === null) return { apiVersion: apiVersionOf(type), kind: type.kind, metadata: {} }
  if (typeof value !== "object" || Array.isArray(value)) throw unrecognized(`json: cannot unmarshal ${goTypeOf(value)} into Go value of type ${TYPE_META}`)
  for (const field of ["apiVersion", "kind"]) {
    const found = (value as Record<string, unknown>)[field]
    if (found !== undefined && found !== null && typeof found !== "string") {
      throw unrecognized(`json: cannot unmarshal ${goTypeOf(found)} into Go struct field .${field} of type string`)
    }
  }
  return value as KubeObject
}

/** Parses a patch document; a syntax error is 400 with Go's text. */
const decodePatch = (text: string): unknown => {
  const syntax = goJsonSyntaxError(Buffer.from(text, "utf8"))
  if (syntax !== undefined) throw Errors.badRequest(syntax)
  return JSON.parse(text)
}

/** The 405 of a method the path has no route for (go-restful, through the API server's service error handler). */
const methodNotAllowed = () => new Errors.StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})

const BUILTIN_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"]
const CUSTOM_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]

/** The 415 of a patch content type the resource does not take (custom resources take no strategic merge patch). */
const unsupportedPatch = (type: ResourceType) =>
  new Errors.StatusError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: ${(type.custom === true ? CUSTOM_PATCH_TYPES : BUILTIN_PATCH_TYPES).join(", ")}`)

/** A 410 for a continue token from before a compaction; its Status carries a token that continues at the latest version. */
class ExpiredContinue extends Errors.StatusError {
  readonly continueToken: string

  constructor(continueToken: string) {
    super(
      410,
      "Expired",
      "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
    )
    this.continueToken = continueToken
  }
}

/** Kinds whose delete answers with the deleted object rather than a Status (their stores' ReturnDeletedObject). */
const RETURNS_DELETED = new Set(["/pods", "/services", "/serviceaccounts"])

/** events.k8s.io/v1 field labels → the core Event fields they select on. */
const EVENTS_V1_FIELDS: Readonly<Record<string, string>> = {
  "regarding.kind": "involvedObject.kind",
  "regarding.namespace": "involvedObject.namespace",
  "regarding.name": "involvedObject.name",
  "regarding.uid": "involvedObject.uid",
  "regarding.apiVersion": "involvedObject.apiVersion",
  "regarding.resourceVersion": "involvedObject.resourceVersion",
  "regarding.fieldPath": "involvedObject.fieldPath",
  reportingController: "reportingComponent"
}

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
  /** Authorize every request with RBAC (`--authorization-mode=RBAC`); otherwise every authenticated request is allowed. */
  readonly rbac?: boolean | undefined
}

/** Static-token users that are cluster administrators (system:masters). */
const ADMIN_USERS = new Set(["kubernetes-admin", "system:admin"])

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

const json = (response: ServerResponse, code: number, body: unknown, contentType = "application/json", headers: Record<string, string | Array<string>> = {}) => {
  const text = JSON.stringify(body)
  response.writeHead(code, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text), ...headers })
  response.end(text)
}

const readBytes = (request: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks)))
    request.on("error", reject)
  })

const readBody = async (request: IncomingMessage): Promise<string> => (await readBytes(request)).toString("utf8")

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
  /** The resourceVersion of the list the pages belong to; -1 continues at the latest version. */
  rv: number
  start: string
}

const encodeContinue = (token: ContinueToken): string => Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: token.rv, start: token.start })).toString("base64url")

/** storage.DecodeContinue, with the 400 texts of a real server (`invalid continue token: continue key is not valid: …`). */
const decodeContinue = (text: string): ContinueToken => {
  const invalid = (why: string) => Errors.badRequest(`invalid continue token: continue key is not valid${why}`)
  const bad = /[^A-Za-z0-9_-]/.exec(text)
  if (bad !== null) throw invalid(`: illegal base64 data at input byte ${bad.index}`)
  if (text.length % 4 === 1) throw invalid(`: illegal base64 data at input byte ${text.length - 1}`)
  const bytes = Buffer.from(text, "base64url")
  const syntax = goJsonSyntaxError(bytes)
  if (syntax !== undefined) throw invalid(`: ${syntax}`)
  const token = JSON.parse(bytes.toString("utf8")) as { v?: unknown; rv?: unknown; start?: unknown } | null
  if (token === null || typeof token !== "object" || Array.isArray(token)) throw invalid(`: json: cannot unmarshal ${goTypeOf(token)} into Go value of type storage.continueToken`)
  if (token.v !== "meta.k8s.io/v1") throw invalid(": server does not recognize this encoded version")
  const rv = typeof token.rv === "number" && Number.isInteger(token.rv) ? token.rv : 0
  if (rv === 0) throw invalid(": incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
  if (typeof token.start !== "string" || token.start === "") throw invalid(": encoded start key empty (version meta.k8s.io/v1)")
  return { rv, start: token.start }
}

/** metainternalversion's ValidateListOptions: the 422s of a list's resourceVersionMatch. */
const validateListOptions = (rv: string, match: string, continueText: string): void => {
  if (match === "") return
  const causes: Array<{ field: string; message: string; reason: string }> = []
  const forbid = (message: string) => causes.push({ field: "resourceVersionMatch", message: `Forbidden: ${message}`, reason: "FieldValueForbidden" })
  if (rv === "") forbid("resourceVersionMatch is forbidden unless resourceVersion is provided")
  if (continueText !== "") forbid("resourceVersionMatch is forbidden when continue is provided")
  if (match !== "Exact" && match !== "NotOlderThan") {
    causes.push({ field: "resourceVersionMatch", message: `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""`, reason: "FieldValueNotSupported" })
  }
  if (match === "Exact" && rv === "0") forbid('resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
  if (causes.length > 0) throw Errors.invalid({ group: "meta.k8s.io", kind: "ListOptions" }, "", causes)
}

/** DeleteOptions from the query and the body of a delete. */
const deleteOptions = (query: URLSearchParams, text: string) => {
  const body = text.trim() === "" ? {} : (parseJson(text) as {
    propagationPolicy?: PropagationPolicy
    preconditions?: { uid?: string; resourceVersion?: string }
    dryRun?: Array<string>
    orphanDependents?: boolean
    gracePeriodSeconds?: number
  })
  const policy = (query.get("propagationPolicy") as PropagationPolicy | null) ?? body.propagationPolicy ??
    (body.orphanDependents === true ? "Orphan" : body.orphanDependents === false ? "Background" : undefined)
  if (policy !== undefined && !["Foreground", "Background", "Orphan"].includes(policy)) {
    throw Errors.invalid({ group: "meta.k8s.io", kind: "DeleteOptions" }, "", [{ field: "propagationPolicy", message: `Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`, reason: "FieldValueNotSupported" }])
  }
  const graceText = query.get("gracePeriodSeconds")
  const grace = graceText === null ? body.gracePeriodSeconds : Number(graceText)
  if (grace !== undefined && !(typeof grace === "number" && Number.isInteger(grace))) {
    throw Errors.badRequest(`invalid gracePeriodSeconds: ${JSON.stringify(graceText ?? grace)}`)
  }
  return { propagationPolicy: policy, preconditions: body.preconditions, dryRun: (body.dryRun ?? []).includes("All"), gracePeriodSeconds: grace }
}

/** What a create, update or patch request asks of the write: its query options, validated as a real server does. */
interface WriteParams {
  readonly fieldValidation: FieldValidation
  readonly manager: string
  readonly force: boolean
  readonly warnings: Array<string>
}

/**
 * `CreateOptions`/`UpdateOptions`/`PatchOptions` from the query (`ValidatePatchOptions` and friends): an unknown
 * `fieldValidation`, an apply without `fieldManager`, a manager over 128 bytes or `force` on a non-apply patch is
 * `422 <Kind>Options.meta.k8s.io "" is invalid`. Without `fieldManager` the manager is named after the User-Agent.
 */
const writeParams = (query: URLSearchParams, userAgent: string | undefined, kind: "CreateOptions" | "UpdateOptions" | "PatchOptions", apply = false): WriteParams => {
  const causes: Array<{ field: string; message: string; reason: string }> = []
  const fieldValidation = query.get("fieldValidation") ?? ""
  if (fieldValidation !== "" && !["Ignore", "Warn", "Strict"].includes(fieldValidation)) {
    causes.push({ field: "fieldValidation", message: `Unsupported value: ${JSON.stringify(fieldValidation)}: supported values: "Ignore", "Warn", "Strict"`, reason: "FieldValueNotSupported" })
  }
  const given = query.get("fieldManager") ?? ""
  if (apply && given === "") causes.push({ field: "fieldManager", message: "Required value: is required for apply patch", reason: "FieldValueRequired" })
  if (Buffer.byteLength(given) > 128) causes.push({ field: "fieldManager", message: "Too long: may not be more than 128 bytes", reason: "FieldValueTooLong" })
  const force = query.get("force")
  if (kind === "PatchOptions" && !apply && force !== null) causes.push({ field: "force", message: "Forbidden: may not be specified for non-apply patch", reason: "FieldValueForbidden" })
  if (causes.length > 0) throw Errors.invalid({ group: "meta.k8s.io", kind }, "", causes)
  return {
    fieldValidation: (fieldValidation === "" ? "Warn" : fieldValidation) as FieldValidation,
    manager: given === "" ? Apply.defaultManager(userAgent) : given,
    force: force === "true",
    warnings: []
  }
}

/** The `Warning` response headers (RFC 7234 `299 - "text"`, as the API server writes them). */
const warningHeaders = (warnings: ReadonlyArray<string>): Record<string, Array<string>> =>
  warnings.length === 0 ? {} : { Warning: [...new Set(warnings)].map((text) => `299 - ${JSON.stringify(text)}`) }

export class ApiServer {
  readonly audit = new Audit()
  readonly faults: Faults
  readonly logs = new Logs()
  private readonly proxies = new Map<string, ProxyHandler>()
  private readonly openWatches = new Map<ServerResponse, () => void>()
  /** Streams (watches, followed logs) are audited when they start, not when they end. */
  private readonly streaming = new WeakMap<ServerResponse, () => void>()

  readonly cluster: Cluster
  /** ServiceAccount tokens: TokenRequest and the token controller of token Secrets. */
  readonly serviceAccountTokens: Rbac.ServiceAccountTokens
  readonly authorizer: Rbac.Authorizer
  private readonly options: ServerOptions

  constructor(cluster: Cluster, options: ServerOptions) {
    this.cluster = cluster
    this.options = options
    this.faults = new Faults(options.seed)
    this.serviceAccountTokens = new Rbac.ServiceAccountTokens(cluster)
    this.serviceAccountTokens.startController()
    this.authorizer = new Rbac.Authorizer(cluster)
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
    for (const close of [...this.openWatches.values()]) close()
    this.openWatches.clear()
  }

  handle(request: IncomingMessage, response: ServerResponse): void {
    const started = new Date()
    const url = new URL(request.url ?? "/", "http://sim")
    let user = ""
    let target: RequestTarget = { verb: (request.method ?? "GET").toLowerCase(), resource: "", group: "" }
    let recorded = false
    const recordAudit = () => {
      if (recorded) return
      recorded = true
      this.audit.record({
        time: started.toISOString(),
        user,
        ...target,
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
      const body = status instanceof ExpiredContinue ? { ...status.body, metadata: { continue: status.continueToken } } : status.body
      json(response, status.code, body, "application/json", status.headers)
    }
    let info: RequestInfo | undefined
    let unrouted: unknown
    try {
      info = this.route(request.method ?? "GET", url)
    } catch (error) {
      unrouted = error
    }
    if (info !== undefined) target = targetOf(info)
    try {
      const authenticated = this.authenticate(request)
      user = authenticated.name
      if (unrouted !== undefined) throw unrouted
      if (this.options.rbac === true) {
        const attributes = this.attributes(authenticated, request.method ?? "GET", url, info)
        const decision = this.authorizer.authorize(attributes)
        if (!decision.allowed) throw Rbac.forbidden(attributes, decision.reason)
      }
      if (info === undefined) {
        this.serveNonResource(request, response, url)
        return
      }
      const routed = info
      const fault = this.faults.decide({ ...target, user })
      const latency = this.faults.latencyMs()
      const go = () => {
        if (fault !== undefined) return fail(fault)
        if (!this.allowed(request.method ?? "GET", routed)) return fail(methodNotAllowed())
        this.serveResource(request, response, routed, authenticated).catch(fail)
      }
      if (latency > 0) setTimeout(go, latency)
      else go()
    } catch (error) {
      fail(error)
    }
  }

  private authenticate(request: IncomingMessage): Rbac.UserInfo {
    const header = request.headers.authorization
    if (header === undefined) {
      if (this.options.insecureAdmin === true) return { name: "system:admin", groups: [Rbac.SYSTEM_MASTERS, Rbac.AUTHENTICATED] }
      throw Errors.unauthorized()
    }
    const match = /^Bearer\s+(.+)$/i.exec(header)
    if (match === null) throw Errors.unauthorized()
    const token = match[1]!.trim()
    const name = this.options.tokens.get(token)
    if (name !== undefined) return { name, groups: ADMIN_USERS.has(name) ? [Rbac.SYSTEM_MASTERS, Rbac.AUTHENTICATED] : [Rbac.AUTHENTICATED] }
    const account = this.serviceAccountTokens.authenticate(token)
    if (account === undefined) throw Errors.unauthorized()
    return account
  }

  /**
   * The authorizer attributes of a request. A list or watch selecting one `metadata.name` carries that name, as the
   * API server's request info does, so rules with resourceNames can allow it.
   */
  private attributes(user: Rbac.UserInfo, method: string, url: URL, info: RequestInfo | undefined): Rbac.Attributes {
    if (info === undefined) {
      return { user, verb: method.toLowerCase(), resourceRequest: false, group: "", resource: "", subresource: "", namespace: "", name: "", path: url.pathname }
    }
    let name = info.name
    if (name === "" && (info.verb === "list" || info.verb === "watch")) {
      const single = /^(?:metadata\.name)==?([^,]*)$/.exec(info.query.get("fieldSelector") ?? "")
      if (single !== null) name = single[1]!
    }
    return { user, verb: info.verb, resourceRequest: true, group: info.type.group, resource: info.type.resource, subresource: info.subresource, namespace: info.namespace, name, path: url.pathname }
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
          throw methodNotAllowed()
      }
    })()
    return { verb, type, namespace, name, subresource, rest: `/${after.join("/")}${url.pathname.endsWith("/") && after.length > 0 ? "/" : ""}`, query }
  }

  /** Whether the path has a route for the method: no PUT or PATCH of a collection, no POST to an object, only the type's verbs. */
  private allowed(method: string, info: RequestInfo): boolean {
    if (info.subresource !== "") return info.subresource !== "status" || ["GET", "PUT", "PATCH"].includes(method)
    const collection = info.name === ""
    if (collection && (method === "PUT" || method === "PATCH")) return false
    if (!collection && method === "POST") return false
    return info.type.verbs.includes(info.verb)
  }

  private serveNonResource(request: IncomingMessage, response: ServerResponse, url: URL): void {
    if (request.method !== "GET") throw methodNotAllowed()
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
    if (path === "/openapi/v3") return json(response, 200, OpenApi.rootDocument(registry, (group, version) => this.openApiDocument(group, version)))
    if (path.startsWith("/openapi/v3/")) {
      const gv = path.slice("/openapi/v3/".length).split("/")
      const [group, version] = gv[0] === "api" && gv.length === 2 ? ["", gv[1]!] : gv[0] === "apis" && gv.length === 3 ? [gv[1]!, gv[2]!] : ["", ""]
      const document = version === "" ? undefined : this.openApiDocument(group, version)
      if (document !== undefined) {
        const etag = `"${OpenApi.documentHash(document)}"`
        if (request.headers["if-none-match"] === etag) {
          response.writeHead(304, { Etag: etag })
          response.end()
          return
        }
        return json(response, 200, document, "application/json", { Etag: etag, "Cache-Control": url.searchParams.has("hash") ? "public, immutable" : "no-cache, private" })
      }
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

  private openApiDocument(group: string, version: string): object | undefined {
    return OpenApi.groupVersionDocument(this.cluster.registry, group, version, (type) => this.cluster.schemaOf(type))
  }

  // -------------------------------------------------------------------------------------------------------------
  // Resources

  private async serveResource(request: IncomingMessage, response: ServerResponse, info: RequestInfo, user: Rbac.UserInfo): Promise<void> {
    const { type, namespace, name, query } = info
    const dryRun = query.getAll("dryRun").includes("All")
    if (info.subresource === "token" && typeKey(type) === "/serviceaccounts") return this.tokenRequest(request, response, info)
    if (typeKey(type) === "authorization.k8s.io/selfsubjectaccessreviews" && info.verb === "create") return this.selfSubjectAccessReview(request, response, user)
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
        const params = writeParams(query, request.headers["user-agent"], "CreateOptions")
        const body = decodeObject(await readJsonBody(request), type)
        const created = this.cluster.create(type, namespace, body, { dryRun, request: true, ...params })
        return json(response, 201, created, "application/json", warningHeaders(params.warnings))
      }
      case "update": {
        const params = writeParams(query, request.headers["user-agent"], "UpdateOptions")
        const body = decodeObject(await readJsonBody(request), type)
        const subresource = info.subresource === "" ? undefined : info.subresource
        if (subresource === "finalize") return json(response, 200, this.finalize(type, name, body, dryRun))
        const updated = this.cluster.update(type, namespace, name, body, { subresource, dryRun, request: true, replace: true, ...params })
        return json(response, 200, updated, "application/json", warningHeaders(params.warnings))
      }
      case "patch": {
        const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim()
        const params = writeParams(query, request.headers["user-agent"], "PatchOptions", contentType === "application/apply-patch+yaml")
        const [code, object] = this.patch(request, info, await readBody(request), dryRun, params)
        return json(response, code, object, "application/json", warningHeaders(params.warnings))
      }
      case "delete": {
        const options = deleteOptions(query, await readBody(request))
        const result = this.cluster.delete(type, namespace, name, { ...options, dryRun: dryRun || options.dryRun })
        if (result._tag === "Pending" || RETURNS_DELETED.has(typeKey(type))) return json(response, 200, result.object)
        return json(response, 200, {
          kind: "Status",
          apiVersion: "v1",
          metadata: {},
          status: "Success",
          details: { name, ...(type.group === "" ? {} : { group: type.group }), kind: type.resource, uid: result.object.metadata.uid }
        })
      }
      case "deletecollection": {
        const options = deleteOptions(query, await readBody(request))
        const list = this.collection(info)
        for (const item of list.items) {
          try {
            this.cluster.delete(type, item.metadata.namespace ?? "", item.metadata.name!, { ...options, dryRun: dryRun || options.dryRun })
          } catch (error) {
            if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
          }
        }
        const { continue: _next, remainingItemCount: _remaining, ...metadata } = list.metadata
        return json(response, 200, { kind: type.listKind, apiVersion: apiVersionOf(type), metadata, items: list.items })
      }
      default:
        throw methodNotAllowed()
    }
  }

  /** POST `serviceaccounts/{name}/token`: a TokenRequest answered with a bound token for the ServiceAccount. */
  private async tokenRequest(request: IncomingMessage, response: ServerResponse, info: RequestInfo): Promise<void> {
    if (info.verb !== "create") throw methodNotAllowed()
    const tokenType = { group: "authentication.k8s.io", version: "v1", kind: "TokenRequest" }
    const body = decodeObject(await readJsonBody(request), { ...info.type, ...tokenType }) as KubeObject & { spec?: { audiences?: Array<string>; expirationSeconds?: number; boundObjectRef?: unknown } }
    const account = this.cluster.get(info.type, info.namespace, info.name)
    const spec = body.spec ?? {}
    const expirationSeconds = spec.expirationSeconds ?? 3600
    if (expirationSeconds < 600) {
      throw Errors.invalid(tokenType, info.name, [{ field: "spec.expirationSeconds", message: `Invalid value: ${expirationSeconds}: may not specify a duration less than 10 minutes` }])
    }
    if (expirationSeconds > 2 ** 32) {
      throw Errors.invalid(tokenType, info.name, [{ field: "spec.expirationSeconds", message: `Invalid value: ${expirationSeconds}: may not specify a duration larger than 2^32 seconds` }])
    }
    const audiences = spec.audiences !== undefined && spec.audiences.length > 0 ? spec.audiences : [Rbac.API_AUDIENCE]
    const issued = this.serviceAccountTokens.issue(account, expirationSeconds, audiences)
    json(response, 201, {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name: info.name, namespace: info.namespace, creationTimestamp: null },
      spec: { audiences, expirationSeconds, boundObjectRef: spec.boundObjectRef ?? null },
      status: issued
    })
  }

  /** POST selfsubjectaccessreviews: whether the caller may do what the review's spec describes. */
  private async selfSubjectAccessReview(request: IncomingMessage, response: ServerResponse, user: Rbac.UserInfo): Promise<void> {
    const reviewType = { group: "authorization.k8s.io", kind: "SelfSubjectAccessReview" }
    const registered = this.cluster.registry.find("authorization.k8s.io", "v1", "selfsubjectaccessreviews")!
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim()
    let body: KubeObject
    if (contentType === "application/vnd.kubernetes.protobuf") {
      let decoded: KubeObject | undefined
      try {
        decoded = Rbac.decodeSelfSubjectAccessReviewProtobuf(await readBytes(request))
      } catch {
        decoded = undefined
      }
      if (decoded === undefined) throw Errors.badRequest("the body of the request could not be decoded as a protobuf SelfSubjectAccessReview")
      body = decoded
    } else body = decodeObject(await readJsonBody(request), registered)
    const spec = (body["spec"] ?? {}) as {
      resourceAttributes?: { namespace?: string; verb?: string; group?: string; resource?: string; subresource?: string; name?: string }
      nonResourceAttributes?: { path?: string; verb?: string }
    }
    const resource = spec.resourceAttributes
    const nonResource = spec.nonResourceAttributes
    if ((resource === undefined) === (nonResource === undefined)) {
      throw Errors.invalid(reviewType, "", resource === undefined
        ? [{ field: "spec.resourceAttributes", message: "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified", reason: "FieldValueRequired" }]
        : [{ field: "spec.nonResourceAttributes", message: "Invalid value: \"null\": cannot be specified in combination with resourceAttributes" }])
    }
    const attributes: Rbac.Attributes = resource !== undefined
      ? { user, verb: resource.verb ?? "", resourceRequest: true, group: resource.group ?? "", resource: resource.resource ?? "", subresource: resource.subresource ?? "", namespace: resource.namespace ?? "", name: resource.name ?? "", path: "" }
      : { user, verb: nonResource?.verb ?? "", resourceRequest: false, group: "", resource: "", subresource: "", namespace: "", name: "", path: nonResource?.path ?? "" }
    const decision = this.options.rbac === true ? this.authorizer.authorize(attributes) : { allowed: true, reason: "" }
    json(response, 201, {
      kind: "SelfSubjectAccessReview",
      apiVersion: "authorization.k8s.io/v1",
      metadata: { ...body.metadata, creationTimestamp: null },
      spec,
      status: { allowed: decision.allowed, ...(decision.reason === "" ? {} : { reason: decision.reason }) }
    })
  }

  /** A single object, or a Table when kubectl asks for one. */
  private render(request: IncomingMessage, type: ResourceType, object: KubeObject): unknown {
    if (!Table.wantsTable(request.headers.accept)) return object
    return Table.toTable(type, [object], { includeObject: includeObject(request), now: new Date(), listMeta: { resourceVersion: object.metadata.resourceVersion ?? "" } })
  }

  /**
   * The label and field selectors of a list or watch as a predicate on stored objects. events.k8s.io/v1 field labels
   * are converted to the core Event fields they select on, as the real field label conversion does.
   */
  private selectors(info: RequestInfo) {
    const labels = Selectors.parseLabelSelector(info.query.get("labelSelector") ?? "")
    let fields = Selectors.parseFieldSelector(info.query.get("fieldSelector") ?? "")
    Selectors.checkFieldSelector(fields, info.type)
    if (storeKey(info.type) !== typeKey(info.type)) fields = fields.map((requirement) => ({ ...requirement, field: EVENTS_V1_FIELDS[requirement.field] ?? requirement.field }))
    return (object: KubeObject) => Selectors.matchesLabels(labels, object.metadata.labels) && Selectors.matchesFields(fields, object)
  }

  private list(request: IncomingMessage, info: RequestInfo): [unknown, string] {
    const { items, metadata } = this.collection(info)
    if (Table.wantsTable(request.headers.accept)) {
      return [Table.toTable(info.type, items, { includeObject: includeObject(request), now: new Date(), listMeta: metadata }), Table.TABLE_CONTENT_TYPE]
    }
    return [{ kind: info.type.listKind, apiVersion: apiVersionOf(info.type), metadata, items }, "application/json"]
  }

  /** The objects a list answers with: selected, paged and at the resourceVersion the query asks for. */
  private collection(info: RequestInfo): { items: Array<KubeObject>; metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } } {
    const { type, query } = info
    const limit = integer(query, "limit")
    const continueText = query.get("continue") ?? ""
    const rv = query.get("resourceVersion") ?? ""
    const match = query.get("resourceVersionMatch") ?? ""
    validateListOptions(rv, match, continueText)
    const matches = this.selectors(info)
    const store = this.cluster.store
    let at = store.resourceVersion
    let start = ""
    if (continueText !== "") {
      const token = decodeContinue(continueText)
      if (rv !== "" && rv !== "0") throw Errors.badRequest("specifying resource version is not allowed when using continue")
      if (token.rv > 0) at = token.rv
      start = token.start
    } else if (rv !== "" && rv !== "0" && (match === "Exact" || (match === "" && limit !== undefined && limit > 0))) {
      if (!/^[0-9]+$/.test(rv)) throw Errors.badRequest(`invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: invalid syntax`)
      const exact = Number(rv)
      if (exact > store.resourceVersion) {
        throw new Errors.StatusError(504, "Timeout", `Too large resource version: ${exact}, current: ${store.resourceVersion}`, {
          causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
          retryAfterSeconds: 1
        })
      }
      at = exact
    }
    const snapshot = store.snapshot(storeKey(type), type.namespaced && info.namespace !== "" ? info.namespace : undefined, at)
    if (snapshot === undefined) {
      if (continueText !== "") throw new ExpiredContinue(encodeContinue({ rv: -1, start }))
      throw new Errors.StatusError(410, "Expired", "The resourceVersion for the provided list is too old.")
    }
    const ids = snapshot.ids
    let index = 0
    if (start !== "") {
      let high = ids.length
      while (index < high) {
        const middle = (index + high) >> 1
        if (ids[middle]! <= start) index = middle + 1
        else high = middle
      }
    }
    const items: Array<KubeObject> = []
    let next: string | undefined
    let lastId = ""
    for (; index < ids.length; index++) {
      const object = snapshot.get(ids[index]!)!
      if (!matches(object)) continue
      if (limit !== undefined && limit > 0 && items.length === limit) {
        next = lastId
        break
      }
      lastId = ids[index]!
      items.push(this.cluster.present(type, { ...object }))
    }
    const ordered = ids
    const labelOrField = (query.get("labelSelector") ?? "") !== "" || (query.get("fieldSelector") ?? "") !== ""
    const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = { resourceVersion: String(at) }
    if (next !== undefined) {
      metadata.continue = encodeContinue({ rv: at, start: next })
      if (!labelOrField) metadata.remainingItemCount = ordered.length - index
    }
    return { items, metadata }
  }

  private patch(request: IncomingMessage, info: RequestInfo, text: string, dryRun: boolean, params: WriteParams): [number, KubeObject] {
    const { type, namespace, name } = info
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim()
    const accepted = type.custom === true ? CUSTOM_PATCH_TYPES : BUILTIN_PATCH_TYPES
    if (!accepted.includes(contentType)) throw unsupportedPatch(type)
    if (contentType === "application/apply-patch+yaml") return this.apply(info, text, dryRun, params)
    const current = this.cluster.get(type, namespace, name)
    const document = decodePatch(text)
    let patched: unknown
    switch (contentType) {
      case "application/json-patch+json":
        patched = Patch.applyJsonPatch(current, document)
        break
      case "application/merge-patch+json":
        patched = Patch.applyMergePatch(current, document)
        break
      default:
        patched = Patch.applyStrategicMergePatch(current, document, type.kind)
    }
    const object = patched as KubeObject
    const wanted = (document as { metadata?: { resourceVersion?: string } } | null)?.metadata?.resourceVersion
    if (wanted === undefined && object.metadata !== undefined) object.metadata.resourceVersion = current.metadata.resourceVersion
    return [200, this.cluster.update(type, namespace, name, object, { subresource: info.subresource === "" ? undefined : info.subresource, dryRun, request: true, ...params })]
  }

  /**
   * Server-side apply: the configuration (YAML or JSON) is merged into the live object (or creates it, 201) by the
   * apply engine, which records the manager's fields and refuses conflicts with other managers unless `force`; the
   * result then takes the same admission as any write.
   */
  private apply(info: RequestInfo, text: string, dryRun: boolean, params: WriteParams): [number, KubeObject] {
    const { type, namespace, name } = info
    let config: unknown
    try {
      config = parseYaml(text, { version: "1.2", uniqueKeys: true })
    } catch (error) {
      throw Errors.badRequest(`error decoding YAML: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`)
    }
    if (config === null || typeof config !== "object" || Array.isArray(config)) throw Errors.badRequest("error decoding YAML: the apply configuration must be an object")
    const object = config as KubeObject
    const metadata = object.metadata ?? {}
    if (typeof object.apiVersion !== "string" || object.apiVersion === "" || typeof object.kind !== "string" || object.kind === "") {
      throw Errors.badRequest("invalid object: the apply configuration must set apiVersion and kind")
    }
    if (object.apiVersion !== apiVersionOf(type) || object.kind !== type.kind) {
      throw Errors.badRequest(`the API version in the data (${object.apiVersion}) and kind (${object.kind}) do not match the expected ${apiVersionOf(type)} ${type.kind}`)
    }
    if (metadata.name !== undefined && metadata.name !== name) throw Errors.badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`)
    if (metadata.managedFields !== undefined) throw Errors.badRequest("metadata.managedFields must be nil")
    let live: KubeObject | undefined
    try {
      live = this.cluster.get(type, namespace, name)
    } catch (error) {
      if (!(error instanceof Errors.StatusError && error.code === 404)) throw error
    }
    const subresource = info.subresource === "" ? undefined : info.subresource
    if (live === undefined && subresource !== undefined) throw Errors.notFound(type, name)
    const merged = Apply.serverSideApply({
      live,
      config: { ...object, metadata: { ...metadata, name, ...(type.namespaced ? { namespace } : {}) } },
      manager: params.manager,
      force: params.force,
      shape: this.cluster.shapeOf(type),
      apiVersion: apiVersionOf(type),
      now: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      ...(subresource === undefined ? {} : { subresource })
    })
    const options = { dryRun, request: true, fieldValidation: params.fieldValidation, warnings: params.warnings }
    if (live === undefined) return [201, this.cluster.create(type, namespace, merged, options)]
    merged.metadata.resourceVersion = live.metadata.resourceVersion
    return [200, this.cluster.update(type, namespace, name, merged, { ...options, subresource })]
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
    const key = storeKey(type)
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
    this.openWatches.set(response, () => close())
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
      spec: Number(readPath(object, paths.specReplicasPath) ?? 0) === 0 ? {} : { replicas: Number(readPath(object, paths.specReplicasPath)) },
      status: {
        replicas: Number(readPath(object, paths.statusReplicasPath) ?? 0),
        ...(paths.labelSelectorPath === undefined || readPath(object, paths.labelSelectorPath) === undefined ? {} : { selector: String(readPath(object, paths.labelSelectorPath)) })
      }
    })
    if (info.verb === "get") return json(response, 200, toScale(current))
    if (info.verb !== "update" && info.verb !== "patch") throw methodNotAllowed()
    const text = await readBody(request)
    let wanted: { spec?: { replicas?: unknown }; metadata?: { resourceVersion?: string } }
    if (info.verb === "update") wanted = decodeObject(text, { ...type, kind: "Scale" }) as typeof wanted
    else {
      const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim()
      if (contentType === "application/apply-patch+yaml") throw Errors.unsupportedMediaType(contentType)
      if (!CUSTOM_PATCH_TYPES.includes(contentType)) throw unsupportedPatch(type)
      const base = toScale(current)
      const document = decodePatch(text)
      wanted = (contentType === "application/json-patch+json" ? Patch.applyJsonPatch(base, document) : Patch.applyMergePatch(base, document)) as typeof wanted
    }
    const replicas = wanted.spec?.replicas ?? 0
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
    if (info.verb !== "get") throw methodNotAllowed()
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

/** The audit and fault view of a routed request: its verb and resource, with empty parts left out. */
const targetOf = (info: RequestInfo): RequestTarget => ({
  verb: info.verb,
  resource: info.type.resource,
  group: info.type.group,
  ...(info.subresource === "" ? {} : { subresource: info.subresource }),
  ...(info.namespace === "" ? {} : { namespace: info.namespace }),
  ...(info.name === "" ? {} : { name: info.name })
})

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
