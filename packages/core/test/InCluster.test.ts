import { type Sim, startSim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as InCluster from "../src/InCluster.ts"
import type { KubeObject } from "../src/KubeClient.ts"
import * as Rbac from "../src/Rbac.ts"
import { hashOf } from "../src/RunContext.ts"

const RUN: InCluster.Run = { runId: "20261128-120000-00000000000000aa", namespace: "aicr-validation" }
const HASH = hashOf(RUN.runId)

const JOB_INPUT: InCluster.JobInput = {
  check: "nccl-all-reduce-bw",
  phase: "performance",
  image: "ghcr.io/aicr-project/aicr-validator:v1.2.3",
  pullPolicy: "IfNotPresent",
  timeoutMs: 30 * 60_000,
  serviceAccount: Rbac.names(RUN.runId).serviceAccount,
  imagePullSecrets: ["regcred"],
  nodeSelector: { pool: "gpu", "a.b/c": "d" },
  tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }, { key: "team", operator: "Equal", value: "ml" }],
  env: { AICR_NCCL_ITERATIONS: "5", AICR_RUN_ID: "forged", HOME: "/root" }
}

describe("InCluster builders", () => {
  it("names the run's input ConfigMap and Jobs by the run hash; long check names are cut to 63", () => {
    expect(InCluster.inputName(RUN)).toBe(`aicr-input-${HASH}`)
    expect(InCluster.jobName(RUN, "inference-perf")).toBe(`aicr-inference-perf-${HASH}`)
    const long = InCluster.jobName(RUN, "a-check-with-a-really-long-name-that-goes-on-and-on-and-on")
    expect(long.length).toBeLessThanOrEqual(63)
    expect(long.endsWith(`-${HASH}`)).toBe(true)
  })

  it("puts each check's input under <check>.json, labelled with the run", () => {
    const configMap = InCluster.inputConfigMap(RUN, { "inference-perf": "{\"a\":1}", "nccl-all-reduce-bw": "{}" })
    expect(configMap.metadata).toEqual({
      name: `aicr-input-${HASH}`,
      namespace: "aicr-validation",
      labels: {
        "app.kubernetes.io/name": "aicr",
        "app.kubernetes.io/component": "validation",
        "app.kubernetes.io/managed-by": "aicr",
        "aicr.nvidia.com/run-id": RUN.runId
      }
    })
    expect(configMap["data"]).toEqual({ "inference-perf.json": "{\"a\":1}", "nccl-all-reduce-bw.json": "{}" })
    expect(InCluster.inputTooLarge(configMap)).toBeUndefined()
  })

  it("refuses an input over the 1 MiB object limit, naming the largest", () => {
    const big = InCluster.inputConfigMap(RUN, { "inference-perf": "x".repeat(InCluster.MAX_OBJECT_BYTES), small: "{}" })
    expect(InCluster.inputTooLarge(big)).toMatch(
      /^the checks' input \(\d+ bytes: inference-perf\.json 1048576 bytes, small\.json 2 bytes\) exceeds the 1048576-byte limit of a Kubernetes object/
    )
  })

  it("formats durations, node selectors and tolerations as upstream's variables", () => {
    expect(InCluster.goDuration(30 * 60_000)).toBe("30m0s")
    expect(InCluster.goDuration(65 * 60_000 + 1)).toBe("1h5m1s")
    expect(InCluster.goDuration(45_000)).toBe("45s")
    expect(InCluster.formatNodeSelector({ pool: "gpu", "a.b/c": "d" })).toBe("a.b/c=d,pool=gpu")
    expect(InCluster.formatTolerations(undefined)).toBe("*")
    expect(InCluster.formatTolerations([{ operator: "Exists", effect: "NoSchedule" }])).toBe(":NoSchedule")
    expect(InCluster.formatTolerations(JOB_INPUT.tolerations)).toBe("nvidia.com/gpu:NoSchedule,team=ml")
  })

  it("builds a Job that never retries, outlives the check's timeout by the headroom, and runs non-root read-only", () => {
    const job = InCluster.job(RUN, JOB_INPUT)
    const spec = job["spec"] as any
    expect(job.metadata.labels).toEqual({
      "app.kubernetes.io/name": "aicr",
      "app.kubernetes.io/component": "validation",
      "app.kubernetes.io/managed-by": "aicr",
      "aicr.nvidia.com/run-id": RUN.runId,
      "aicr.nvidia.com/job-type": "validation",
      "aicr.nvidia.com/validator": "nccl-all-reduce-bw",
      "aicr.nvidia.com/phase": "performance"
    })
    expect([spec.backoffLimit, spec.activeDeadlineSeconds, spec.ttlSecondsAfterFinished]).toEqual([0, 1800 + 210, 3600])
    const pod = spec.template.spec
    expect(pod.serviceAccountName).toBe(`aicr-validator-${HASH}`)
    expect(pod.tolerations).toEqual([{ operator: "Exists" }])
    expect(pod.imagePullSecrets).toEqual([{ name: "regcred" }])
    const container = pod.containers[0]
    expect(container.args).toEqual(["nccl-all-reduce-bw"])
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } })
    const env = Object.fromEntries(container.env.map((variable: any) => [variable.name, variable.value ?? variable.valueFrom]))
    expect(env).toEqual({
      AICR_CHECK_INPUT: "/data/input/nccl-all-reduce-bw.json",
      AICR_VALIDATOR_NAME: "nccl-all-reduce-bw",
      AICR_VALIDATOR_PHASE: "performance",
      AICR_RUN_ID: RUN.runId,
      AICR_NAMESPACE: { fieldRef: { fieldPath: "metadata.namespace" } },
      AICR_CHECK_TIMEOUT: "30m0s",
      AICR_NODE_SELECTOR: "a.b/c=d,pool=gpu",
      AICR_TOLERATIONS: "nvidia.com/gpu:NoSchedule,team=ml",
      AICR_TERMINATION_LOG: "/dev/termination-log",
      AICR_STATE_DIR: "/tmp/aicr-state",
      HOME: "/tmp",
      AICR_NCCL_ITERATIONS: "5"
    })
    expect(pod.volumes[0]).toEqual({
      name: "input",
      configMap: { name: `aicr-input-${HASH}`, items: [{ key: "nccl-all-reduce-bw.json", path: "nccl-all-reduce-bw.json" }] }
    })
  })
})

