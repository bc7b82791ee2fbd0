import { type KubeObject, loadProfile, type Sim, startSim } from "@aicr/kube-sim"
import * as Catalog from "@aicr/core/Catalog"
import * as CheckInput from "@aicr/core/CheckInput"
import * as CheckRecord from "@aicr/core/CheckRecord"
import * as Plan from "@aicr/core/Plan"
import * as Rbac from "@aicr/core/Rbac"
import * as Recipe from "@aicr/core/Recipe"
import { ncclAllReduceBw } from "@aicr/validator-nccl"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CliResult, COMMIT, fixture, runCli, startCli } from "./support/cli.ts"
import { NCCL_KNOBS } from "./support/knobs.ts"
import { expectNoRunObjects, labelled, reservations } from "./support/sim.ts"

const PASS = fixture("recipes", "nccl-pass.yaml")
const FAIL = fixture("recipes", "nccl-fail.yaml")
const NO_GATE = fixture("recipes", "nccl-no-gate.yaml")

const CHECK = "nccl-all-reduce-bw"
const NAMESPACE = "aicr-validation"
const TRAIN_JOB = "nccl-all-reduce-tj"

const KNOBS = NCCL_KNOBS

const runIdFor = (scenario: number) => `20261128-150000-${scenario.toString(16).padStart(16, "0")}`

let tmp = ""
const sims: Array<Sim> = []

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "aicr-check-"))
})
afterAll(async () => {
  await Promise.all(sims.map((sim) => sim.stop()))
  rmSync(tmp, { recursive: true, force: true })
})

/** An h100-eks sim serving HTTPS with RBAC enforced, as a real API server would for a pod's token. */
const simulate = async (tune?: (profile: ReturnType<typeof loadProfile>) => void): Promise<Sim> => {
  const profile = loadProfile("h100-eks", { timeScale: 0.001, seed: 17 })
  tune?.(profile)
  const sim = await startSim({ profile, tls: true, rbac: true })
  sims.push(sim)
  sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } }])
  return sim
}

let shared: Promise<Sim> | undefined
const eks = (): Promise<Sim> => (shared ??= simulate())

/**
 * A ServiceAccount `name` in the validation namespace bound to a ClusterRole of `rules`, and its pod's view of it: a
 * directory with `token` (a bound token the sim issued), `ca.crt` and `namespace`, as the kubelet mounts it.
 */
