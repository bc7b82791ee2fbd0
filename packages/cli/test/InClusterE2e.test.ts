import { type AuditRecord, type KubeObject, loadProfile, type Sim, startSim } from "@aicr/kube-sim"
import * as Rbac from "@aicr/core/Rbac"
import { hashOf } from "@aicr/core/RunContext"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath, type CliResult, fixture, runCli, startCli, useCluster } from "./support/cli.ts"
import { INFERENCE_KNOBS, NCCL_KNOBS } from "./support/knobs.ts"
import { expectNoRunObjects, labelled, reservations } from "./support/sim.ts"

const INFERENCE = fixture("recipes", "inference-pass.yaml")
const NCCL = fixture("recipes", "nccl-pass.yaml")

const NAMESPACE = "aicr-validation"
const VALIDATOR = "ghcr.io/aicr-project/aicr-validator"
const ADMIN = "kubernetes-admin"
const RUN_LABEL = "aicr.nvidia.com/run-id"
const SEED = 23

const KNOBS = { ...NCCL_KNOBS, ...INFERENCE_KNOBS }

/** A run ID of its own for each scenario, so its per-run names (`…-<hash>`) are known before it starts. */
const runIdFor = (scenario: number) => `20261128-160000-${scenario.toString(16).padStart(16, "0")}`
const serviceAccountUser = (runId: string) => `system:serviceaccount:${NAMESPACE}:${Rbac.names(runId).serviceAccount}`
const inferenceNamespace = (runId: string) => `aicr-inference-perf-${hashOf(runId)}`
const ncclNamespace = (runId: string) => `aicr-nccl-${hashOf(runId)}`

let tmp = ""
const sims: Array<Sim> = []

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-in-cluster-e2e-"))
  useCluster(join(tmp, "no-kubeconfig"), join(tmp, "state"))
})
afterAll(async () => {
  await Promise.all(sims.map((sim) => sim.stop()))
  rmSync(tmp, { recursive: true, force: true })
})

type Profile = ReturnType<typeof loadProfile>

/**
 * A profile at time scale 0.001 on loopback, for the in-cluster runner as `--simulate` starts it: HTTPS, RBAC
 * enforced, the validator image played by this checkout's `aicr check` with the pod's service-account token, input
 * mount and termination-log file — and its `:crash` tag by a command that exits 1 without a record.
 */
const simulate = async (name: "h100-eks" | "h100-gke", options: { readonly nodes?: number; readonly tune?: (profile: Profile) => void } = {}): Promise<Sim> => {
  const profile = loadProfile(name, { timeScale: 0.001, seed: SEED, ...(options.nodes === undefined ? {} : { nodes: options.nodes }) })
  options.tune?.(profile)
  const sim = await startSim({
    profile,
    tls: true,
    rbac: true,
    execImages: [
      { image: `${VALIDATOR}:crash`, command: [process.execPath, "-e", "process.exit(1)"] },
      { image: VALIDATOR, command: [process.execPath, binPath, "check"], serviceAccountDirEnv: "AICR_SERVICEACCOUNT_DIR", terminationMessageEnv: "AICR_TERMINATION_LOG", killGraceMs: 15_000 }
    ]
  })
  sims.push(sim)
  return sim
}

/** The same profile and seed for the local runner: plain HTTP, no RBAC, no validator image. */
const simulateLocal = async (tune: (profile: Profile) => void): Promise<Sim> => {
  const profile = loadProfile("h100-eks", { timeScale: 0.001, seed: SEED })
  tune(profile)
  const sim = await startSim({ profile })
  sims.push(sim)
  return sim
}

/** The validation namespace with the image pull secret `registry` the checks copy, as a cluster admin would set it up. */
const seedPullSecret = (sim: Sim) =>
  sim.seed([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "registry", namespace: NAMESPACE }, type: "Opaque", data: { token: "c2VjcmV0" } }
  ])

/**
 * GPU nodes without the device plugin's `nvidia.com/gpu` resource: their GPUs are reachable through DRA only, so
 * nccl-all-reduce-bw takes its DRA path (a ResourceClaimTemplate).
 */
