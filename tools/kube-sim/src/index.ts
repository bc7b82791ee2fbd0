/**
 * `@aicr/kube-sim`: a simulated Kubernetes cluster that speaks the real Kubernetes HTTP API on loopback.
 *
 * `startSim()` starts a server, writes a kubeconfig for it and returns handles on its store, audit log, fault
 * injection, pod logs and service proxy. `stop()` closes it. Nothing here imports aicr's own packages.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cluster } from "./cluster.ts"
import { ResourceClaimController } from "./dra.ts"
import { DynamoOperator } from "./dynamo-operator.ts"
import { JobController } from "./job-controller.ts"
import { Kubelet } from "./kubelet.ts"
import { kubeconfigYaml } from "./kubeconfig.ts"
import { createProfileObjects, loadProfile } from "./profile.ts"
import { Scheduler } from "./scheduler.ts"
import { ServiceAccountController } from "./serviceaccount-controller.ts"
import { ApiServer, type ProxyHandler } from "./server.ts"
import { createWorld, runControllers } from "./simulation.ts"
import { TrainerOperator } from "./trainer-operator.ts"
import type { KubeObject } from "./types.ts"
import { defaultWorkloads, type ExecImageOptions } from "./workloads/index.ts"
import type { Controller, Profile, ProfileOptions, World } from "./world.ts"

export type { Change } from "./store.ts"
export type { KubeObject, ResourceType } from "./types.ts"
export type { AuditRecord } from "./audit.ts"
export type { FaultRule, WatchFault } from "./faults.ts"
export type { ProxyHandler } from "./server.ts"
export { StatusError } from "./errors.ts"
export { BUNDLED_CRD_SETS, type BundledCrdSet, bundledCrds } from "./crds.ts"
export { loadProfile, PROFILE_NAMES, ProfileError, profileObjects } from "./profile.ts"
export { parseExecImage, type ExecImageOptions } from "./workloads/index.ts"
export { readSeedFile, SeedFileError } from "./seed-file.ts"
export type { Component, ControllerFaults, GpuUse, Profile, ProfileOptions, World } from "./world.ts"

export interface SimOptions {
  /** Port on 127.0.0.1 (0, the default, picks a free one). */
  readonly port?: number | undefined
  /** Where to write `kubeconfig` (default: a new temporary directory, removed by `stop()`). */
  readonly dir?: string | undefined
  /** Changes retained for watch resumption and consistent pages (default 200,000). */
  readonly historySize?: number | undefined
  /** Interval of watch bookmarks when a client allows them (default 1 s). */
  readonly bookmarkIntervalMs?: number | undefined
  /** Extra bearer tokens → user names; the admin token is always accepted. */
  readonly tokens?: Readonly<Record<string, string>> | undefined
  /** Seed of the fault injector's random decisions. */
  readonly seed?: number | undefined
  /**
   * Serve HTTPS with a fresh self-signed CA written into the kubeconfig (default false: plain HTTP, where kubectl
   * sends no token and requests without credentials act as the admin).
   */
  readonly tls?: boolean | undefined
  /** Authorize requests with RBAC against the stored roles and bindings (default: everything is allowed). */
  readonly rbac?: boolean | undefined
  /**
   * Build a GPU cluster from a profile — `h100-eks`, `h100-gke`, `dev`, a YAML file path or a loaded `Profile` — and
   * run its scheduler, DRA allocator, kubelet with workload emulators, Job controller and installed operators.
   * Without one the server is an empty API server with no controllers beyond garbage collection.
   */
  readonly profile?: string | Profile | undefined
  /** Changes to the profile: GPU node count, components, GPUs in use, degraded nodes, time scale, seed, replay files. */
  readonly profileOptions?: ProfileOptions | undefined
  /** Images played by local commands, matched before the emulators (the in-cluster runner's validator image). */
  readonly execImages?: ReadonlyArray<Pick<ExecImageOptions, "image" | "command" | "env" | "cwd" | "serviceAccountDirEnv" | "terminationMessageEnv" | "killGraceMs">> | undefined
}

export interface Sim {
  readonly url: string
  readonly kubeconfigPath: string
  readonly kubeconfig: string
  readonly adminToken: string
  /** PEM of the CA that signed the server's certificate (only with `tls`). */
  readonly caPem: string | undefined
  readonly cluster: Cluster
  readonly api: ApiServer
  readonly audit: ApiServer["audit"]
  readonly faults: ApiServer["faults"]
  readonly logs: ApiServer["logs"]
  /** Serves `services/{name}[:{port}]/proxy/…` with `handler`; returns the unregister function. */
  readonly registerProxy: (namespace: string, service: string, port: string | number | undefined, handler: ProxyHandler) => () => void
  /** Creates objects directly (no HTTP), for test set-up. */
  readonly seed: (objects: ReadonlyArray<KubeObject>) => void
  /** The profile the cluster was built from, with its controllers' World (faults, random streams), if any. */
  readonly profile: Profile | undefined
  readonly world: World | undefined
  readonly stop: () => Promise<void>
}

