import * as k8s from "@kubernetes/client-node"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { parse } from "yaml"
import { type KubeObject, type Sim, type SimOptions, startSim } from "../src/index.ts"
import { kubectl, kubectlPath, manifest } from "./support/kubectl.ts"
import { eventually } from "./support/sim.ts"

const sims: Array<Sim> = []
afterEach(async () => {
  for (const sim of sims.splice(0)) await sim.stop()
})

const start = async (options: SimOptions) => {
  const sim = await startSim(options)
  sims.push(sim)
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(sim.kubeconfigPath)
  return { sim, kc, core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) }
}

const NS = "aicr-inference-perf-1a2b3c4d"
const NCCL_IMAGE = "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9"

/** The objects the upstream inference-perf check creates (spec §2 step 4), for 8 GPUs on gpu-1 of h100-eks. */
const inferenceObjects = (workers = 8): Array<KubeObject> => [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
  {
    apiVersion: "resource.k8s.io/v1",
    kind: "ResourceClaimTemplate",
    metadata: { name: "aicr-inference-gpu-claim", namespace: NS },
    spec: { spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "ExactCount", count: 1 } }] } } }
  },
  {
    apiVersion: "nvidia.com/v1alpha1",
    kind: "DynamoGraphDeployment",
    metadata: { name: "aicr-inference-perf", namespace: NS },
    spec: {
      services: {
        Frontend: {
          componentType: "frontend",
          replicas: 1,
          envs: [{ name: "SERVED_MODEL_NAME", value: "Qwen/Qwen3-0.6B" }, { name: "DYN_STORE_KV", value: "mem" }, { name: "DYN_EVENT_PLANE", value: "zmq" }],
          extraPodSpec: {
            mainContainer: { image: "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:0.9.0" },
            nodeSelector: { "kubernetes.io/hostname": "gpu-1" },
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]
          }
        },
        VllmDecodeWorker: {
          componentType: "worker",
          replicas: workers,
          envs: [{ name: "DYN_STORE_KV", value: "mem" }, { name: "DYN_EVENT_PLANE", value: "zmq" }],
          resources: { claims: [{ name: "gpu" }] },
          extraPodSpec: {
            mainContainer: {
              image: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0",
              workingDir: "/workspace/examples/backends/vllm",
              command: ["python3", "-m", "dynamo.vllm"],
              args: ["--model", "Qwen/Qwen3-0.6B"]
            },
            nodeSelector: { "kubernetes.io/hostname": "gpu-1" },
            tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }],
            resourceClaims: [{ name: "gpu", resourceClaimTemplateName: "aicr-inference-gpu-claim" }]
          }
        }
      }
    }
  }
]

const create = async (kc: k8s.KubeConfig, objects: ReadonlyArray<KubeObject>) => {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc)
  const custom = kc.makeApiClient(k8s.CustomObjectsApi)
  const resource = kc.makeApiClient(k8s.ResourceV1Api)
  for (const object of objects) {
    const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") as [string, string] : ["", object.apiVersion]
    if (object.kind === "ResourceClaimTemplate") await resource.createNamespacedResourceClaimTemplate({ namespace: object.metadata.namespace!, body: object as unknown as k8s.V1ResourceClaimTemplate })
    else if (group.endsWith("nvidia.com") || group === "trainer.kubeflow.org") {
      await custom.createNamespacedCustomObject({ group, version, namespace: object.metadata.namespace!, plural: `${object.kind.toLowerCase()}s`, body: object })
    } else await api.create(object as k8s.KubernetesObject)
  }
}

const dgdState = async (custom: k8s.CustomObjectsApi) =>
  ((await custom.getNamespacedCustomObject({ group: "nvidia.com", version: "v1alpha1", namespace: NS, plural: "dynamographdeployments", name: "aicr-inference-perf" })) as { status?: { state?: string } }).status?.state

