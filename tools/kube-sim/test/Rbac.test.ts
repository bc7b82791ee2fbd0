import * as k8s from "@kubernetes/client-node"
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { kubeconfigYaml } from "../src/kubeconfig.ts"
import { kubectl } from "./support/kubectl.ts"
import { eventually, failure, harness, type Harness } from "./support/sim.ts"

let h: Harness
let rbac: k8s.RbacAuthorizationV1Api
let saCount = 0

const clientFor = (token: string): k8s.KubeConfig => {
  const kc = new k8s.KubeConfig()
  kc.loadFromOptions({
    clusters: [{ name: "sim", server: h.sim.url, skipTLSVerify: true }],
    users: [{ name: "sa", token }],
    contexts: [{ name: "sa", cluster: "sim", user: "sa" }],
    currentContext: "sa"
  })
  return kc
}

/** A fresh namespace with a ServiceAccount `sa` and a TokenRequest token for it. */
const account = async () => {
  const namespace = `rbac-${++saCount}`
  await h.core.createNamespace({ body: { metadata: { name: namespace } } })
  await h.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "sa" } } })
  const request = await h.core.createNamespacedServiceAccountToken({ name: "sa", namespace, body: { spec: {} } })
  const token = request.status!.token!
  const kc = clientFor(token)
  return { namespace, token, kc, core: kc.makeApiClient(k8s.CoreV1Api), user: `system:serviceaccount:${namespace}:sa` }
}

const role = (namespace: string, name: string, rules: Array<k8s.V1PolicyRule>) => rbac.createNamespacedRole({ namespace, body: { metadata: { name }, rules } })

const bindRole = (namespace: string, name: string, roleRef: { kind: string; name: string }, subjectNamespace: string) =>
  rbac.createNamespacedRoleBinding({
    namespace,
    body: { metadata: { name }, roleRef: { apiGroup: "rbac.authorization.k8s.io", ...roleRef }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace: subjectNamespace }] }
  })

const seedPod = (namespace: string, name: string) =>
  h.core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { containers: [{ name: "c", image: "busybox" }] } } })

beforeAll(async () => {
  h = await harness({ rbac: true })
  rbac = h.kc.makeApiClient(k8s.RbacAuthorizationV1Api)
})

afterAll(async () => {
  await h.sim.stop()
})

