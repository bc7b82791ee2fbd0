import { describe, expect, it, vi } from "vitest"
import { bundledCrds } from "../src/crds.ts"
import { DynamoOperator } from "../src/dynamo-operator.ts"
import { runControllers } from "../src/simulation.ts"
import type { KubeObject } from "../src/types.ts"
import { testProfile, testWorld, type TestWorld } from "./support/world.ts"

const NAMESPACE = "aicr-inference-perf-1a2b3c4d"
const DGD = "aicr-inference-perf"
const DYNAMO_NAMESPACE = `${NAMESPACE}-${DGD}`
const SUFFIX = /^[bcdfghjklmnpqrstvwxz2456789]+$/

const tolerations = [{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }]
const nodeSelector = { "kubernetes.io/hostname": "gpu-1" }

/** The DynamoGraphDeployment the inference-perf validator creates (template + applyInferenceWorkerScheduling). */
const validatorDgd = (workers = 2): KubeObject => ({
  apiVersion: "nvidia.com/v1alpha1",
  kind: "DynamoGraphDeployment",
  metadata: { name: DGD, namespace: NAMESPACE },
  spec: {
    services: {
      Frontend: {
        componentType: "frontend",
        replicas: 1,
        envs: [
          { name: "SERVED_MODEL_NAME", value: "Qwen/Qwen3-0.6B" },
          { name: "DYN_STORE_KV", value: "mem" },
          { name: "DYN_EVENT_PLANE", value: "zmq" }
        ],
        extraPodSpec: { mainContainer: { image: "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:0.9.0" }, tolerations, nodeSelector }
      },
      VllmDecodeWorker: {
        componentType: "worker",
        replicas: workers,
        envs: [
          { name: "DYN_STORE_KV", value: "mem" },
          { name: "DYN_EVENT_PLANE", value: "zmq" }
        ],
        resources: { claims: [{ name: "gpu" }] },
        extraPodSpec: {
          mainContainer: {
            image: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0",
            workingDir: "/workspace/examples/backends/vllm",
            command: ["python3", "-m", "dynamo.vllm"],
            args: ["--model", "Qwen/Qwen3-0.6B"]
          },
          tolerations,
          nodeSelector,
          resourceClaims: [{ name: "gpu", resourceClaimTemplateName: "aicr-inference-gpu-claim" }]
        }
      }
    }
  }
})

const setup = (options: ConstructorParameters<typeof DynamoOperator>[0] = {}, seed = 42) => {
  const sim = testWorld(testProfile({ seed }))
  const crdType = sim.cluster.registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")!
  for (const crd of bundledCrds("dynamo")) sim.cluster.create(crdType, "", crd)
  sim.cluster.create(sim.cluster.registry.find("", "v1", "namespaces")!, "", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } })
  const stop = runControllers(sim.world, [new DynamoOperator(options)])
  const dgdType = sim.cluster.registry.find("nvidia.com", "v1alpha1", "dynamographdeployments")!
  const podType = sim.cluster.registry.find("", "v1", "pods")!
  const create = (dgd: KubeObject = validatorDgd()) => sim.cluster.create(dgdType, NAMESPACE, dgd, { request: true })
  return { ...sim, stop, dgdType, podType, create }
}

const pods = (sim: TestWorld, component?: string): Array<KubeObject> =>
  (sim.cluster.store.list("/pods", NAMESPACE) ?? []).filter((pod) => component === undefined || pod.metadata.labels?.["nvidia.com/dynamo-component"] === component)

const dgdStatus = (sim: TestWorld) => sim.cluster.store.get("nvidia.com/dynamographdeployments", NAMESPACE, DGD)?.["status"] as
  | { state?: string; conditions?: Array<Record<string, unknown>> }
  | undefined

const running = (ready: boolean) => ({
  phase: "Running",
  conditions: [
    { type: "PodScheduled", status: "True" },
    { type: "Ready", status: ready ? "True" : "False" }
  ]
})

const setPodStatus = (sim: ReturnType<typeof setup>, pod: KubeObject, status: Record<string, unknown>) =>
  sim.cluster.update(sim.podType, NAMESPACE, pod.metadata.name!, { ...pod, status }, { subresource: "status" })