const draOnly = (sim: Sim) => {
  const nodeType = sim.cluster.registry.find("", "v1", "nodes")!
  for (const node of sim.cluster.store.list("/nodes") ?? []) {
    const status = node["status"] as { capacity: Record<string, string>; allocatable: Record<string, string> }
    if (status.capacity["nvidia.com/gpu"] === undefined) continue
    const without = (resources: Record<string, string>) => Object.fromEntries(Object.entries(resources).filter(([key]) => key !== "nvidia.com/gpu"))
    sim.cluster.update(nodeType, "", node.metadata.name!, { ...node, status: { ...status, capacity: without(status.capacity), allocatable: without(status.allocatable) } }, {
      subresource: "status"
    })
  }
}

const validate = (sim: Sim, recipe: string, runId: string, extra: ReadonlyArray<string> = [], env: Readonly<Record<string, string>> = {}) =>
  startCli(["validate", "-r", recipe, "--phase", "performance", ...extra], { env: { KUBECONFIG: sim.kubeconfigPath, AICR_RUN_ID: runId, ...KNOBS, ...env } })

const inCluster = (sim: Sim, recipe: string, runId: string, extra: ReadonlyArray<string> = [], env: Readonly<Record<string, string>> = {}) =>
  validate(sim, recipe, runId, ["--runner", "in-cluster", ...extra], env)

/** Nothing of the run is on the sim: no labelled object (Jobs, pods, inner workloads, input, RBAC), no reservation. */
const expectNothingLeft = (sim: Sim, runId: string) => {
  expectNoRunObjects(sim, runId)
  const names = Rbac.names(runId)
  expect(sim.cluster.store.get("rbac.authorization.k8s.io/clusterroles", "", names.clusterRole)).toBeUndefined()
  expect(sim.cluster.store.get("rbac.authorization.k8s.io/clusterrolebindings", "", names.clusterRoleBinding)).toBeUndefined()
  expect(sim.cluster.store.get("/serviceaccounts", NAMESPACE, names.serviceAccount)).toBeUndefined()
}

/** The audit records of the requests answered from now on. */
const requestsFrom = (sim: Sim): (() => ReadonlyArray<AuditRecord>) => {
  const before = sim.audit.all().length
  return () => sim.audit.all().slice(before)
}

/** The run's ClusterRole as the runner created it. */
const roleOf = (sim: Sim, runId: string): (() => KubeObject | undefined) => {
  let role: KubeObject | undefined
  sim.cluster.store.subscribe((change) => {
    if (change.key === "rbac.authorization.k8s.io/clusterroles" && change.type === "ADDED" && change.name === Rbac.names(runId).clusterRole) role = change.object
  })
  return () => role
}

/**
 * Keeps every namespace whose name starts with `prefix` from going away for `ms` after its deletion begins, as a
 * real namespace controller takes its time: the checks' waits for them to be gone then watch.
 */
const slowNamespaceDeletion = (sim: Sim, prefix: string, ms: number) => {
  const type = sim.cluster.registry.find("", "v1", "namespaces")!
  const setFinalizers = (name: string, finalizers: Array<string>) => {
    const current = sim.cluster.store.get("/namespaces", "", name)
    if (current !== undefined) sim.cluster.update(type, "", name, { ...current, metadata: { ...current.metadata, finalizers } })
  }
  sim.cluster.store.subscribe((change) => {
    if (change.key !== "/namespaces" || !change.name.startsWith(prefix)) return
    if (change.type === "ADDED") setImmediate(() => setFinalizers(change.name, ["e2e.aicr.test/slow"]))
    if (change.type === "MODIFIED" && change.object.metadata.deletionTimestamp !== undefined && change.previous?.metadata.deletionTimestamp === undefined) {
      setTimeout(() => setFinalizers(change.name, []), ms)
    }
  })
}

/** `group resource[/subresource] verb` of a request, `core` for the core group. */
const tripleOf = (group: string, resource: string, verb: string) => `${group === "" ? "core" : group} ${resource} ${verb}`

/** The (group, resource, verb) triples `user` was answered for; discovery (non-resource URLs) is not a rule of a role. */
const usedBy = (records: ReadonlyArray<AuditRecord>, user: string): ReadonlyArray<string> =>
  [...new Set(records.filter((record) => record.user === user && record.resource !== "").map((record) =>
    tripleOf(record.group, record.subresource === undefined ? record.resource : `${record.resource}/${record.subresource}`, record.verb)
  ))].sort()

