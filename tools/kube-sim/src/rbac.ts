/**
 * Authentication of ServiceAccount tokens and RBAC authorization, as a kube-apiserver with
 * `--authorization-mode=RBAC` decides: privileged groups, then the rules of stored roles and bindings (with the
 * bootstrap policy's discovery and self-review grants), then a 403 with the real message.
 */
import { randomBytes, randomUUID } from "node:crypto"
import type { Cluster } from "./cluster.ts"
import { StatusError } from "./errors.ts"
import type { Change } from "./store.ts"
import type { KubeObject } from "./types.ts"

/** An authenticated user: `user.Info` of the API server. */
export interface UserInfo {
  readonly name: string
  readonly groups: ReadonlyArray<string>
  readonly uid?: string | undefined
}

/** authorizer.Attributes of a request. */
export interface Attributes {
  readonly user: UserInfo
  readonly verb: string
  readonly resourceRequest: boolean
  readonly group: string
  readonly resource: string
  readonly subresource: string
  readonly namespace: string
  readonly name: string
  /** The path of a non-resource request. */
  readonly path: string
}

export interface Decision {
  readonly allowed: boolean
  readonly reason: string
}

interface PolicyRule {
  readonly verbs?: ReadonlyArray<string>
  readonly apiGroups?: ReadonlyArray<string>
  readonly resources?: ReadonlyArray<string>
  readonly resourceNames?: ReadonlyArray<string>
  readonly nonResourceURLs?: ReadonlyArray<string>
}

interface Subject {
  readonly kind?: string
  readonly name?: string
  readonly namespace?: string
}

interface Binding {
  readonly metadata: { readonly name?: string; readonly namespace?: string }
  readonly roleRef?: { readonly kind?: string; readonly name?: string }
  readonly subjects?: ReadonlyArray<Subject>
}

interface Role {
  readonly rules?: ReadonlyArray<PolicyRule>
}

const RBAC = "rbac.authorization.k8s.io"
const ROLES = `${RBAC}/roles`
const ROLE_BINDINGS = `${RBAC}/rolebindings`
const CLUSTER_ROLES = `${RBAC}/clusterroles`
const CLUSTER_ROLE_BINDINGS = `${RBAC}/clusterrolebindings`

/** The group whose members every authorizer allows (authorizerfactory's privileged groups). */
export const SYSTEM_MASTERS = "system:masters"
export const AUTHENTICATED = "system:authenticated"

/** The bootstrap policy's grants every authenticated user has (served by the API server, not stored here). */
const BOOTSTRAP_ROLES: ReadonlyMap<string, Role> = new Map([
  ["system:basic-user", { rules: [{ verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] }, { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] }] }],
  ["system:discovery", { rules: [{ verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/"] }] }],
  ["system:public-info-viewer", { rules: [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] }] }]
])

const BOOTSTRAP_BINDINGS: ReadonlyArray<Binding> = [...BOOTSTRAP_ROLES.keys()].map((name) => ({
  metadata: { name },
  roleRef: { kind: "ClusterRole", name },
  subjects: [{ kind: "Group", name: AUTHENTICATED }]
}))

const has = (list: ReadonlyArray<string> | undefined, value: string) => list !== undefined && list.includes(value)

/** rbacv1helpers.ResourceMatches: `*`, the exact `resource[/subresource]`, or `*\/subresource`. */
const resourceMatches = (rule: PolicyRule, combined: string, subresource: string): boolean =>
  (rule.resources ?? []).some((resource) => resource === "*" || resource === combined || (subresource !== "" && resource === `*/${subresource}`))

const nonResourceUrlMatches = (rule: PolicyRule, path: string): boolean =>
  (rule.nonResourceURLs ?? []).some((url) => url === "*" || url === path || (url.endsWith("*") && path.startsWith(url.slice(0, -1))))