describe("a simulated h100-eks cluster", () => {
  it("brings the inference-perf DGD to successful and answers completions through the service proxy once warm", async () => {
    kubectlPath()
    const { sim, kc, core, custom } = await start({ profile: "h100-eks", profileOptions: { timeScale: 0.0005, seed: 7 } })
    sim.world!.faults.neverWarm.add(`${NS}/aicr-inference-perf`)
    await create(kc, inferenceObjects())
    expect(await eventually(async () => ((await dgdState(custom)) === "successful" ? true : undefined), 30_000)).toBe(true)
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: "nvidia.com/dynamo-component-type=worker" })
    expect(pods.items).toHaveLength(8)
    expect(new Set(pods.items.map((pod) => pod.spec!.nodeName))).toEqual(new Set(["gpu-1"]))
    const claims = await kc.makeApiClient(k8s.ResourceV1Api).listNamespacedResourceClaim({ namespace: NS })
    expect(claims.items.map((claim) => claim.status?.allocation?.devices?.results?.[0]?.pool)).toEqual(Array(8).fill("gpu-1"))
    expect(new Set(claims.items.map((claim) => claim.status!.allocation!.devices!.results![0]!.device)).size).toBe(8)
    const body = manifest("body.json", JSON.stringify({ model: "Qwen/Qwen3-0.6B", messages: [{ role: "user", content: "Say hello" }], max_tokens: 16 }))
    const path = `/api/v1/namespaces/${NS}/services/aicr-inference-perf-frontend:8000/proxy/v1/chat/completions`
    const cold = await kubectl(sim.kubeconfigPath, ["create", "--raw", path, "-f", body])
    expect(cold.status).toBe(1)
    expect(cold.stderr).toContain("ServiceUnavailable")
    sim.world!.faults.neverWarm.clear()
    const warm = await eventually(async () => {
      const result = await kubectl(sim.kubeconfigPath, ["create", "--raw", path, "-f", body])
      return result.status === 0 ? result.stdout : undefined
    }, 30_000)
    const completion = JSON.parse(warm) as { model: string; choices: Array<{ message: { role: string; content: string } }> }
    expect(completion.model).toBe("Qwen/Qwen3-0.6B")
    expect(completion.choices[0]!.message.content.length).toBeGreaterThan(0)
  }, 90_000)

  it("keeps a pod that needs 8 GPUs by claim Pending on a node where a DRA claim holds 3, and runs it on the free node", async () => {
    const { kc, core } = await start({ profile: "h100-eks", profileOptions: { timeScale: 0.0005, seed: 7, gpuUse: [{ node: "gpu-2", gpus: 3, by: "dra-claim" }] } })
    const resource = kc.makeApiClient(k8s.ResourceV1Api)
    await core.createNamespace({ body: { metadata: { name: "dra" } } })
    await resource.createNamespacedResourceClaimTemplate({
      namespace: "dra",
      body: { metadata: { name: "eight" }, spec: { spec: { devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "ExactCount", count: 8 } }] } } } }
    })
    const pod = (name: string, node: string): k8s.V1Pod => ({
      metadata: { name },
      spec: {
        restartPolicy: "Never",
        nodeSelector: { "kubernetes.io/hostname": node },
        tolerations: [{ operator: "Exists" }],
        resourceClaims: [{ name: "gpus", resourceClaimTemplateName: "eight" }],
        containers: [{ name: "main", image: NCCL_IMAGE, command: ["/usr/sbin/sshd", "-De"], resources: { claims: [{ name: "gpus" }] } }]
      }
    })
    await core.createNamespacedPod({ namespace: "dra", body: pod("on-busy", "gpu-2") })
    await core.createNamespacedPod({ namespace: "dra", body: pod("on-free", "gpu-1") })
    const event = await eventually(async () => {
      const events = await core.listNamespacedEvent({ namespace: "dra", fieldSelector: "involvedObject.name=on-busy,reason=FailedScheduling" })
      return events.items[0]
    }, 20_000)
    expect(event.type).toBe("Warning")
    expect(event.message).toMatch(/^0\/4 nodes are available: .*cannot allocate all claims/)
    const busy = await core.readNamespacedPod({ name: "on-busy", namespace: "dra" })
    expect(busy.status?.phase).toBe("Pending")
    expect(busy.spec?.nodeName).toBeUndefined()
    expect(busy.status?.conditions?.find((condition) => condition.type === "PodScheduled")).toMatchObject({ status: "False", reason: "Unschedulable" })
    const free = await eventually(async () => {
      const read = await core.readNamespacedPod({ name: "on-free", namespace: "dra" })
      return read.status?.phase === "Running" ? read : undefined
    }, 20_000)
    expect(free.spec?.nodeName).toBe("gpu-1")
    const holders = await core.listNamespacedPod({ namespace: "gpu-holders" })
    expect(holders.items.map((holder) => [holder.spec?.nodeName, holder.status?.phase])).toEqual([["gpu-2", "Running"]])
  }, 60_000)
})