/** Every triple a ClusterRole grants; a rule limited by resourceNames counts as its triples. */
const grantedBy = (role: KubeObject): ReadonlyArray<string> =>
  [...new Set((role["rules"] as ReadonlyArray<Rbac.Rule>).flatMap((rule) =>
    rule.apiGroups.flatMap((group) => rule.resources.flatMap((resource) => rule.verbs.map((verb) => tripleOf(group, resource, verb))))
  ))].sort()

/**
 * `get` of every kind a check created: `acquire`'s release reads an object whose create got no answer (a timeout, a
 * broken connection) to tell whether it is the run's before deleting it — a path a passing run never takes.
 */
const getOfCreated = (used: ReadonlyArray<string>): ReadonlyArray<string> =>
  used.filter((triple) => triple.endsWith(" create") && !triple.split(" ")[1]!.includes("/")).map((triple) => triple.replace(/ create$/, " get"))

interface CtrfTest {
  readonly name: string
  readonly status: string
  readonly suite?: ReadonlyArray<string>
  readonly message?: string
  readonly extra?: Record<string, unknown>
}

const testsOf = (report: string): ReadonlyArray<CtrfTest> => (JSON.parse(readFileSync(report, "utf8")) as { results: { tests: Array<CtrfTest> } }).results.tests

/** What must be equal under both runners: names, statuses, suites, messages with the run's ID and hash masked, metrics. */
const comparable = (report: string, runId: string) =>
  testsOf(report).map((test) => ({
    name: test.name,
    status: test.status,
    suite: test.suite,
    message: test.message?.replaceAll(runId, "<run>").replaceAll(hashOf(runId), "<hash>"),
    extra: test.extra
  }))

const phaseOf = (pod: KubeObject): string | undefined => (pod["status"] as { phase?: string } | undefined)?.phase

/** Resolves once `test` holds for the sim's store. */
const until = (sim: Sim, test: () => boolean): Promise<void> =>
  new Promise<void>((resolve) => {
    if (test()) return resolve()
    const unsubscribe = sim.cluster.store.subscribe(() => {
      if (!test()) return
      unsubscribe()
      resolve()
    })
  })

const runningIn = (sim: Sim, namespace: string, prefix: string) =>
  (sim.cluster.store.list("/pods", namespace) ?? []).some((pod) => pod.metadata.name!.startsWith(prefix) && phaseOf(pod) === "Running")

/** The check's Job pod in the validation namespace runs, and so does a pod of its inner workload. */
const midRun = (sim: Sim, runId: string, check: string, inner: { readonly namespace: string; readonly pod: string }) =>
  until(sim, () => runningIn(sim, NAMESPACE, `aicr-${check}-${hashOf(runId)}-`) && runningIn(sim, inner.namespace, inner.pod))