/** RuleAllows of the RBAC authorizer. */
export const ruleAllows = (attributes: Attributes, rule: PolicyRule): boolean => {
  const verb = has(rule.verbs, "*") || has(rule.verbs, attributes.verb)
  if (!attributes.resourceRequest) return verb && nonResourceUrlMatches(rule, attributes.path)
  const combined = attributes.subresource === "" ? attributes.resource : `${attributes.resource}/${attributes.subresource}`
  return verb &&
    (has(rule.apiGroups, "*") || has(rule.apiGroups, attributes.group)) &&
    resourceMatches(rule, combined, attributes.subresource) &&
    (rule.resourceNames === undefined || rule.resourceNames.length === 0 || rule.resourceNames.includes(attributes.name))
}

/** serviceaccount.MakeUsername. */
export const serviceAccountUser = (namespace: string, name: string): string => `system:serviceaccount:${namespace}:${name}`

const appliesTo = (user: UserInfo, subject: Subject, namespace: string): boolean => {
  switch (subject.kind) {
    case "User":
      return user.name === subject.name
    case "Group":
      return user.groups.includes(subject.name ?? "")
    case "ServiceAccount": {
      const saNamespace = subject.namespace !== undefined && subject.namespace !== "" ? subject.namespace : namespace
      return saNamespace !== "" && serviceAccountUser(saNamespace, subject.name ?? "") === user.name
    }
    default:
      return false
  }
}

const describeSubject = (subject: Subject, bindingNamespace: string): string =>
  subject.kind === "ServiceAccount"
    ? `${subject.kind} ${JSON.stringify(`${subject.name ?? ""}/${subject.namespace !== undefined && subject.namespace !== "" ? subject.namespace : bindingNamespace}`)}`
    : `${subject.kind ?? ""} ${JSON.stringify(subject.name ?? "")}`

/** The RBAC authorizer over the roles and bindings in the cluster's store. */
export class Authorizer {
  private readonly cluster: Cluster

  constructor(cluster: Cluster) {
    this.cluster = cluster
  }

  /** The decision and reason for `attributes` (system:masters first, then RBAC). */
  authorize(attributes: Attributes): Decision {
    if (attributes.user.groups.includes(SYSTEM_MASTERS)) return { allowed: true, reason: "" }
    const errors: Array<string> = []
    const visit = (binding: Binding, namespace: string, describe: (subject: Subject) => string): string | undefined => {
      const subject = (binding.subjects ?? []).find((candidate) => appliesTo(attributes.user, candidate, namespace))
      if (subject === undefined) return undefined
      const role = this.role(binding, namespace)
      if (typeof role === "string") {
        errors.push(role)
        return undefined
      }
      if (!(role.rules ?? []).some((rule) => ruleAllows(attributes, rule))) return undefined
      return `RBAC: allowed by ${describe(subject)}`
    }
    const store = this.cluster.store
    const stored = store.list(CLUSTER_ROLE_BINDINGS) as unknown as Array<Binding> | undefined ?? []
    const storedNames = new Set(stored.map((binding) => binding.metadata.name))
    const clusterBindings = [...stored, ...BOOTSTRAP_BINDINGS.filter((binding) => !storedNames.has(binding.metadata.name))]
    for (const binding of clusterBindings) {
      const reason = visit(binding, "", (subject) =>
        `ClusterRoleBinding ${JSON.stringify(binding.metadata.name ?? "")} of ${binding.roleRef?.kind ?? ""} ${JSON.stringify(binding.roleRef?.name ?? "")} to ${describeSubject(subject, "")}`)
      if (reason !== undefined) return { allowed: true, reason }
    }
    if (attributes.namespace !== "") {
      for (const binding of (store.list(ROLE_BINDINGS, attributes.namespace) ?? []) as unknown as Array<Binding>) {
        const namespace = binding.metadata.namespace ?? attributes.namespace
        const reason = visit(binding, namespace, (subject) =>
          `RoleBinding ${JSON.stringify(`${binding.metadata.name ?? ""}/${namespace}`)} of ${binding.roleRef?.kind ?? ""} ${JSON.stringify(binding.roleRef?.name ?? "")} to ${describeSubject(subject, namespace)}`)
        if (reason !== undefined) return { allowed: true, reason }
      }
    }
    return { allowed: false, reason: errors.length === 0 ? "" : `RBAC: ${errors.length === 1 ? errors[0]! : `[${errors.join(", ")}]`}` }
  }