const NCCL_NS = "aicr-nccl-1a2b3c4d"

const ncclObjects = (): Array<KubeObject> => [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NCCL_NS } },
  parse(readFileSync(join(import.meta.dirname, "fixtures", "nccl-runtime-eks.yaml"), "utf8").replaceAll("${NAMESPACE}", NCCL_NS).replaceAll("${IMAGE}", NCCL_IMAGE)) as KubeObject,
  {
    apiVersion: "trainer.kubeflow.org/v1alpha1",
    kind: "TrainJob",
    metadata: { name: "nccl-all-reduce", namespace: NCCL_NS },
    spec: { runtimeRef: { name: "nccl-all-reduce-runtime", apiGroup: "trainer.kubeflow.org", kind: "TrainingRuntime" }, trainer: { numNodes: 2 } }
  }
]

/** The launcher's log once its pod has succeeded. */
const launcherLog = async (core: k8s.CoreV1Api): Promise<string> => {
  const launcher = await eventually(async () => {
    const pods = await core.listNamespacedPod({ namespace: NCCL_NS, labelSelector: "jobset.sigs.k8s.io/replicatedjob-name=launcher" })
    const pod = pods.items[0]
    if (pod?.status?.phase === "Failed") throw new Error(`launcher failed: ${JSON.stringify(pod.status)}`)
    return pod?.status?.phase === "Succeeded" ? pod : undefined
  }, 60_000)
  return core.readNamespacedPodLog({ name: launcher.metadata!.name!, namespace: NCCL_NS, container: "node" })
}

/** Rows of an all_reduce_perf table: size, out-of-place time/algbw/busbw. */
const tableRows = (log: string) =>
  log
    .split("\n")
    .filter((line) => /^\s+\d+\s+\d+\s+float\s+sum/.test(line))
    .map((line) => {
      const fields = line.trim().split(/\s+/)
      return { bytes: Number(fields[0]), timeUs: Number(fields[5]), algbw: Number(fields[6]), busbw: Number(fields[7]) }
    })