describe("aicr validate --runner in-cluster: both first-party checks pass as Jobs on kube-sim with RBAC", () => {
  interface Passing {
    readonly runId: string
    readonly result: CliResult
    readonly report: string
    readonly requests: ReadonlyArray<AuditRecord>
    readonly role: KubeObject | undefined
  }
  const runs: Record<"inference" | "nccl" | "ncclDra" | "localInference" | "localNccl", Passing> = {} as never

  /** Runs `recipe` to its end and keeps what the tests look at. */
  const passing = async (sim: Sim, recipe: string, runId: string, runner: "local" | "in-cluster"): Promise<Passing> => {
    const report = join(tmp, `${runId}.json`)
    const requests = requestsFrom(sim)
    const role = roleOf(sim, runId)
    const result = await validate(sim, recipe, runId, ["--runner", runner, "--image-pull-secret", "registry", "-o", report]).result
    return { runId, result, report, requests: requests(), role: role() }
  }

  /** Benchmarks of half a second, so the checks' waits for them to finish always watch (the same on every sim). */
  const steady = (profile: Profile) => {
    profile.performance.inference.benchmarkSeconds = 500
    profile.performance.nccl.runSeconds = 500
  }

  beforeAll(async () => {
    const [eks, gke, local] = await Promise.all([simulate("h100-eks", { tune: steady }), simulate("h100-gke", { tune: steady }), simulateLocal(steady)])
    draOnly(gke)
    for (const sim of [eks, gke, local]) {
      seedPullSecret(sim)
      slowNamespaceDeletion(sim, "aicr-", 300)
    }
    // The figures come from seeded streams that advance with every run: both sims see the same runs in the same order.
    runs.inference = await passing(eks, INFERENCE, runIdFor(1), "in-cluster")
    runs.nccl = await passing(eks, NCCL, runIdFor(2), "in-cluster")
    runs.ncclDra = await passing(gke, NCCL, runIdFor(3), "in-cluster")
    runs.localInference = await passing(local, INFERENCE, runIdFor(4), "local")
    runs.localNccl = await passing(local, NCCL, runIdFor(5), "local")
    for (const [sim, run] of [[eks, runs.inference], [eks, runs.nccl], [gke, runs.ncclDra], [local, runs.localInference], [local, runs.localNccl]] as const) {
      expect(run.result.stderr).not.toContain("    at ")
      expectNothingLeft(sim, run.runId)
    }
  }, 90_000)

  it("runs each check as Job aicr-<check>-<hash> created by the orchestrator; both pass, and the runs leave nothing", () => {
    for (const [run, check] of [[runs.inference, "inference-perf"], [runs.nccl, "nccl-all-reduce-bw"], [runs.ncclDra, "nccl-all-reduce-bw"]] as const) {
      expect(run.result.status, run.result.stderr).toBe(0)
      expect(run.result.stderr).toContain(`  ${check}: Job ${NAMESPACE}/aicr-${check}-${hashOf(run.runId)} created\n`)
      expect(run.result.stderr).toContain("1 passed, 0 failed, 0 skipped, 0 inconclusive\n")
      expect(testsOf(run.report).map((test) => [test.name, test.status])).toEqual([[check, "passed"]])
      const jobs = run.requests.filter((record) => record.verb === "create" && record.resource === "jobs" && record.namespace === NAMESPACE)
      expect(jobs.map((record) => `${record.user} ${record.code}`)).toEqual([`${ADMIN} 201`])
    }
    expect(testsOf(runs.ncclDra.report)[0]!.message).toContain("over tcpxo")
  })

  it("makes every request of a check as the Job's ServiceAccount; the orchestrator's own stay in the validation namespace and the run's RBAC", () => {
    for (const run of [runs.inference, runs.nccl, runs.ncclDra]) {
      const account = serviceAccountUser(run.runId)
      expect([...new Set(run.requests.map((record) => record.user))].sort()).toEqual([ADMIN, account].sort())
      expect(run.requests.filter((record) => record.user === account && (record.code === 401 || record.code === 403))).toEqual([])
      const names = Rbac.names(run.runId)
      const orchestrators = run.requests.filter((record) => record.user === ADMIN)
      expect(orchestrators.filter((record) =>
        !(record.resource === "" ||
          record.namespace === NAMESPACE ||
          (record.resource === "namespaces" && record.name === NAMESPACE) ||
          ((record.resource === "clusterroles" || record.resource === "clusterrolebindings") && (record.name ?? names.clusterRole) === names.clusterRole))
      )).toEqual([])
    }
    const made = (run: Passing, resource: string) => run.requests.filter((record) => record.verb === "create" && record.resource === resource).map((record) => record.user)
    expect(made(runs.inference, "dynamographdeployments")).toEqual([serviceAccountUser(runs.inference.runId)])
    expect(made(runs.nccl, "trainjobs")).toEqual([serviceAccountUser(runs.nccl.runId)])
    expect(made(runs.ncclDra, "resourceclaimtemplates")).toEqual([serviceAccountUser(runs.ncclDra.runId)])
  })

  it("grants in the run's ClusterRole exactly the (group, resource, verb) triples the checks' requests used, and get of what they created", () => {
    const inferenceUsed = usedBy(runs.inference.requests, serviceAccountUser(runs.inference.runId))
    expect(grantedBy(runs.inference.role!)).toEqual([...new Set([...inferenceUsed, ...getOfCreated(inferenceUsed)])].sort())
    expect(inferenceUsed).toEqual([
      "batch jobs create",
      "batch jobs delete",
      "batch jobs list",
      "batch jobs watch",
      "core namespaces create",
      "core namespaces delete",
      "core namespaces get",
      "core namespaces list",
      "core namespaces watch",
      "core nodes list",
      "core pods get",
      "core pods list",
      "core pods/log get",
      "core secrets create",
      "core secrets delete",
      "core secrets get",
      "core services/proxy create",
      "nvidia.com dynamographdeployments create",
      "nvidia.com dynamographdeployments delete",
      "nvidia.com dynamographdeployments list",
      "nvidia.com dynamographdeployments watch",
      "resource.k8s.io resourceclaims list",
      "resource.k8s.io resourceclaimtemplates create",
      "resource.k8s.io resourceclaimtemplates delete",
      "resource.k8s.io resourceslices list"
    ])

    // nccl-all-reduce-bw on EKS (device plugin, EFA) and on GKE with DRA-only GPU nodes: together every path of a pass.
    const ncclUsed = [...new Set([
      ...usedBy(runs.nccl.requests, serviceAccountUser(runs.nccl.runId)),
      ...usedBy(runs.ncclDra.requests, serviceAccountUser(runs.ncclDra.runId))
    ])].sort()
    expect(grantedBy(runs.ncclDra.role!)).toEqual(grantedBy(runs.nccl.role!))
    // The wait for the TrainingRuntime to be visible watches only when the list right after its create misses it.
    const waitOnly = ["trainer.kubeflow.org trainingruntimes watch"]
    expect(grantedBy(runs.nccl.role!)).toEqual([...new Set([...ncclUsed, ...getOfCreated(ncclUsed), ...waitOnly])].sort())
    expect(ncclUsed.filter((triple) => !usedBy(runs.nccl.requests, serviceAccountUser(runs.nccl.runId)).includes(triple))).toEqual([
      "networking.gke.io networks list",
      "resource.k8s.io resourceclaimtemplates create",
      "resource.k8s.io resourceclaimtemplates delete"
    ])
  })

  it("gives the same CTRF as the local runner for the same recipe and seed: names, statuses, messages and metrics", () => {
    expect(runs.localInference.result.status).toBe(0)
    expect(runs.localNccl.result.status).toBe(0)
    expect(comparable(runs.inference.report, runs.inference.runId)).toEqual(comparable(runs.localInference.report, runs.localInference.runId))
    expect(comparable(runs.nccl.report, runs.nccl.runId)).toEqual(comparable(runs.localNccl.report, runs.localNccl.runId))
    expect(testsOf(runs.inference.report)[0]!.extra!["inference-throughput"]).toMatchObject({ unit: "tokens/s", passed: true })
    expect(testsOf(runs.nccl.report)[0]!.extra!["nccl-all-reduce-bw"]).toMatchObject({ unit: "GB/s", passed: true })
  })
})