const SYSTEM_NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease"]

/** Starts a simulated API server on loopback and writes its kubeconfig. */
export const startSim = async (options: SimOptions = {}): Promise<Sim> => {
  const cluster = new Cluster({ historySize: options.historySize })
  const adminToken = `admin-${randomBytes(12).toString("hex")}`
  const tokens = new Map<string, string>([[adminToken, "kubernetes-admin"], ...Object.entries(options.tokens ?? {})])
  const tls = options.tls === true ? await (await import("./tls.ts")).generateTls() : undefined
  let url = ""
  const api = new ApiServer(cluster, {
    tokens,
    bookmarkIntervalMs: options.bookmarkIntervalMs,
    seed: options.seed,
    insecureAdmin: tls === undefined,
    rbac: options.rbac,
    serverAddress: () => url.replace(/^https?:\/\//, "")
  })
  const namespaceType = cluster.registry.find("", "v1", "namespaces")!
  for (const name of SYSTEM_NAMESPACES) cluster.create(namespaceType, "", { apiVersion: "v1", kind: "Namespace", metadata: { name } })
  const profile = options.profile === undefined ? undefined : typeof options.profile === "string" ? loadProfile(options.profile, options.profileOptions) : options.profile
  if (profile !== undefined) createProfileObjects(cluster, profile)

  const server: Server =
    tls === undefined
      ? createServer((request, response) => api.handle(request, response))
      : createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (request, response) => api.handle(request, response))
  server.keepAliveTimeout = 65_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve())
  })
  url = `${tls === undefined ? "http" : "https"}://127.0.0.1:${(server.address() as AddressInfo).port}`
  const ownDir = options.dir === undefined
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "aicr-sim-"))
  const kubeconfig = kubeconfigYaml(
    tls === undefined
      ? { server: url, token: adminToken, name: "aicr-sim", insecureSkipTlsVerify: true }
      : { server: url, token: adminToken, name: "aicr-sim", caData: Buffer.from(tls.caPem).toString("base64") }
  )
  const kubeconfigPath = join(dir, "kubeconfig")
  writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 })

  let world: World | undefined
  let stopControllers = () => {}
  if (profile !== undefined) {
    world = createWorld({ cluster, profile, logs: api.logs, registerProxy: (namespace, service, port, handler) => api.registerProxy(namespace, service, port, handler) })
    const serviceAccountType = cluster.registry.find("", "v1", "serviceaccounts")!
    const execImages: Array<ExecImageOptions> = (options.execImages ?? []).map((mapping) => ({
      ...mapping,
      apiServerUrl: url,
      serviceAccount: (run) => {
        const namespace = run.pod.metadata.namespace ?? "default"
        const name = String((run.pod["spec"] as { serviceAccountName?: string } | undefined)?.serviceAccountName ?? "default")
        const account = cluster.get(serviceAccountType, namespace, name)
        return { token: api.serviceAccountTokens.issue(account, 3600, ["https://kubernetes.default.svc"]).token, namespace, ...(tls === undefined ? {} : { caCrt: tls.caPem }) }
      }
    }))
    const controllers: Array<Controller> = [
      new ServiceAccountController(),
      new ResourceClaimController(),
      new Scheduler(),
      new Kubelet(defaultWorkloads({ execImages })),
      new JobController(),
      ...(profile.components.includes("dynamo") ? [new DynamoOperator()] : []),
      ...(profile.components.includes("kubeflow-trainer") ? [new TrainerOperator({ failStrandedLaunchers: false })] : [])
    ]
    for (const entry of options.profileOptions?.oomKilled ?? []) world.faults.oomKilled.add(entry)
    stopControllers = runControllers(world, controllers)
  }

  return {
    url,
    kubeconfigPath,
    kubeconfig,
    adminToken,
    caPem: tls?.caPem,
    profile,
    world,
    cluster,
    api,
    audit: api.audit,
    faults: api.faults,
    logs: api.logs,
    registerProxy: (namespace, service, port, handler) => api.registerProxy(namespace, service, port, handler),
    seed: (objects) => {
      for (const object of objects) {
        const type = cluster.registry.byKind(object.apiVersion, object.kind)
        if (type === undefined) throw new Error(`kube-sim: no resource type for ${object.apiVersion} ${object.kind}`)
        cluster.create(type, object.metadata.namespace ?? "", object)
      }
    },
    stop: async () => {
      stopControllers()
      api.closeWatches()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      if (ownDir) rmSync(dir, { recursive: true, force: true })
    }
  }
}