describe("RBAC", () => {
  it("allows what a Role grants and answers 403 with the real message for the rest", async () => {
    const sa = await account()
    await role(sa.namespace, "reader", [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }])
    await bindRole(sa.namespace, "reader", { kind: "Role", name: "reader" }, sa.namespace)
    await seedPod(sa.namespace, "p")
    const pod = await sa.core.readNamespacedPod({ name: "p", namespace: sa.namespace })
    expect(pod.metadata?.name).toBe("p")
    const denied = await failure(sa.core.deleteNamespacedPod({ name: "p", namespace: sa.namespace }))
    expect(denied.code).toBe(403)
    expect(denied.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `pods "p" is forbidden: User "${sa.user}" cannot delete resource "pods" in API group "" in the namespace "${sa.namespace}"`,
      reason: "Forbidden",
      details: { name: "p", kind: "pods" },
      code: 403
    })
  })

  it("denies lists at namespace and cluster scope with their messages", async () => {
    const sa = await account()
    const namespaced = await failure(sa.core.listNamespacedPod({ namespace: sa.namespace }))
    expect(namespaced.code).toBe(403)
    expect(namespaced.body["message"]).toBe(`pods is forbidden: User "${sa.user}" cannot list resource "pods" in API group "" in the namespace "${sa.namespace}"`)
    const nodes = await failure(sa.core.listNode())
    expect(nodes.body["message"]).toBe(`nodes is forbidden: User "${sa.user}" cannot list resource "nodes" in API group "" at the cluster scope`)
    const batch = await failure(sa.kc.makeApiClient(k8s.BatchV1Api).listNamespacedJob({ namespace: sa.namespace }))
    expect(batch.body["message"]).toBe(`jobs.batch is forbidden: User "${sa.user}" cannot list resource "jobs" in API group "batch" in the namespace "${sa.namespace}"`)
    expect(batch.body["details"]).toEqual({ group: "batch", kind: "jobs" })
  })

  it("restricts a rule with resourceNames to the named objects", async () => {
    const sa = await account()
    await role(sa.namespace, "one", [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"], resourceNames: ["allowed"] }])
    await bindRole(sa.namespace, "one", { kind: "Role", name: "one" }, sa.namespace)
    for (const name of ["allowed", "other"]) await h.core.createNamespacedConfigMap({ namespace: sa.namespace, body: { metadata: { name } } })
    expect((await sa.core.readNamespacedConfigMap({ name: "allowed", namespace: sa.namespace })).metadata?.name).toBe("allowed")
    const other = await failure(sa.core.readNamespacedConfigMap({ name: "other", namespace: sa.namespace }))
    expect(other.body["message"]).toBe(`configmaps "other" is forbidden: User "${sa.user}" cannot get resource "configmaps" in API group "" in the namespace "${sa.namespace}"`)
    const list = await failure(sa.core.listNamespacedConfigMap({ namespace: sa.namespace }))
    expect(list.code).toBe(403)
    const selected = await sa.core.listNamespacedConfigMap({ namespace: sa.namespace, fieldSelector: "metadata.name=allowed" })
    expect(selected.items.map((item) => item.metadata?.name)).toEqual(["allowed"])
  })

  it("needs the watch verb to watch", async () => {
    const sa = await account()
    await role(sa.namespace, "lister", [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }])
    await bindRole(sa.namespace, "lister", { kind: "Role", name: "lister" }, sa.namespace)
    expect((await sa.core.listNamespacedPod({ namespace: sa.namespace })).items).toEqual([])
    const watched = await fetch(`${h.sim.url}/api/v1/namespaces/${sa.namespace}/pods?watch=true`, { headers: { Authorization: `Bearer ${sa.token}` } })
    expect(watched.status).toBe(403)
    expect(((await watched.json()) as { message: string }).message).toBe(
      `pods is forbidden: User "${sa.user}" cannot watch resource "pods" in API group "" in the namespace "${sa.namespace}"`
    )
    expect(watched.headers.get("x-content-type-options")).toBe("nosniff")
  })

  it("grants a ClusterRole bound by a RoleBinding only in the binding's namespace", async () => {
    const sa = await account()
    const elsewhere = `${sa.namespace}-other`
    await h.core.createNamespace({ body: { metadata: { name: elsewhere } } })
    await rbac.createClusterRole({ body: { metadata: { name: `${sa.namespace}-secrets` }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["list"] }] } })
    await bindRole(sa.namespace, "secrets", { kind: "ClusterRole", name: `${sa.namespace}-secrets` }, sa.namespace)
    expect((await sa.core.listNamespacedSecret({ namespace: sa.namespace })).items).toEqual([])
    const other = await failure(sa.core.listNamespacedSecret({ namespace: elsewhere }))
    expect(other.body["message"]).toBe(`secrets is forbidden: User "${sa.user}" cannot list resource "secrets" in API group "" in the namespace "${elsewhere}"`)
    expect((await failure(sa.core.listSecretForAllNamespaces())).code).toBe(403)
  })

  it("grants a ClusterRoleBinding everywhere, and matches Group subjects and wildcards", async () => {
    const sa = await account()
    await rbac.createClusterRole({ body: { metadata: { name: `${sa.namespace}-all` }, rules: [{ apiGroups: ["*"], resources: ["*"], verbs: ["list"] }] } })
    await rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `${sa.namespace}-all` },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: `${sa.namespace}-all` },
        subjects: [{ kind: "Group", name: `system:serviceaccounts:${sa.namespace}` }]
      }
    })
    expect((await sa.core.listNode()).items).toEqual([])
    expect((await sa.core.listNamespacedConfigMap({ namespace: "kube-system" })).items).toEqual([])
    expect((await sa.kc.makeApiClient(k8s.BatchV1Api).listJobForAllNamespaces()).kind).toBe("JobList")
    expect((await failure(sa.core.createNamespacedConfigMap({ namespace: sa.namespace, body: { metadata: { name: "x" } } }))).body["message"]).toBe(
      `configmaps is forbidden: User "${sa.user}" cannot create resource "configmaps" in API group "" in the namespace "${sa.namespace}"`
    )
  })

  it("authorizes subresources as resource/subresource", async () => {
    const sa = await account()
    await seedPod(sa.namespace, "p")
    await role(sa.namespace, "logs", [{ apiGroups: [""], resources: ["pods/log"], verbs: ["get"] }])
    await bindRole(sa.namespace, "logs", { kind: "Role", name: "logs" }, sa.namespace)
    h.sim.logs.append(sa.namespace, "p", "c", "hello\n")
    expect(await sa.core.readNamespacedPodLog({ name: "p", namespace: sa.namespace })).toBe("hello\n")
    const pod = await failure(sa.core.readNamespacedPod({ name: "p", namespace: sa.namespace }))
    expect(pod.body["message"]).toBe(`pods "p" is forbidden: User "${sa.user}" cannot get resource "pods" in API group "" in the namespace "${sa.namespace}"`)
    const status = await failure(sa.core.readNamespacedPodStatus({ name: "p", namespace: sa.namespace }))
    expect(status.body["message"]).toBe(`pods "p" is forbidden: User "${sa.user}" cannot get resource "pods/status" in API group "" in the namespace "${sa.namespace}"`)
  })

  it("names a missing role in the reason", async () => {
    const sa = await account()
    await bindRole(sa.namespace, "dangling", { kind: "Role", name: "missing" }, sa.namespace)
    const denied = await failure(sa.core.listNamespacedPod({ namespace: sa.namespace }))
    expect(denied.body["message"]).toBe(
      `pods is forbidden: User "${sa.user}" cannot list resource "pods" in API group "" in the namespace "${sa.namespace}": RBAC: role.rbac.authorization.k8s.io "missing" not found`
    )
  })

  it("answers 401 for an unknown token and lets the admin do everything", async () => {
    const unknown = await failure(clientFor("not-a-token").makeApiClient(k8s.CoreV1Api).listNamespace())
    expect(unknown.code).toBe(401)
    const raw = await fetch(`${h.sim.url}/api/v1/namespaces`, { headers: { Authorization: "Bearer not-a-token" } })
    expect(raw.status).toBe(401)
    expect(await raw.json()).toEqual({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "Unauthorized", reason: "Unauthorized", code: 401 })
    expect((await h.core.listNode()).kind).toBe("NodeList")
    const admin = clientFor(h.sim.adminToken).makeApiClient(k8s.CoreV1Api)
    expect((await admin.listSecretForAllNamespaces()).kind).toBe("SecretList")
  })

  it("lets authenticated users read discovery and version", async () => {
    const sa = await account()
    const version = await fetch(`${h.sim.url}/version`, { headers: { Authorization: `Bearer ${sa.token}` } })
    expect(version.status).toBe(200)
    const api = await fetch(`${h.sim.url}/apis`, { headers: { Authorization: `Bearer ${sa.token}` } })
    expect(api.status).toBe(200)
    const group = await sa.kc.makeApiClient(k8s.CoreApi).getAPIVersions()
    expect(group.versions).toEqual(["v1"])
  })

  it("answers SelfSubjectAccessReviews for the caller", async () => {
    const sa = await account()
    await role(sa.namespace, "reader", [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }])
    await bindRole(sa.namespace, "reader", { kind: "Role", name: "reader" }, sa.namespace)
    const authz = sa.kc.makeApiClient(k8s.AuthorizationV1Api)
    const allowed = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: sa.namespace, verb: "list", resource: "pods" } } } })
    expect(allowed.status).toEqual({ allowed: true, reason: `RBAC: allowed by RoleBinding "reader/${sa.namespace}" of Role "reader" to ServiceAccount "sa/${sa.namespace}"` })
    const denied = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: sa.namespace, verb: "delete", resource: "pods" } } } })
    expect(denied.status).toEqual({ allowed: false })
    const admin = await h.kc.makeApiClient(k8s.AuthorizationV1Api).createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { verb: "delete", resource: "nodes" } } } })
    expect(admin.status?.allowed).toBe(true)
    const invalid = await failure(authz.createSelfSubjectAccessReview({ body: { spec: {} } }))
    expect(invalid.code).toBe(422)
    expect(invalid.body["message"]).toBe(
      `SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.resourceAttributes: Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified`
    )
  })

  it("issues tokens through the TokenRequest subresource", async () => {
    const sa = await account()
    const request = await h.core.createNamespacedServiceAccountToken({ name: "sa", namespace: sa.namespace, body: { spec: { expirationSeconds: 7200 } } })
    expect(request.spec?.expirationSeconds).toBe(7200)
    expect(request.spec?.audiences).toEqual(["https://kubernetes.default.svc.cluster.local"])
    expect(Date.parse(String(request.status?.expirationTimestamp)) - Date.now()).toBeGreaterThan(7100 * 1000)
    const claims = JSON.parse(Buffer.from(request.status!.token!.split(".")[1]!, "base64url").toString("utf8")) as { sub: string }
    expect(claims.sub).toBe(sa.user)
    const short = await failure(h.core.createNamespacedServiceAccountToken({ name: "sa", namespace: sa.namespace, body: { spec: { expirationSeconds: 60 } } }))
    expect(short.code).toBe(422)
    const missing = await failure(h.core.createNamespacedServiceAccountToken({ name: "nobody", namespace: sa.namespace, body: { spec: {} } }))
    expect(missing.body["message"]).toBe('serviceaccounts "nobody" not found')
    const denied = await failure(sa.core.createNamespacedServiceAccountToken({ name: "sa", namespace: sa.namespace, body: { spec: {} } }))
    expect(denied.body["message"]).toBe(
      `serviceaccounts "sa" is forbidden: User "${sa.user}" cannot create resource "serviceaccounts/token" in API group "" in the namespace "${sa.namespace}"`
    )
  })

  it("fills token Secrets and stops accepting tokens of a deleted ServiceAccount", async () => {
    const sa = await account()
    await h.core.createNamespacedSecret({
      namespace: sa.namespace,
      body: { metadata: { name: "sa-token", annotations: { "kubernetes.io/service-account.name": "sa" } }, type: "kubernetes.io/service-account-token" }
    })
    const secret = await eventually(async () => {
      const found = await h.core.readNamespacedSecret({ name: "sa-token", namespace: sa.namespace })
      return found.data?.["token"] === undefined ? undefined : found
    })
    const account2 = await h.core.readNamespacedServiceAccount({ name: "sa", namespace: sa.namespace })
    expect(secret.metadata?.annotations?.["kubernetes.io/service-account.uid"]).toBe(account2.metadata?.uid)
    expect(Buffer.from(secret.data!["namespace"]!, "base64").toString()).toBe(sa.namespace)
    const legacy = clientFor(Buffer.from(secret.data!["token"]!, "base64").toString()).makeApiClient(k8s.AuthorizationV1Api)
    const review = await legacy.createSelfSubjectAccessReview({ body: { spec: { nonResourceAttributes: { path: "/version", verb: "get" } } } })
    expect(review.status?.allowed).toBe(true)

    await h.core.deleteNamespacedServiceAccount({ name: "sa", namespace: sa.namespace })
    expect((await failure(sa.core.listNamespacedPod({ namespace: sa.namespace }))).code).toBe(401)
    expect((await failure(legacy.createSelfSubjectAccessReview({ body: { spec: { nonResourceAttributes: { path: "/version", verb: "get" } } } }))).code).toBe(401)
    await eventually(async () => ((await h.core.listNamespacedSecret({ namespace: sa.namespace })).items.length === 0 ? true : undefined))
    await h.core.createNamespacedServiceAccount({ namespace: sa.namespace, body: { metadata: { name: "sa" } } })
    expect((await failure(sa.core.listNamespacedPod({ namespace: sa.namespace }))).code).toBe(401)
  })

  it("allows everything with RBAC off", async () => {
    const open = await harness()
    try {
      await open.core.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name: "sa" } } })
      const request = await open.core.createNamespacedServiceAccountToken({ name: "sa", namespace: "default", body: { spec: {} } })
      const kc = new k8s.KubeConfig()
      kc.loadFromOptions({
        clusters: [{ name: "sim", server: open.sim.url, skipTLSVerify: true }],
        users: [{ name: "sa", token: request.status!.token! }],
        contexts: [{ name: "sa", cluster: "sim", user: "sa" }],
        currentContext: "sa"
      })
      expect((await kc.makeApiClient(k8s.CoreV1Api).listNode()).kind).toBe("NodeList")
    } finally {
      await open.sim.stop()
    }
  })
})