describe("InCluster objects against the API server's schemas (fieldValidation=Strict)", () => {
  let sim: Sim

  beforeAll(async () => {
    sim = await startSim()
  })
  afterAll(async () => {
    await sim.stop()
  })

  const create = async (path: string, object: KubeObject) => {
    const response = await fetch(`${sim.url}${path}?fieldValidation=Strict`, {
      method: "POST",
      headers: { Authorization: `Bearer ${sim.adminToken}`, "Content-Type": "application/json" },
      body: JSON.stringify(object)
    })
    const body = await response.json() as { message?: string }
    return { kind: object.kind, status: response.status, message: body.message, warning: response.headers.get("warning") }
  }

  it("creates the namespace, input ConfigMap, RBAC and Job without a warning", async () => {
    const ns = "/api/v1/namespaces/aicr-validation"
    const created = [
      await create("/api/v1/namespaces", InCluster.namespace("aicr-validation")),
      await create(`${ns}/configmaps`, InCluster.inputConfigMap(RUN, { "nccl-all-reduce-bw": "{}" })),
      await create(`${ns}/serviceaccounts`, Rbac.serviceAccount(RUN.runId, RUN.namespace)),
      await create("/apis/rbac.authorization.k8s.io/v1/clusterroles", Rbac.clusterRole(RUN.runId, [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }])),
      await create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", Rbac.clusterRoleBinding(RUN.runId, RUN.namespace)),
      await create("/apis/batch/v1/namespaces/aicr-validation/jobs", InCluster.job(RUN, JOB_INPUT))
    ]
    for (const answer of created) expect(answer).toEqual({ kind: answer.kind, status: 201, message: undefined, warning: null })
  })
})