describe("aicr validate --runner in-cluster: what is not a verdict is inconclusive", () => {
  let shared: Promise<Sim> | undefined
  const eks = (): Promise<Sim> => (shared ??= simulate("h100-eks"))

  it("is inconclusive naming the forbidden request when the ClusterRole lacks a rule the check uses, and leaves nothing", async () => {
    const sim = await eks()
    const runId = runIdFor(10)
    const names = Rbac.names(runId)
    const roleType = sim.cluster.registry.find("rbac.authorization.k8s.io", "v1", "clusterroles")!
    const stop = sim.cluster.store.subscribe((change) => {
      if (change.key !== "rbac.authorization.k8s.io/clusterroles" || change.type !== "ADDED" || change.name !== names.clusterRole) return
      setImmediate(() => {
        const role = sim.cluster.store.get("rbac.authorization.k8s.io/clusterroles", "", names.clusterRole)!
        const rules = (role["rules"] as Array<Rbac.Rule>).map((rule) =>
          rule.resources.includes("dynamographdeployments") ? { ...rule, verbs: rule.verbs.filter((verb) => verb !== "create") } : rule
        )
        sim.cluster.update(roleType, "", names.clusterRole, { ...role, rules })
      })
    })
    const requests = requestsFrom(sim)
    const result = await inCluster(sim, INFERENCE, runId).result
    stop()
    expect(result.status, result.stderr).toBe(9)
    const denied = requests().filter((record) => record.code === 403)
    expect(denied.map((record) => `${record.user} ${record.verb} ${record.group}/${record.resource}`)).toEqual([
      `${serviceAccountUser(runId)} create nvidia.com/dynamographdeployments`
    ])
    expect(result.stderr).toContain(
      `  INCONCLUSIVE performance/inference-perf: create the DynamoGraphDeployment: create DynamoGraphDeployment ${inferenceNamespace(runId)}/aicr-inference-perf: ` +
        `dynamographdeployments.nvidia.com is forbidden: User "${serviceAccountUser(runId)}" cannot create resource "dynamographdeployments" ` +
        `in API group "nvidia.com" in the namespace "${inferenceNamespace(runId)}"\n`
    )
    expectNothingLeft(sim, runId)
  })

  it("is inconclusive when the check's process exits without an outcome record (a crash), and leaves nothing", async () => {
    const sim = await eks()
    const runId = runIdFor(11)
    const report = join(tmp, "crash.json")
    const result = await inCluster(sim, NCCL, runId, ["-o", report], { AICR_VALIDATOR_IMAGE_TAG: "crash" }).result
    expect(result.status, result.stderr).toBe(9)
    expect(result.stderr).toContain("  INCONCLUSIVE performance/nccl-all-reduce-bw: the check exited with code 1 (Error) without reporting an outcome\n")
    expect(testsOf(report).map((test) => [test.status, test.message])).toEqual([["other", "the check exited with code 1 (Error) without reporting an outcome"]])
    expectNothingLeft(sim, runId)
  })

  it("fails the run loudly when its RBAC is not revoked (a ClusterRoleBinding that does not go away), naming what is left", async () => {
    const sim = await eks()
    const runId = runIdFor(13)
    const binding = Rbac.names(runId).clusterRoleBinding
    const bindings = sim.cluster.registry.find("rbac.authorization.k8s.io", "v1", "clusterrolebindings")!
    sim.cluster.store.subscribe((change) => {
      if (change.key.endsWith("clusterrolebindings") && change.type === "ADDED" && change.name === binding) {
        setImmediate(() => {
          const current = sim.cluster.get(bindings, "", binding)
          sim.cluster.update(bindings, "", binding, { ...current, metadata: { ...current.metadata, finalizers: ["e2e.aicr.test/hold"] } })
        })
      }
    })
    const result = await inCluster(sim, NCCL, runId).result
    expect(result.stderr).toContain("  PASS         performance/nccl-all-reduce-bw: ")
    expect(result.stderr).toContain(
      `error: the run's RBAC was not revoked: ClusterRoleBinding ${binding} still exists; remove it with: aicr cleanup --run ${runId} --yes\n`
    )
    expect(result.status).toBe(8)
    const held = sim.cluster.get(bindings, "", binding)
    expect(held.metadata.deletionTimestamp).toBeDefined()
    sim.cluster.update(bindings, "", binding, { ...held, metadata: { ...held.metadata, finalizers: [] } })
    await until(sim, () => labelled(sim, runId).length === 0)
  })

  it("is inconclusive with the pull error when the validator image cannot be pulled, without waiting out the check's timeout", async () => {
    const sim = await eks()
    const runId = runIdFor(12)
    const result = await inCluster(sim, INFERENCE, runId, [], { AICR_VALIDATOR_IMAGE_REGISTRY: "unreachable.invalid" }).result
    expect(result.status, result.stderr).toBe(9)
    expect(result.stderr).toMatch(
      /  INCONCLUSIVE performance\/inference-perf: the check's container could not start: (ErrImagePull|ImagePullBackOff): .*unreachable\.invalid\/aicr-validator:sha-[0-9a-f]{40}/
    )
    expectNothingLeft(sim, runId)
  })
})