describe("RBAC with the real kubectl over https", () => {
  it("shows kubectl the 403 message and answers auth can-i", async () => {
    const secure = await harness({ rbac: true, tls: true })
    try {
      const namespace = "kubectl-rbac"
      await secure.core.createNamespace({ body: { metadata: { name: namespace } } })
      await secure.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "sa" } } })
      await secure.core.createNamespacedPod({ namespace, body: { metadata: { name: "p" }, spec: { containers: [{ name: "c", image: "busybox" }] } } })
      const roles = secure.kc.makeApiClient(k8s.RbacAuthorizationV1Api)
      await roles.createNamespacedRole({ namespace, body: { metadata: { name: "reader" }, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] }] } })
      await roles.createNamespacedRoleBinding({
        namespace,
        body: { metadata: { name: "reader" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "reader" }, subjects: [{ kind: "ServiceAccount", name: "sa", namespace }] }
      })
      const token = (await secure.core.createNamespacedServiceAccountToken({ name: "sa", namespace, body: { spec: {} } })).status!.token!
      const path = join(mkdtempSync(join(tmpdir(), "aicr-rbac-test-")), "kubeconfig")
      writeFileSync(path, kubeconfigYaml({ server: secure.sim.url, token, namespace, caData: Buffer.from(secure.sim.caPem!).toString("base64") }))
      const user = `system:serviceaccount:${namespace}:sa`

      const get = await kubectl(path, ["get", "pods", "-o", "name"])
      expect(get.stderr).toBe("")
      expect(get.stdout).toBe("pod/p\n")
      const deleted = await kubectl(path, ["delete", "pod", "p"])
      expect(deleted.status).toBe(1)
      expect(deleted.stderr).toBe(`Error from server (Forbidden): pods "p" is forbidden: User "${user}" cannot delete resource "pods" in API group "" in the namespace "${namespace}"\n`)
      const nodes = await kubectl(path, ["get", "nodes"])
      expect(nodes.stderr).toBe(`Error from server (Forbidden): nodes is forbidden: User "${user}" cannot list resource "nodes" in API group "" at the cluster scope\n`)
      const yes = await kubectl(path, ["auth", "can-i", "list", "pods"])
      expect(yes.stderr).toBe("")
      expect([yes.status, yes.stdout]).toEqual([0, "yes\n"])
      const no = await kubectl(path, ["auth", "can-i", "delete", "pods"])
      expect([no.status, no.stdout]).toEqual([1, "no\n"])
    } finally {
      await secure.sim.stop()
    }
  }, 60_000)
})
