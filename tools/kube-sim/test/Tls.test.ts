import * as k8s from "@kubernetes/client-node"
import { X509Certificate } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { startSim, type Sim } from "../src/index.ts"
import { kubeconfigYaml } from "../src/kubeconfig.ts"
import { generateTls } from "../src/tls.ts"
import { kubectl } from "./support/kubectl.ts"

const NAMESPACES = ["default", "kube-node-lease", "kube-public", "kube-system"]

let sim: Sim
beforeAll(async () => {
  sim = await startSim({ tls: true })
})
afterAll(async () => {
  await sim.stop()
})

const clientFor = (kubeconfigText: string): k8s.CoreV1Api => {
  const dir = mkdtempSync(join(tmpdir(), "aicr-tls-test-"))
  const path = join(dir, "kubeconfig")
  writeFileSync(path, kubeconfigText)
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(path)
  return kc.makeApiClient(k8s.CoreV1Api)
}

const names = (list: k8s.V1NamespaceList): Array<string> => list.items.map((item) => item.metadata?.name ?? "").sort()

const get = (path: string, headers: Record<string, string>, ca: string | undefined) =>
  new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
    const req = request(`${sim.url}${path}`, { headers, ca }, (response) => {
      let body = ""
      response.on("data", (chunk: Buffer) => (body += chunk.toString()))
      response.on("end", () => resolve({ status: response.statusCode, body }))
    })
    req.on("error", reject)
    req.end()
  })

describe("generateTls", () => {
  it("makes a CA and a loopback server certificate signed by it, quickly", async () => {
    await generateTls()
    const started = performance.now()
    const material = await generateTls()
    expect(performance.now() - started).toBeLessThan(300)
    const ca = new X509Certificate(material.caPem)
    const server = new X509Certificate(material.certPem)
    expect(ca.ca).toBe(true)
    expect(ca.subject).toBe("CN=aicr-sim-ca")
    expect(ca.checkIssued(ca)).toBe(true)
    expect(server.ca).toBe(false)
    expect(server.subjectAltName).toBe("IP Address:127.0.0.1, DNS:localhost")
    expect(server.checkIssued(ca)).toBe(true)
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(server.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(material.keyPem)))).toBe(true)
    expect(server.publicKey.asymmetricKeyType).toBe("ec")
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1")
    expect(new X509Certificate((await generateTls()).caPem).fingerprint256).not.toBe(ca.fingerprint256)
  })
})

describe("startSim({ tls: true })", () => {
  it("serves https and writes the CA, not insecure-skip-tls-verify, into the kubeconfig", () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    expect(sim.caPem).toMatch(/^-----BEGIN CERTIFICATE-----\n/)
    expect(sim.kubeconfig).toContain(`    certificate-authority-data: "${Buffer.from(sim.caPem!).toString("base64")}"\n`)
    expect(sim.kubeconfig).toContain(`    server: "${sim.url}"\n`)
    expect(sim.kubeconfig).not.toContain("insecure-skip-tls-verify")
  })

  it("lets client-node verify the server against the CA and authenticates it as the admin", async () => {
    const core = clientFor(sim.kubeconfig)
    const from = sim.audit.all().length
    expect(names(await core.listNamespace())).toEqual(NAMESPACES)
    const records = sim.audit.all().slice(from)
    expect(records.map((record) => [record.user, record.verb, record.resource, record.code])).toEqual([["kubernetes-admin", "list", "namespaces", 200]])
  })

  it("fails client-node against a kubeconfig that trusts another CA", async () => {
    const other = await generateTls()
    const core = clientFor(kubeconfigYaml({ server: sim.url, token: sim.adminToken, caData: Buffer.from(other.caPem).toString("base64") }))
    const from = sim.audit.all().length
    const error: unknown = await core.listNamespace().then(
      () => undefined,
      (reason: unknown) => reason
    )
    expect(error).toBeInstanceOf(Error)
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    expect(sim.audit.all().length).toBe(from)
  })

  it("serves the real kubectl, which sends the token over https", async () => {
    const from = sim.audit.all().length
    const result = await kubectl(sim.kubeconfigPath, ["get", "namespaces", "-o", "name"])
    expect(result.stderr).toBe("")
    expect(result.stdout).toBe(NAMESPACES.map((name) => `namespace/${name}\n`).join(""))
    const lists = sim.audit.all().slice(from).filter((record) => record.resource === "namespaces")
    expect(lists.map((record) => [record.user, record.verb, record.code])).toEqual([["kubernetes-admin", "list", 200]])
    expect(new Set(sim.audit.all().slice(from).map((record) => record.user))).toEqual(new Set(["kubernetes-admin"]))
  }, 60_000)

  it("makes kubectl refuse a server signed by an unknown CA", async () => {
    const other = await generateTls()
    const dir = mkdtempSync(join(tmpdir(), "aicr-tls-test-"))
    const path = join(dir, "kubeconfig")
    writeFileSync(path, kubeconfigYaml({ server: sim.url, token: sim.adminToken, caData: Buffer.from(other.caPem).toString("base64") }))
    const result = await kubectl(path, ["get", "namespaces", "-o", "name"])
    expect(result.status).toBe(1)
    expect(result.stdout).toBe("")
    expect(result.stderr).toContain("x509: certificate signed by unknown authority")
  }, 60_000)

  it("answers 401 to a request without a token, and to an unknown token", async () => {
    const anonymous = await get("/api/v1/namespaces", {}, sim.caPem)
    expect(anonymous.status).toBe(401)
    expect(JSON.parse(anonymous.body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "Unauthorized",
      reason: "Unauthorized",
      code: 401
    })
    const unknown = await get("/api/v1/namespaces", { authorization: "Bearer nope" }, sim.caPem)
    expect(unknown.status).toBe(401)
    const admin = await get("/api/v1/namespaces", { authorization: `Bearer ${sim.adminToken}` }, sim.caPem)
    expect(admin.status).toBe(200)
    expect(JSON.parse(admin.body).kind).toBe("NamespaceList")
  })
})

describe("startSim() without tls", () => {
  it("still serves plain http with insecure-skip-tls-verify and no CA", async () => {
    const plain = await startSim()
    try {
      expect(plain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(plain.caPem).toBeUndefined()
      expect(plain.kubeconfig).toContain("    insecure-skip-tls-verify: true\n")
      expect(plain.kubeconfig).not.toContain("certificate-authority-data")
    } finally {
      await plain.stop()
    }
  })
})