describe("NCCL all-reduce on a simulated h100-eks cluster", () => {
  it("runs a TrainJob across 2 nodes whose launcher log is a self-consistent all_reduce_perf table following the model", async () => {
    const { sim, kc, core } = await start({ profile: "h100-eks", profileOptions: { timeScale: 0.0005, seed: 11 } })
    await create(kc, ncclObjects())
    const log = await launcherLog(core)
    const rows = tableRows(log)
    expect(rows.length).toBeGreaterThan(10)
    expect(rows.at(-1)!.bytes).toBe(16 * 2 ** 30)
    const ranks = 16
    for (const row of rows) {
      expect(row.algbw).toBeCloseTo(row.bytes / (row.timeUs * 1000), 1)
      expect(row.busbw).toBeCloseTo((row.algbw * 2 * (ranks - 1)) / ranks, 1)
    }
    const model = sim.profile!.performance.nccl
    expect(Math.abs(rows.at(-1)!.busbw - model.interNode.busBandwidthGBps) / model.interNode.busBandwidthGBps).toBeLessThan(0.03)
    expect(log).toMatch(/# Avg bus bandwidth {4}: \d+\.\d+ ?\n/)
  }, 90_000)

  it("replays a recorded launcher log byte for byte", async () => {
    const recorded = join(import.meta.dirname, "fixtures", "nccl", "aicr-v0.11.1-unit-test-fixture-eks-16G.txt")
    const { kc, core } = await start({ profile: "h100-eks", profileOptions: { timeScale: 0.0005, seed: 11, replay: { nccl: recorded } } })
    await create(kc, ncclObjects())
    expect(await launcherLog(core)).toBe(readFileSync(recorded, "utf8"))
  }, 90_000)

  it("gives the same figures and the same object states for the same profile and seed", async () => {
    const run = async () => {
      const { sim, kc, core } = await start({ profile: "h100-eks", profileOptions: { timeScale: 0.0005, seed: 23 } })
      const states = new Map<string, Array<string>>()
      const unsubscribe = sim.cluster.store.subscribe((change) => {
        if (change.key !== "/pods" && change.key !== "trainer.kubeflow.org/trainjobs") return
        const status = change.object["status"] as { phase?: string; conditions?: Array<{ type: string; status: string }> } | undefined
        const state = `${change.type} ${status?.phase ?? ""} ${(status?.conditions ?? []).map((condition) => `${condition.type}=${condition.status}`).join(",")} ${(change.object["spec"] as { nodeName?: string } | undefined)?.nodeName ?? ""}`
        const id = `${change.key} ${change.namespace}/${change.name}`
        const list = states.get(id) ?? []
        if (list.at(-1) !== state) list.push(state)
        states.set(id, list)
      })
      await create(kc, ncclObjects())
      const rows = tableRows(await launcherLog(core))
      unsubscribe()
      return { rows, states: Object.fromEntries([...states.entries()].filter(([id]) => id.includes(NCCL_NS)).sort()) }
    }
    const first = await run()
    const second = await run()
    expect(second.rows).toEqual(first.rows)
    expect(second.states).toEqual(first.states)
  }, 120_000)
})

describe("an image played by a local command", () => {
  it("runs the command with the pod's env and ServiceAccount credentials, and reports its output and exit code", async () => {
    const script = [
      "const { readFileSync } = require('node:fs')",
      "const dir = process.env.KUBE_SIM_SERVICEACCOUNT_DIR",
      "const token = readFileSync(dir + '/token', 'utf8')",
      "const namespace = readFileSync(dir + '/namespace', 'utf8')",
      "fetch(`http://${process.env.KUBERNETES_SERVICE_HOST}:${process.env.KUBERNETES_SERVICE_PORT}/api/v1/namespaces/${namespace}/pods`, { headers: { authorization: 'Bearer ' + token } })",
      "  .then((response) => response.json())",
      "  .then((list) => { console.log(`${process.env.GREETING} from ${namespace}: ${list.items.map((pod) => pod.metadata.name).join(',')}`); process.exit(3) })"
    ].join("\n")
    const { core } = await start({ profile: "dev", profileOptions: { timeScale: 0.0005 }, execImages: [{ image: "ghcr.io/aicr-project/checker:1", command: [process.execPath, "-e", script] }] })
    await core.createNamespace({ body: { metadata: { name: "exec" } } })
    await core.createNamespacedPod({
      namespace: "exec",
      body: { metadata: { name: "checker" }, spec: { restartPolicy: "Never", containers: [{ name: "main", image: "ghcr.io/aicr-project/checker:1", env: [{ name: "GREETING", value: "hello" }] }] } }
    })
    const done = await eventually(async () => {
      const pod = await core.readNamespacedPod({ name: "checker", namespace: "exec" })
      return pod.status?.phase === "Failed" ? pod : undefined
    }, 30_000)
    expect(done.status!.containerStatuses![0]!.state!.terminated!.exitCode).toBe(3)
    expect(await core.readNamespacedPodLog({ name: "checker", namespace: "exec" })).toBe("hello from exec: checker\n")
  }, 60_000)

  it("keeps a deleted pod Terminating until the command has exited after SIGTERM, then removes it with its exit code; a forced delete does not wait; a Job deleted in the foreground waits for its pod", async () => {
    const script = [
      "console.log('up')",
      "setInterval(() => {}, 1000)",
      "process.on('SIGTERM', () => { console.log('releasing'); setTimeout(() => { console.log('released'); process.exit(3) }, 300) })"
    ].join("\n")
    const { sim, core, kc } = await start({ profile: "dev", profileOptions: { timeScale: 0.0005 }, execImages: [{ image: "ghcr.io/aicr-project/checker:1", command: [process.execPath, "-e", script], killGraceMs: 10_000 }] })
    await core.createNamespace({ body: { metadata: { name: "exec" } } })
    const body = (name: string) => ({ metadata: { name }, spec: { restartPolicy: "Never", terminationGracePeriodSeconds: 45, containers: [{ name: "main", image: "ghcr.io/aicr-project/checker:1" }] } })
    const changes: Array<string> = []
    let last: KubeObject | undefined
    sim.cluster.store.subscribe((change) => {
      if (change.key !== "/pods" || change.name !== "checker") return
      changes.push(`${change.type}${change.object.metadata.deletionTimestamp === undefined ? "" : " terminating"}`)
      if (change.type === "DELETED") last = change.object
    })
    const running = async (name: string) =>
      eventually(async () => ((await core.readNamespacedPodLog({ name, namespace: "exec" }).catch(() => "")) === "up\n" ? true : undefined), 30_000)

    await core.createNamespacedPod({ namespace: "exec", body: body("checker") })
    await running("checker")
    const deleted = await core.deleteNamespacedPod({ name: "checker", namespace: "exec" })
    expect(deleted.metadata?.deletionGracePeriodSeconds).toBe(45)
    expect(deleted.metadata?.deletionTimestamp).toBeDefined()
    const terminating = await core.readNamespacedPod({ name: "checker", namespace: "exec" })
    expect(terminating.metadata?.deletionTimestamp).toBeDefined()
    expect(await core.readNamespacedPodLog({ name: "checker", namespace: "exec" })).toContain("releasing\n")
    await eventually(async () => (last === undefined ? undefined : true), 10_000)
    const status = last!["status"] as { phase: string; containerStatuses: Array<{ state: { terminated?: { exitCode: number; reason: string } } }> }
    expect(status.phase).toBe("Failed")
    expect(status.containerStatuses[0]!.state.terminated).toMatchObject({ exitCode: 3, reason: "Error" })
    expect(changes.at(-1)).toBe("DELETED terminating")
    expect(changes.filter((change) => change.endsWith("terminating")).length).toBeGreaterThanOrEqual(2)

    await core.createNamespacedPod({ namespace: "exec", body: body("forced") })
    await running("forced")
    const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
    await objects.delete({ apiVersion: "v1", kind: "Pod", metadata: { name: "forced", namespace: "exec" } }, undefined, undefined, 0)
    expect(sim.cluster.store.get("/pods", "exec", "forced")).toBeUndefined()

    const batch = kc.makeApiClient(k8s.BatchV1Api)
    await batch.createNamespacedJob({ namespace: "exec", body: { metadata: { name: "job" }, spec: { backoffLimit: 0, template: body("ignored") } } as k8s.V1Job })
    const pod = await eventually(async () => (await core.listNamespacedPod({ namespace: "exec", labelSelector: "job-name=job" })).items[0], 30_000)
    await running(pod.metadata!.name!)
    await batch.deleteNamespacedJob({ name: "job", namespace: "exec", propagationPolicy: "Foreground" })
    expect((await batch.readNamespacedJob({ name: "job", namespace: "exec" })).metadata?.deletionTimestamp).toBeDefined()
    expect(sim.cluster.store.get("/pods", "exec", pod.metadata!.name!)?.metadata.deletionTimestamp).toBeDefined()
    await eventually(async () => (sim.cluster.store.get("batch/jobs", "exec", "job") === undefined ? true : undefined), 10_000)
    expect(sim.cluster.store.get("/pods", "exec", pod.metadata!.name!)).toBeUndefined()
  }, 60_000)
})

describe("controller-level faults", () => {
  it("pauses a controller, holds workers unready, and OOM-kills the pods a profile names", async () => {
    const { sim, kc, core, custom } = await start({
      profile: "h100-eks",
      profileOptions: { timeScale: 0.0005, seed: 3, oomKilled: ["app=hungry"] }
    })
    const faults = sim.world!.faults
    faults.paused.add("dynamo-operator")
    faults.neverReady.add("nvidia.com/dynamo-component-type=worker")
    await create(kc, inferenceObjects(2))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await core.listNamespacedPod({ namespace: NS })).items).toEqual([])
    faults.paused.delete("dynamo-operator")
    const workers = await eventually(async () => {
      const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: "nvidia.com/dynamo-component-type=worker" })).items
      return pods.length === 2 && pods.every((pod) => pod.status?.phase === "Running") ? pods : undefined
    }, 30_000)
    expect(workers.every((pod) => pod.status?.conditions?.find((condition) => condition.type === "Ready")?.status === "False")).toBe(true)
    expect(await dgdState(custom)).toBe("pending")
    faults.neverReady.clear()
    expect(await eventually(async () => ((await dgdState(custom)) === "successful" ? true : undefined), 30_000)).toBe(true)

    await core.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: "hungry", labels: { app: "hungry" } }, spec: { restartPolicy: "Never", tolerations: [{ operator: "Exists" }], containers: [{ name: "main", image: NCCL_IMAGE, command: ["/usr/sbin/sshd", "-De"] }] } }
    })
    const killed = await eventually(async () => {
      const pod = await core.readNamespacedPod({ name: "hungry", namespace: NS })
      return pod.status?.phase === "Failed" ? pod : undefined
    }, 30_000)
    expect(killed.status!.containerStatuses![0]!.state!.terminated).toMatchObject({ exitCode: 137, reason: "OOMKilled" })
  }, 90_000)
})