describe("DynamoOperator", () => {
  it("creates one pod per replica of each service, named and labelled as a Dynamo Deployment's pods", async () => {
    const sim = setup()
    const dgd = sim.create()
    await vi.waitFor(() => expect(pods(sim)).toHaveLength(3))

    const frontend = pods(sim, "Frontend")
    const workers = pods(sim, "VllmDecodeWorker")
    expect(frontend).toHaveLength(1)
    expect(workers).toHaveLength(2)
    const workerHash = workers[0]!.metadata.labels!["pod-template-hash"]!
    const frontendHash = frontend[0]!.metadata.labels!["pod-template-hash"]!
    expect(workerHash).toMatch(SUFFIX)
    for (const pod of workers) {
      const [, hash, suffix] = /^aicr-inference-perf-vllmdecodeworker-([a-z0-9]+)-([a-z0-9]+)$/.exec(pod.metadata.name!) ?? []
      expect(hash).toBe(workerHash)
      expect(suffix).toMatch(SUFFIX)
      expect(suffix).toHaveLength(5)
    }
    expect(frontend[0]!.metadata.name).toMatch(new RegExp(`^aicr-inference-perf-frontend-${frontendHash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`))

    expect(workers[0]!.metadata.labels).toEqual({
      "nvidia.com/dynamo-component": "VllmDecodeWorker",
      "nvidia.com/dynamo-namespace": DYNAMO_NAMESPACE,
      "nvidia.com/dynamo-graph-deployment-name": DGD,
      "nvidia.com/metrics-enabled": "true",
      "nvidia.com/dynamo-component-type": "worker",
      "nvidia.com/selector": "aicr-inference-perf-vllmdecodeworker",
      "pod-template-hash": workerHash
    })
    expect(frontend[0]!.metadata.labels).toEqual({
      "nvidia.com/dynamo-component": "Frontend",
      "nvidia.com/dynamo-namespace": DYNAMO_NAMESPACE,
      "nvidia.com/dynamo-graph-deployment-name": DGD,
      "nvidia.com/metrics-enabled": "true",
      "nvidia.com/dynamo-component-type": "frontend",
      "nvidia.com/selector": "aicr-inference-perf-frontend",
      "pod-template-hash": frontendHash
    })
    expect(workers[0]!.metadata.ownerReferences).toEqual([
      { apiVersion: "nvidia.com/v1alpha1", kind: "DynamoGraphDeployment", name: DGD, uid: dgd.metadata.uid, controller: true, blockOwnerDeletion: true }
    ])
    sim.stop()
  })

  it("builds the worker pod from extraPodSpec, mainContainer, envs and resources.claims", async () => {
    const sim = setup()
    sim.create()
    await vi.waitFor(() => expect(pods(sim, "VllmDecodeWorker")).toHaveLength(2))
    expect(pods(sim, "VllmDecodeWorker")[0]!["spec"]).toEqual({
      tolerations,
      nodeSelector,
      resourceClaims: [{ name: "gpu", resourceClaimTemplateName: "aicr-inference-gpu-claim" }],
      securityContext: { fsGroup: 1000 },
      containers: [
        {
          name: "main",
          image: "nvcr.io/nvidia/ai-dynamo/vllm-runtime:0.9.0",
          workingDir: "/workspace/examples/backends/vllm",
          command: ["python3", "-m", "dynamo.vllm"],
          args: ["--model", "Qwen/Qwen3-0.6B"],
          ports: [{ protocol: "TCP", name: "system", containerPort: 9090 }],
          env: [
            { name: "DYN_EVENT_PLANE", value: "zmq" },
            { name: "DYN_HEALTH_CHECK_ENABLED", value: "false" },
            { name: "DYN_NAMESPACE", value: DYNAMO_NAMESPACE },
            { name: "DYN_PARENT_DGD_K8S_NAME", value: DGD },
            { name: "DYN_PARENT_DGD_K8S_NAMESPACE", value: NAMESPACE },
            { name: "DYN_STORE_KV", value: "mem" },
            { name: "DYN_SYSTEM_ENABLED", value: "true" },
            { name: "DYN_SYSTEM_PORT", value: "9090" },
            { name: "DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS", value: '["generate"]' }
          ],
          resources: { claims: [{ name: "gpu" }] },
          volumeMounts: [{ name: "shared-memory", mountPath: "/dev/shm" }]
        }
      ],
      volumes: [{ name: "shared-memory", emptyDir: { medium: "Memory", sizeLimit: "8Gi" } }],
      serviceAccountName: "default",
      restartPolicy: "Always"
    })
    const frontendContainer = (pods(sim, "Frontend")[0]!["spec"] as { containers: Array<Record<string, unknown>> }).containers[0]
    expect(frontendContainer).toEqual({
      name: "main",
      image: "nvcr.io/nvidia/ai-dynamo/dynamo-frontend:0.9.0",
      ports: [{ protocol: "TCP", name: "http", containerPort: 8000 }],
      resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "1", memory: "2Gi" } },
      env: [
        { name: "DYNAMO_PORT", value: "8000" },
        { name: "DYN_EVENT_PLANE", value: "zmq" },
        { name: "DYN_NAMESPACE", value: DYNAMO_NAMESPACE },
        { name: "DYN_PARENT_DGD_K8S_NAME", value: DGD },
        { name: "DYN_PARENT_DGD_K8S_NAMESPACE", value: NAMESPACE },
        { name: "DYN_STORE_KV", value: "mem" },
        { name: "SERVED_MODEL_NAME", value: "Qwen/Qwen3-0.6B" }
      ],
      volumeMounts: [{ name: "shared-memory", mountPath: "/dev/shm" }]
    })
    sim.stop()
  })

  it("creates the frontend Service <dgd>-frontend on port 8000 selecting the frontend pods", async () => {
    const sim = setup()
    const dgd = sim.create()
    await vi.waitFor(() => expect(sim.cluster.store.get("/services", NAMESPACE, "aicr-inference-perf-frontend")).toBeDefined())
    const service = sim.cluster.store.get("/services", NAMESPACE, "aicr-inference-perf-frontend")!
    expect(service.metadata.labels).toEqual({
      "nvidia.com/dynamo-component": "Frontend",
      "nvidia.com/dynamo-namespace": DYNAMO_NAMESPACE,
      "nvidia.com/dynamo-graph-deployment-name": DGD
    })
    expect(service.metadata.ownerReferences).toEqual([
      { apiVersion: "nvidia.com/v1alpha1", kind: "DynamoGraphDeployment", name: DGD, uid: dgd.metadata.uid, controller: true, blockOwnerDeletion: true }
    ])
    expect(service["spec"]).toEqual({
      type: "ClusterIP",
      selector: { "nvidia.com/dynamo-component-type": "frontend", "nvidia.com/dynamo-namespace": DYNAMO_NAMESPACE },
      ports: [{ name: "http", port: 8000, targetPort: "http", protocol: "TCP" }]
    })
    const selector = (service["spec"] as { selector: Record<string, string> }).selector
    const selected = pods(sim).filter((pod) => Object.entries(selector).every(([key, value]) => pod.metadata.labels?.[key] === value))
    expect(selected.map((pod) => pod.metadata.labels?.["nvidia.com/dynamo-component"])).toEqual(["Frontend"])
    expect(sim.cluster.store.list("/services", NAMESPACE)).toHaveLength(1)
    sim.stop()
  })

  it("reports pending until every pod of every service is Ready, then successful", async () => {
    const sim = setup()
    sim.create()
    await vi.waitFor(() => expect(dgdStatus(sim)?.state).toBe("pending"))
    expect(dgdStatus(sim)?.conditions).toEqual([
      {
        type: "Ready",
        status: "False",
        reason: "some_resources_are_not_ready",
        message:
          "Resources not ready: aicr-inference-perf-frontend: Component deployment not ready - Available condition not true; aicr-inference-perf-vllmdecodeworker: Component deployment not ready - Available condition not true",
        lastTransitionTime: expect.any(String)
      }
    ])

    for (const pod of pods(sim, "Frontend")) setPodStatus(sim, pod, running(true))
    const [first, second] = pods(sim, "VllmDecodeWorker")
    setPodStatus(sim, first!, running(true))
    setPodStatus(sim, second!, running(false))
    await vi.waitFor(() =>
      expect(dgdStatus(sim)?.conditions?.[0]?.["message"]).toBe("Resources not ready: aicr-inference-perf-vllmdecodeworker: Component deployment not ready - Available condition not true")
    )
    expect(dgdStatus(sim)?.state).toBe("pending")

    setPodStatus(sim, pods(sim, "VllmDecodeWorker")[1]!, running(true))
    await vi.waitFor(() => expect(dgdStatus(sim)?.state).toBe("successful"))
    expect(dgdStatus(sim)?.conditions).toEqual([
      { type: "Ready", status: "True", reason: "all_resources_are_ready", message: "All resources are ready", lastTransitionTime: expect.any(String) }
    ])
    sim.stop()
  })

  it("fails the DGD when a pod stays unschedulable for the grace period", async () => {
    const sim = setup({ unschedulableGraceSeconds: 120 })
    sim.create()
    await vi.waitFor(() => expect(pods(sim)).toHaveLength(3))
    for (const pod of pods(sim, "Frontend")) setPodStatus(sim, pod, running(true))
    setPodStatus(sim, pods(sim, "VllmDecodeWorker")[0]!, running(true))
    const stuck = pods(sim, "VllmDecodeWorker")[1]!
    const unschedulable = "0/3 nodes are available: 1 cannot allocate all claims, 2 node(s) didn't match Pod's node affinity/selector."
    setPodStatus(sim, stuck, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: unschedulable }] })

    await vi.waitFor(() => expect(dgdStatus(sim)?.state).toBe("failed"))
    expect(dgdStatus(sim)?.conditions).toEqual([
      {
        type: "Ready",
        status: "False",
        reason: "some_resources_failed",
        message: `Resources failed: aicr-inference-perf-vllmdecodeworker: pod ${stuck.metadata.name} unschedulable for more than 120s: ${unschedulable}`,
        lastTransitionTime: expect.any(String)
      }
    ])

    setPodStatus(sim, sim.cluster.store.get("/pods", NAMESPACE, stuck.metadata.name!)!, running(true))
    await vi.waitFor(() => expect(dgdStatus(sim)?.state).toBe("successful"))
    sim.stop()
  })

  it("fails the DGD when a pod fails, and replaces the failed pod", async () => {
    const sim = setup()
    sim.create(validatorDgd(1))
    await vi.waitFor(() => expect(pods(sim)).toHaveLength(2))
    const worker = pods(sim, "VllmDecodeWorker")[0]!
    setPodStatus(sim, worker, { phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." })
    await vi.waitFor(() => expect(dgdStatus(sim)?.state).toBe("failed"))
    expect(dgdStatus(sim)?.conditions?.[0]?.["message"]).toBe(
      `Resources failed: aicr-inference-perf-vllmdecodeworker: pod ${worker.metadata.name} failed: The node was low on resource: memory.`
    )
    expect(pods(sim, "VllmDecodeWorker")).toHaveLength(2)
    sim.stop()
  })

  it("recreates pods that disappear and scales with replicas", async () => {
    const sim = setup()
    sim.create()
    await vi.waitFor(() => expect(pods(sim, "VllmDecodeWorker")).toHaveLength(2))
    const [gone, kept] = pods(sim, "VllmDecodeWorker")
    sim.cluster.delete(sim.podType, NAMESPACE, gone!.metadata.name!)
    await vi.waitFor(() => expect(pods(sim, "VllmDecodeWorker")).toHaveLength(2))
    const names = pods(sim, "VllmDecodeWorker").map((pod) => pod.metadata.name)
    expect(names).toContain(kept!.metadata.name)
    expect(names).not.toContain(gone!.metadata.name)

    const current = sim.cluster.get(sim.dgdType, NAMESPACE, DGD)
    const spec = current["spec"] as { services: { VllmDecodeWorker: { replicas: number } } }
    spec.services.VllmDecodeWorker.replicas = 1
    sim.cluster.update(sim.dgdType, NAMESPACE, DGD, current)
    await vi.waitFor(() => expect(pods(sim, "VllmDecodeWorker")).toHaveLength(1))
    sim.stop()
  })

  it("leaves the pods and the Service to the garbage collector when the DGD is deleted", async () => {
    const sim = setup()
    sim.create()
    await vi.waitFor(() => expect(pods(sim)).toHaveLength(3))
    await vi.waitFor(() => expect(sim.cluster.store.list("/services", NAMESPACE)).toHaveLength(1))
    sim.cluster.delete(sim.dgdType, NAMESPACE, DGD)
    await vi.waitFor(() => {
      expect(pods(sim)).toEqual([])
      expect(sim.cluster.store.list("/services", NAMESPACE)).toEqual([])
    })
    sim.stop()
  })

  it("does nothing while paused and catches up when resumed", async () => {
    const sim = setup()
    sim.world.faults.paused.add("dynamo-operator")
    sim.create()
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(pods(sim)).toEqual([])
    expect(dgdStatus(sim)).toBeUndefined()
    sim.world.faults.paused.delete("dynamo-operator")
    await vi.waitFor(() => expect(pods(sim)).toHaveLength(3))
    sim.stop()
  })

  it("adds the stuck finalizer of the controller faults to what it creates", async () => {
    const sim = setup()
    sim.world.faults.stuckFinalizers.set("dynamo-operator", "example.com/stuck")
    sim.create()
    await vi.waitFor(() => expect(pods(sim)).toHaveLength(3))
    await vi.waitFor(() => expect(sim.cluster.store.list("/services", NAMESPACE)).toHaveLength(1))
    expect([...pods(sim), ...sim.cluster.store.list("/services", NAMESPACE)!].map((object) => object.metadata.finalizers)).toEqual([
      ["example.com/stuck"],
      ["example.com/stuck"],
      ["example.com/stuck"],
      ["example.com/stuck"]
    ])
    sim.stop()
  })

  it("names pods the same way for the same seed", async () => {
    const names = async (seed: number) => {
      const sim = setup({}, seed)
      sim.create()
      await vi.waitFor(() => expect(pods(sim)).toHaveLength(3))
      sim.stop()
      return pods(sim).map((pod) => pod.metadata.name)
    }
    const first = await names(7)
    expect(await names(7)).toEqual(first)
    expect(await names(8)).not.toEqual(first)
  })
})