  /** The role a binding refers to, or the lister's not-found text. */
  private role(binding: Binding, namespace: string): Role | string {
    const name = binding.roleRef?.name ?? ""
    if (binding.roleRef?.kind === "Role" && namespace !== "") {
      return (this.cluster.store.get(ROLES, namespace, name) as Role | undefined) ?? `role.${RBAC} ${JSON.stringify(name)} not found`
    }
    if (binding.roleRef?.kind === "ClusterRole") {
      return (this.cluster.store.get(CLUSTER_ROLES, "", name) as Role | undefined) ?? BOOTSTRAP_ROLES.get(name) ?? `clusterrole.${RBAC} ${JSON.stringify(name)} not found`
    }
    return `unsupported role reference kind: ${JSON.stringify(binding.roleRef?.kind ?? "")}`
  }
}

/** responsewriters.forbiddenMessage of the API server. */
export const forbiddenMessage = (attributes: Attributes): string => {
  const user = JSON.stringify(attributes.user.name)
  if (!attributes.resourceRequest) return `User ${user} cannot ${attributes.verb} path ${JSON.stringify(attributes.path)}`
  const resource = attributes.subresource === "" ? attributes.resource : `${attributes.resource}/${attributes.subresource}`
  const scope = attributes.namespace === "" ? "at the cluster scope" : `in the namespace ${JSON.stringify(attributes.namespace)}`
  return `User ${user} cannot ${attributes.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(attributes.group)} ${scope}`
}

/** The 403 of a denied request: apierrors.NewForbidden over the forbidden message and the authorizer's reason. */
export const forbidden = (attributes: Attributes, reason: string): StatusError => {
  const why = reason === "" ? forbiddenMessage(attributes) : `${forbiddenMessage(attributes)}: ${reason}`
  const headers = { "X-Content-Type-Options": "nosniff" }
  if (!attributes.resourceRequest || attributes.resource === "") return new StatusError(403, "Forbidden", `forbidden: ${why}`, {}, headers)
  const qualified = attributes.group === "" ? attributes.resource : `${attributes.resource}.${attributes.group}`
  const named = attributes.name === "" ? qualified : `${qualified} ${JSON.stringify(attributes.name)}`
  return new StatusError(403, "Forbidden", `${named} is forbidden: ${why}`, {
    ...(attributes.name === "" ? {} : { name: attributes.name }),
    ...(attributes.group === "" ? {} : { group: attributes.group }),
    kind: attributes.resource
  }, headers)
}

interface IssuedToken {
  readonly namespace: string
  readonly serviceAccount: string
  readonly uid: string
  /** Milliseconds since the epoch; absent for legacy Secret tokens. */
  readonly expires?: number | undefined
  /** The Secret a legacy token lives in. */
  readonly secret?: string | undefined
}

/** The type of Secrets the token controller fills. */
export const SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token"
const NAME_ANNOTATION = "kubernetes.io/service-account.name"
const UID_ANNOTATION = "kubernetes.io/service-account.uid"
export const API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"

const jwt = (claims: Record<string, unknown>): string => {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")
  return `${part({ alg: "RS256", kid: "kube-sim" })}.${part(claims)}.${randomBytes(64).toString("base64url")}`
}

/**
 * ServiceAccount tokens: bound tokens of the TokenRequest subresource and legacy tokens the token controller
 * writes into `kubernetes.io/service-account-token` Secrets. A token authenticates while its ServiceAccount (same
 * uid) — and for a legacy token, its Secret holding it — exists and it has not expired.
 */
export class ServiceAccountTokens {
  private readonly cluster: Cluster
  private readonly issued = new Map<string, IssuedToken>()

  constructor(cluster: Cluster) {
    this.cluster = cluster
  }