describe("aicr validate --runner in-cluster: interrupted runs", () => {
  it("on SIGINT mid-run deletes the Job (its check releases the DynamoGraphDeployment and namespaces itself), then the RBAC, and exits 130", async () => {
    const sim = await simulate("h100-eks", { tune: (profile) => void (profile.performance.inference.benchmarkSeconds = 600_000) })
    const runId = runIdFor(20)
    const requests = requestsFrom(sim)
    const running = inCluster(sim, INFERENCE, runId)
    await midRun(sim, runId, "inference-perf", { namespace: inferenceNamespace(runId), pod: "aicr-aiperf-" })
    expect(sim.cluster.store.get("nvidia.com/dynamographdeployments", inferenceNamespace(runId), "aicr-inference-perf")).toBeDefined()
    expect(reservations(sim)).toHaveLength(1)
    running.signal("SIGINT")
    const result = await running.result
    expect(result.status, result.stderr).toBe(130)
    expect(result.stderr).toContain("interrupted: partial results\n")
    expect(result.stderr).toContain("  INCONCLUSIVE performance/inference-perf: interrupted before it finished; its objects were released\n")
    expectNothingLeft(sim, runId)

    const account = serviceAccountUser(runId)
    const deletes = requests().filter((record) => record.verb === "delete").map((record) => `${record.user === account ? "check" : record.user} ${record.resource} ${record.code}`)
    const at = (entry: string) => deletes.indexOf(entry)
    expect(at("check dynamographdeployments 200")).toBeGreaterThan(at(`${ADMIN} jobs 200`))
    expect(at("check namespaces 200")).toBeGreaterThan(at(`${ADMIN} jobs 200`))
    expect(at(`${ADMIN} clusterrolebindings 200`)).toBeGreaterThan(deletes.lastIndexOf("check namespaces 200"))
    expect(requests().filter((record) => record.user === account && (record.code === 401 || record.code === 403))).toEqual([])
  })

  it("after SIGKILL of the CLI mid-run, aicr cleanup --run --yes stops the check and leaves nothing of the run", async () => {
    const sim = await simulate("h100-eks", { tune: (profile) => void (profile.performance.nccl.runSeconds = 600_000) })
    const runId = runIdFor(21)
    const running = inCluster(sim, NCCL, runId)
    await midRun(sim, runId, "nccl-all-reduce-bw", { namespace: ncclNamespace(runId), pod: "nccl-all-reduce-tj-launcher-" })
    running.signal("SIGKILL")
    expect((await running.result).signal).toBe("SIGKILL")
    expect(runningIn(sim, NAMESPACE, `aicr-nccl-all-reduce-bw-${hashOf(runId)}-`)).toBe(true)
    expect(labelled(sim, runId)).toEqual(expect.arrayContaining([
      `Job ${NAMESPACE}/aicr-nccl-all-reduce-bw-${hashOf(runId)}`,
      `TrainJob ${ncclNamespace(runId)}/nccl-all-reduce-tj`,
      `ClusterRole /${Rbac.names(runId).clusterRole}`
    ]))
    expect(reservations(sim)).toHaveLength(2)

    const cleaned = await runCli(["cleanup", "--run", runId, "--yes"], { env: { KUBECONFIG: sim.kubeconfigPath } })
    expect(cleaned.stderr).not.toContain("error")
    expect(cleaned.status).toBe(0)
    expect(cleaned.stdout).toContain(`  Job ${NAMESPACE}/aicr-nccl-all-reduce-bw-${hashOf(runId)} (`)
    expect(cleaned.stdout).toMatch(/deleted \d+ objects; nothing is left\n/)
    expectNothingLeft(sim, runId)
    expect(sim.cluster.store.list("/pods", NAMESPACE) ?? []).toEqual([])
  })
})