const serviceAccount = (sim: Sim, name: string, rules: ReadonlyArray<Rbac.Rule>): string => {
  sim.seed([
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace: NAMESPACE } },
    { apiVersion: Rbac.API_VERSION, kind: "ClusterRole", metadata: { name }, rules: rules.map((rule) => ({ ...rule })) } as KubeObject,
    {
      apiVersion: Rbac.API_VERSION,
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: NAMESPACE }]
    } as KubeObject
  ])
  const account = sim.cluster.store.get("/serviceaccounts", NAMESPACE, name)!
  const dir = join(tmp, `sa-${name}-${sims.indexOf(sim)}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "token"), sim.api.serviceAccountTokens.issue(account, 3600, ["https://kubernetes.default.svc"]).token)
  writeFileSync(join(dir, "ca.crt"), sim.caPem!)
  writeFileSync(join(dir, "namespace"), `${NAMESPACE}\n`)
  return dir
}

/** What the orchestrator grants nccl-all-reduce-bw: the normalised rules of its declared permissions. */
const NCCL_RULES = Rbac.rulesFor([ncclAllReduceBw])

/** The images the CLI resolves for the check (what the orchestrator puts into the input). */
const images = (() => {
  const parsed = Recipe.parseRecipe(readFileSync(PASS, "utf8"), PASS)
  if (parsed._tag !== "Ok") throw new Error("nccl-pass.yaml does not parse")
  const planned = Plan.make({ recipe: parsed.loaded, catalog: Catalog.embedded(), plugins: [ncclAllReduceBw], phases: ["performance"], image: { version: "0.0.0", commit: COMMIT, env: {} } })
  if (planned._tag !== "Ok") throw new Error("nccl-pass.yaml does not plan")
  return planned.plan.phases[0]!.checks[0]!.images
})()

/** The input document of a scenario for `recipe`, written where the ConfigMap would be mounted; returns its path. */
const inputFile = (scenario: number, recipe: string, changes: Partial<CheckInput.Fields> = {}): string => {
  const dir = join(tmp, `input-${scenario}`)
  mkdirSync(dir, { recursive: true })
  const path = join(dir, `${CHECK}.json`)
  writeFileSync(
    path,
    CheckInput.encode({
      check: CHECK,
      phase: "performance",
      runId: runIdFor(scenario),
      recipe: { source: `recipes/${recipe.split("/").at(-1)}`, text: readFileSync(recipe, "utf8") },
      images,
      timeoutMs: 60_000,
      nodeSelector: {},
      tolerations: null,
      imagePullSecrets: [],
      keep: false,
      ...changes
    })
  )
  return path
}

interface Pod {
  readonly env: Record<string, string | undefined>
  readonly terminationLog: string
  readonly stateDir: string
}

/**
 * The environment of the check's container in the sim: the API server as KUBERNETES_SERVICE_HOST/PORT, the
 * service-account directory, the mounted input, the termination-log file, the ledger directory, upstream's
 * variables and the knobs — plus the sim's admin kubeconfig in KUBECONFIG and HOME, which `aicr check` must ignore.
 */
const pod = (sim: Sim, scenario: number, accountDir: string, input: string): Pod => {
  const url = new URL(sim.url)
  const dir = join(tmp, `pod-${scenario}`)
  mkdirSync(join(dir, "home", ".kube"), { recursive: true })
  writeFileSync(join(dir, "home", ".kube", "config"), sim.kubeconfig)
  const terminationLog = join(dir, "termination-log")
  const stateDir = join(dir, "state")
  return {
    terminationLog,
    stateDir,
    env: {
      KUBERNETES_SERVICE_HOST: url.hostname,
      KUBERNETES_SERVICE_PORT: url.port,
      AICR_SERVICEACCOUNT_DIR: accountDir,
      AICR_CHECK_INPUT: input,
      AICR_TERMINATION_LOG: terminationLog,
      AICR_STATE_DIR: stateDir,
      AICR_VALIDATOR_NAME: CHECK,
      AICR_VALIDATOR_PHASE: "performance",
      AICR_RUN_ID: runIdFor(scenario),
      AICR_NAMESPACE: NAMESPACE,
      KUBECONFIG: sim.kubeconfigPath,
      HOME: join(dir, "home"),
      ...KNOBS
    }
  }
}

interface Outcome {
  readonly result: CliResult
  /** The record of the stdout block. */
  readonly record: CheckRecord.CheckRecord
  /** The termination log as written. */
  readonly terminationLog: string
}

/** The record on stdout and the termination log of a finished `aicr check`; both must be there and agree. */
const outcomeOf = (result: CliResult, terminationLogPath: string): Outcome => {
  expect(result.stderr).not.toContain("    at ")
  const lines = result.stdout.split("\n")
  expect(lines[0]).toBe(CheckRecord.BEGIN)
  expect(lines.slice(2)).toEqual([CheckRecord.END, ""])
  const record = CheckRecord.fromLog(result.stdout)
  expect(record, result.stdout).toBeDefined()
  const terminationLog = readFileSync(terminationLogPath, "utf8")
  expect(Buffer.byteLength(terminationLog, "utf8")).toBeLessThanOrEqual(CheckRecord.TERMINATION_LIMIT)
  const compact = CheckRecord.fromTerminationMessage(terminationLog)
  expect(compact).toEqual({ ...record!, artifacts: [] })
  expect(result.status).toBe(CheckRecord.exitCode(record!.status))
  return { result, record: record!, terminationLog }
}

const check = async (environment: Pod, args: ReadonlyArray<string> = [CHECK]): Promise<Outcome> =>
  outcomeOf(await runCli(["check", ...args], { env: environment.env }), environment.terminationLog)

/** Object creates sent to the API server from now on. */
const createsSince = (sim: Sim) => {
  const before = sim.audit.all().length
  return () => sim.audit.all().slice(before).filter((record) => record.verb === "create" && record.subresource === undefined)
}

describe("aicr check runs one check as a pod would, against kube-sim with RBAC and a service-account token", () => {
  it("passes nccl-all-reduce-bw on h100-eks: record on stdout and in the termination log, exit 0, every request made as the ServiceAccount", async () => {
    const sim = await eks()
    const account = serviceAccount(sim, "aicr-validator-pass", NCCL_RULES)
    const environment = pod(sim, 1, account, inputFile(1, PASS))
    const before = sim.audit.all().length
    const { result, record, terminationLog } = await check(environment)
    expect(result.status).toBe(0)
    expect(record.status).toBe("passed")
    expect(record.message).toMatch(/^NCCL all-reduce bus bandwidth 4\d\d\.\d\d GB\/s satisfies constraint ">= 250"/)
    expect(record.message).toContain(`run ${runIdFor(1)}`)
    const bandwidth = record.metrics.find((metric) => metric.name === "nccl-all-reduce-bw")!
    expect(bandwidth.value).toBeGreaterThan(450)
    expect(bandwidth.value).toBeLessThan(520)
    expect(JSON.parse(terminationLog)).toEqual({ status: "passed", message: record.message, metrics: record.metrics })
    expect(result.stderr).toContain(`aicr check ${CHECK}: run ${runIdFor(1)}, namespace ${NAMESPACE}, timeout 1m\n`)
    expect(result.stderr).toContain(`phase performance: ${CHECK}\n`)
    expect(result.stderr).toMatch(/ {2}nccl-all-reduce-bw: passed \([\d.]+s\) — NCCL all-reduce bus bandwidth/)

    const requests = sim.audit.all().slice(before)
    expect(requests.filter((request) => request.verb === "create" && request.resource === "trainjobs")).toHaveLength(1)
    expect([...new Set(requests.map((request) => request.user))]).toEqual(["system:serviceaccount:aicr-validation:aicr-validator-pass"])
    expect(requests.filter((request) => request.code === 403)).toEqual([])
    expect(existsSync(join(environment.stateDir, `${runIdFor(1)}.jsonl`))).toBe(true)
    expectNoRunObjects(sim, runIdFor(1))
  })

  it("fails (exit 1) when the gate is above what the cluster delivers", async () => {
    const sim = await eks()
    const environment = pod(sim, 2, serviceAccount(sim, "aicr-validator-fail", NCCL_RULES), inputFile(2, FAIL))
    const { record } = await check(environment)
    expect(record.status).toBe("failed")
    expect(record.message).toMatch(/^NCCL all-reduce bus bandwidth 4\d\d\.\d\d GB\/s does not satisfy constraint ">= 900"/)
    expect(record.metrics.find((metric) => metric.name === "nccl-all-reduce-bw")?.passed).toBe(false)
    expectNoRunObjects(sim, runIdFor(2))
  })

  it("is skipped (exit 2) without the nccl-all-reduce-bw constraint, creating nothing", async () => {
    const sim = await eks()
    const environment = pod(sim, 3, serviceAccount(sim, "aicr-validator-skip", NCCL_RULES), inputFile(3, NO_GATE))
    const creates = createsSince(sim)
    const { result, record } = await check(environment)
    expect(result.status).toBe(2)
    expect(record).toEqual(CheckRecord.make("skipped", "no nccl-all-reduce-bw constraint in recipe"))
    expect(creates()).toEqual([])
  })

  it("is inconclusive (exit 3) naming the Forbidden request when the ServiceAccount lacks a permission, and releases what it made", async () => {
    const sim = await eks()
    const rules = NCCL_RULES.map((rule) =>
      rule.apiGroups.includes("trainer.kubeflow.org") ? { ...rule, verbs: rule.verbs.filter((verb) => verb !== "create") } : rule
    )
    const environment = pod(sim, 4, serviceAccount(sim, "aicr-validator-forbidden", rules), inputFile(4, PASS))
    const { result, record } = await check(environment)
    expect(result.status).toBe(3)
    expect(record.status).toBe("inconclusive")
    expect(record.message).toMatch(/create TrainingRuntime aicr-nccl-[0-9a-f]{8}\/nccl-all-reduce-runtime/)
    expect(record.message).toContain("trainingruntimes.trainer.kubeflow.org is forbidden")
    expect(record.message).toContain('User "system:serviceaccount:aicr-validation:aicr-validator-forbidden" cannot create resource "trainingruntimes"')
    expectNoRunObjects(sim, runIdFor(4))
  })

  it("is inconclusive (exit 3) naming every problem of a bad input file, before touching the cluster", async () => {
    const sim = await eks()
    const path = join(tmp, "bad-input.json")
    const valid = JSON.parse(readFileSync(inputFile(5, PASS), "utf8")) as Record<string, unknown>
    writeFileSync(path, JSON.stringify({ ...valid, timeoutMs: "30m", runId: undefined, images: { validator: "x" } }))
    const environment = pod(sim, 5, serviceAccount(sim, "aicr-validator-bad-input", NCCL_RULES), path)
    const before = sim.audit.all().length
    const { result, record } = await check({ ...environment, env: { ...environment.env, AICR_RUN_ID: undefined } })
    expect(result.status).toBe(3)
    expect(record).toEqual(CheckRecord.make(
      "inconclusive",
      `cannot start: the check input ${path} (AICR_CHECK_INPUT) is not a valid CheckInput: runId: is missing (expected string); ` +
        'timeoutMs: expected number, got string "30m"'
    ))
    expect(result.stderr).toContain(`error: the check input ${path} (AICR_CHECK_INPUT) is not a valid CheckInput: runId: is missing`)
    expect(sim.audit.all().slice(before)).toEqual([])
  })

  it("is inconclusive (exit 3) when the input lacks an image the check uses, or the file is missing", async () => {
    const sim = await eks()
    const account = serviceAccount(sim, "aicr-validator-missing", NCCL_RULES)
    const noProbe = Object.fromEntries(Object.entries(images).filter(([key]) => key !== "probe"))
    const lacking = await check(pod(sim, 6, account, inputFile(6, PASS, { images: noProbe })))
    expect(lacking.record.message).toMatch(/^cannot start: .*nccl-all-reduce-bw\.json: images has no "probe" \(nccl-all-reduce-bw uses runtime, runtime-gke, probe\)$/)
    const absent = await check(pod(sim, 7, account, join(tmp, "no-such-input.json")))
    expect(absent.record.message).toBe(`cannot start: cannot read the check input ${join(tmp, "no-such-input.json")} (AICR_CHECK_INPUT): no such file`)
  })

  it("is inconclusive (exit 3) for an unknown check name, and for a name that disagrees with AICR_VALIDATOR_NAME", async () => {
    const sim = await eks()
    const environment = pod(sim, 8, serviceAccount(sim, "aicr-validator-unknown", NCCL_RULES), inputFile(8, PASS))
    const unknown = await check({ ...environment, env: { ...environment.env, AICR_VALIDATOR_NAME: undefined } }, ["nccl-all-reduce-bandwidth"])
    expect(unknown.result.status).toBe(3)
    expect(unknown.record.message).toBe(
      'cannot start: unknown check "nccl-all-reduce-bandwidth": this image runs inference-perf, nccl-all-reduce-bw; ' +
        `${environment.env["AICR_CHECK_INPUT"]}: check is "nccl-all-reduce-bw" but this pod runs "nccl-all-reduce-bandwidth"`
    )
    const disagreeing = await check({ ...environment, env: { ...environment.env, AICR_VALIDATOR_NAME: "inference-perf" } })
    expect(disagreeing.record.message).toContain('the check to run is "nccl-all-reduce-bw" but AICR_VALIDATOR_NAME is "inference-perf"')
  })

  it("is inconclusive (exit 3) without in-cluster credentials, whatever kubeconfig is around", async () => {
    const sim = await eks()
    const environment = pod(sim, 9, join(tmp, "no-account"), inputFile(9, PASS))
    const noHost = await check({ ...environment, env: { ...environment.env, KUBERNETES_SERVICE_HOST: undefined } })
    expect(noHost.record).toEqual(CheckRecord.make("inconclusive", "cannot start: no in-cluster credentials: KUBERNETES_SERVICE_HOST is not set"))
    const noToken = await check(environment)
    expect(noToken.record).toEqual(CheckRecord.make("inconclusive", `cannot start: no in-cluster credentials: no service-account token at ${join(tmp, "no-account", "token")}`))
  })

  it("on SIGTERM while the launcher runs: every release runs, then an inconclusive record saying interrupted, exit 3", async () => {
    const sim = await simulate((profile) => void (profile.performance.nccl.runSeconds = 600_000))
    const runId = runIdFor(10)
    const environment = pod(sim, 10, serviceAccount(sim, "aicr-validator-sigterm", NCCL_RULES), inputFile(10, PASS))
    const running = startCli(["check", CHECK], { env: environment.env })
    await running.waitForStderr(`  ${CHECK}: launcher pod ${TRAIN_JOB}-launcher-`, 30_000)
    expect(labelled(sim, runId).length).toBeGreaterThan(0)
    expect(reservations(sim)).toHaveLength(2)
    running.signal("SIGTERM")
    const { result, record } = outcomeOf(await running.result, environment.terminationLog)
    expect(result.status).toBe(3)
    expect(record).toEqual(CheckRecord.make("inconclusive", "interrupted by SIGTERM before it finished; its objects were released"))
    expect(result.stderr).toContain("interrupted by SIGTERM before it finished; its objects were released\n")
    expectNoRunObjects(sim, runId)
    expect(sim.audit.filter({ verb: "delete", resource: "trainjobs" }).map((request) => request.user)).toEqual([
      "system:serviceaccount:aicr-validation:aicr-validator-sigterm"
    ])
  })
})