  /** Issues a bound token for the ServiceAccount object `account`, valid for `expirationSeconds`. */
  issue(account: KubeObject, expirationSeconds: number, audiences: ReadonlyArray<string>): { token: string; expirationTimestamp: string } {
    const namespace = account.metadata.namespace ?? ""
    const name = account.metadata.name ?? ""
    const uid = account.metadata.uid ?? ""
    const now = Math.floor(Date.now() / 1000)
    const exp = now + expirationSeconds
    const token = jwt({
      aud: audiences,
      exp,
      iat: now,
      iss: API_AUDIENCE,
      jti: randomUUID(),
      "kubernetes.io": { namespace, serviceaccount: { name, uid } },
      nbf: now,
      sub: serviceAccountUser(namespace, name)
    })
    this.issued.set(token, { namespace, serviceAccount: name, uid, expires: exp * 1000 })
    return { token, expirationTimestamp: new Date(exp * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") }
  }

  /** The ServiceAccount user of a token, if it is one that is still valid. */
  authenticate(token: string): UserInfo | undefined {
    const found = this.issued.get(token)
    if (found === undefined) return undefined
    if (found.expires !== undefined && Date.now() >= found.expires) return undefined
    const account = this.cluster.store.get("/serviceaccounts", found.namespace, found.serviceAccount)
    if (account === undefined || account.metadata.uid !== found.uid || account.metadata.deletionTimestamp !== undefined) return undefined
    if (found.secret !== undefined) {
      const secret = this.cluster.store.get("/secrets", found.namespace, found.secret)
      const data = secret?.["data"] as Record<string, string> | undefined
      if (data?.["token"] !== Buffer.from(token).toString("base64")) return undefined
    }
    return {
      name: serviceAccountUser(found.namespace, found.serviceAccount),
      groups: ["system:serviceaccounts", `system:serviceaccounts:${found.namespace}`, AUTHENTICATED],
      uid: found.uid
    }
  }

  /** Runs the token controller on the store's changes; returns the stop function. */
  startController(): () => void {
    return this.cluster.store.subscribe((change) => this.observe(change))
  }

  private observe(change: Change): void {
    if (change.key === "/secrets" && change.type !== "DELETED" && change.object["type"] === SERVICE_ACCOUNT_TOKEN_TYPE) {
      setImmediate(() => this.fillSecret(change.namespace, change.name))
    }
    if (change.key === "/serviceaccounts" && change.type === "DELETED") {
      setImmediate(() => this.removeSecretsOf(change.object))
    }
  }

  private fillSecret(namespace: string, name: string): void {
    const secretType = this.cluster.registry.find("", "v1", "secrets")!
    const secret = this.cluster.store.get("/secrets", namespace, name)
    if (secret === undefined || secret.metadata.deletionTimestamp !== undefined) return
    const data = (secret["data"] ?? {}) as Record<string, string>
    if (data["token"] !== undefined && data["token"] !== "") return
    const accountName = secret.metadata.annotations?.[NAME_ANNOTATION] ?? ""
    const account = this.cluster.store.get("/serviceaccounts", namespace, accountName)
    const wantedUid = secret.metadata.annotations?.[UID_ANNOTATION]
    if (account === undefined || (wantedUid !== undefined && wantedUid !== account.metadata.uid)) {
      this.quietly(() => this.cluster.delete(secretType, namespace, name, { preconditions: { uid: secret.metadata.uid } }))
      return
    }
    const uid = account.metadata.uid ?? ""
    const token = jwt({
      iss: "kubernetes/serviceaccount",
      "kubernetes.io/serviceaccount/namespace": namespace,
      "kubernetes.io/serviceaccount/secret.name": name,
      "kubernetes.io/serviceaccount/service-account.name": accountName,
      "kubernetes.io/serviceaccount/service-account.uid": uid,
      sub: serviceAccountUser(namespace, accountName)
    })
    this.quietly(() => {
      this.cluster.update(secretType, namespace, name, {
        ...secret,
        metadata: { ...secret.metadata, annotations: { ...secret.metadata.annotations, [UID_ANNOTATION]: uid } },
        data: { ...data, namespace: Buffer.from(namespace).toString("base64"), token: Buffer.from(token).toString("base64") }
      })
      this.issued.set(token, { namespace, serviceAccount: accountName, uid, secret: name })
    })
  }

  private removeSecretsOf(account: KubeObject): void {
    const secretType = this.cluster.registry.find("", "v1", "secrets")!
    const namespace = account.metadata.namespace ?? ""
    for (const secret of this.cluster.store.list("/secrets", namespace) ?? []) {
      const annotations = secret.metadata.annotations ?? {}
      if (secret["type"] !== SERVICE_ACCOUNT_TOKEN_TYPE || annotations[NAME_ANNOTATION] !== account.metadata.name) continue
      if (annotations[UID_ANNOTATION] !== undefined && annotations[UID_ANNOTATION] !== account.metadata.uid) continue
      this.quietly(() => this.cluster.delete(secretType, namespace, secret.metadata.name ?? "", { preconditions: { uid: secret.metadata.uid } }))
    }
  }

  /** Controller writes lose races (the object changed or went away) without failing; the next change retries. */
  private quietly(write: () => void): void {
    try {
      write()
    } catch (error) {
      if (!(error instanceof StatusError)) throw error
    }
  }
}

type ProtoFields = Map<number, Array<Uint8Array | number>>

/** The fields of a protobuf message: varints as numbers, length-delimited values as bytes. */
const protoFields = (bytes: Uint8Array): ProtoFields => {
  const fields: ProtoFields = new Map()
  let at = 0
  const varint = (): number => {
    let value = 0
    let shift = 0
    for (;;) {
      const byte = bytes[at++]
      if (byte === undefined) throw new Error("truncated protobuf varint")
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return value
      shift += 7
    }
  }
  while (at < bytes.length) {
    const key = varint()
    const field = Math.floor(key / 8)
    const wire = key % 8
    let value: Uint8Array | number
    if (wire === 0) value = varint()
    else if (wire === 2) {
      const length = varint()
      value = bytes.subarray(at, at + length)
      at += length
    } else if (wire === 1) {
      value = 0
      at += 8
    } else if (wire === 5) {
      value = 0
      at += 4
    } else throw new Error(`unsupported protobuf wire type ${wire}`)
    fields.set(field, [...(fields.get(field) ?? []), value])
  }
  return fields
}

const protoString = (fields: ProtoFields, field: number): string | undefined => {
  const value = fields.get(field)?.[0]
  return value instanceof Uint8Array ? Buffer.from(value).toString("utf8") : undefined
}

const protoMessage = (fields: ProtoFields, field: number): ProtoFields | undefined => {
  const value = fields.get(field)?.[0]
  return value instanceof Uint8Array ? protoFields(value) : undefined
}

const PROTOBUF_MAGIC = [0x6b, 0x38, 0x73, 0x00]

/**
 * A SelfSubjectAccessReview sent as `application/vnd.kubernetes.protobuf` (kubectl auth can-i does), as the JSON
 * object it stands for; undefined when the bytes are not a protobuf-enveloped object.
 */
export const decodeSelfSubjectAccessReviewProtobuf = (bytes: Uint8Array): KubeObject | undefined => {
  if (bytes.length < 4 || PROTOBUF_MAGIC.some((byte, index) => bytes[index] !== byte)) return undefined
  const unknown = protoFields(bytes.subarray(4))
  const raw = unknown.get(2)?.[0]
  if (!(raw instanceof Uint8Array)) return undefined
  const review = protoFields(raw)
  const metadata = protoMessage(review, 1)
  const spec = protoMessage(review, 2) ?? new Map()
  const strings = (message: ProtoFields | undefined, names: ReadonlyArray<string>): Record<string, string> | undefined => {
    if (message === undefined) return undefined
    const out: Record<string, string> = {}
    names.forEach((name, index) => {
      const value = protoString(message, index + 1)
      if (value !== undefined && value !== "") out[name] = value
    })
    return out
  }
  const resourceAttributes = strings(protoMessage(spec, 1), ["namespace", "verb", "group", "version", "resource", "subresource", "name"])
  const nonResourceAttributes = strings(protoMessage(spec, 2), ["path", "verb"])
  const name = metadata === undefined ? undefined : protoString(metadata, 1)
  return {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SelfSubjectAccessReview",
    metadata: name === undefined || name === "" ? {} : { name },
    spec: {
      ...(resourceAttributes === undefined ? {} : { resourceAttributes }),
      ...(nonResourceAttributes === undefined ? {} : { nonResourceAttributes })
    }
  }
}