describe("aicr validate --runner in-cluster: two runs at once", () => {
  it("never share an object or a name, and both leave nothing", async () => {
    const sim = await simulate("h100-eks", { nodes: 3 })
    const [first, second] = [runIdFor(30), runIdFor(31)]
    const made = new Map<string, Set<string>>([[first, new Set()], [second, new Set()]])
    const stop = sim.cluster.store.subscribe((change) => {
      const owner = change.object.metadata.labels?.[RUN_LABEL]
      if (change.type === "ADDED" && owner !== undefined) made.get(owner)?.add(`${change.key} ${change.namespace}/${change.name}`)
    })
    const requests = requestsFrom(sim)
    const results = await Promise.all([inCluster(sim, INFERENCE, first).result, inCluster(sim, INFERENCE, second).result])
    stop()
    for (const result of results) expect([0, 9], result.stderr).toContain(result.status)
    expect(results.some((result) => result.status === 0), results.map((result) => result.stderr).join("\n")).toBe(true)
    const [mine, theirs] = [made.get(first)!, made.get(second)!]
    expect(mine.size).toBeGreaterThan(0)
    expect(theirs.size).toBeGreaterThan(0)
    expect([...mine].filter((object) => theirs.has(object))).toEqual([])
    for (const [runId, other] of [[first, second], [second, first]] as const) {
      const own = requests().filter((record) => record.user === serviceAccountUser(runId))
      expect(own.filter((record) => record.namespace === inferenceNamespace(other))).toEqual([])
      expect(own.filter((record) => record.code === 403 || record.code === 401)).toEqual([])
      expectNothingLeft(sim, runId)
    }
  })
})
