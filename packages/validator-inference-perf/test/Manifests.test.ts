import * as Dra from "@aicr/core/Dra"
import type { KubeObject } from "@aicr/core/KubeClient"
import * as RunContext from "@aicr/core/RunContext"
import { bundledCrds, type Sim, startSim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Manifests from "../src/Manifests.ts"

const RUN = RunContext.make({ runId: "20260101-000000-0123456789abcdef", validator: "inference-perf" })
const NS = `aicr-inference-perf-${RUN.hash}`
const MODEL = "Qwen/Qwen3-0.6B"
const FRONTEND_IMAGE = "nvcr.io/nvidia/ai-dynamo/vllm-runtime:1.2.1"
const AIPERF_IMAGE = "ghcr.io/aicr-project/aiperf-bench:latest"

const NODE: Manifests.GpuNode = {
  name: "ip-10-0-1-17.ec2.internal",
  labels: { "kubernetes.io/hostname": "ip-10-0-1-17" },
  taints: [
    { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
    { key: "node.kubernetes.io/not-ready", effect: "NoExecute" },
    { key: "dedicated", value: "a:b#c - d", effect: "NoExecute" },
    { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }
  ]
}

const deploymentInput = (overrides: Partial<Manifests.DeploymentInput> = {}): Manifests.DeploymentInput => ({
  run: RUN,
  node: NODE,
  workers: 8,
  model: MODEL,
  images: { frontend: { image: FRONTEND_IMAGE }, worker: { image: FRONTEND_IMAGE } },
  ...overrides
})

const AIPERF_ARGS = (concurrency: number) => [
  "profile",
  "--model",
  MODEL,
  "--url",
  Manifests.frontendEndpoint(RUN.hash).url,
  "--endpoint-type",
  "chat",
  "--streaming",
  "--concurrency",
  String(concurrency),
  "--request-count",
  String(Math.max(1000, 8 * concurrency))
]

const jobInput = (overrides: Partial<Manifests.AiperfJobInput> = {}): Manifests.AiperfJobInput => ({
  run: RUN,
  image: { image: AIPERF_IMAGE },
  args: AIPERF_ARGS(128),
  env: [{ name: "AICR_AIPERF_ARTIFACT_DIR", value: "/tmp/aiperf" }],
  activeDeadlineSeconds: 900,
  gpuNode: NODE,
  ...overrides
})

const at = (value: unknown, ...path: Array<string | number>): any =>
  path.reduce<any>((current, key) => (current === undefined || current === null ? undefined : current[key]), value)

const services = (dgd: KubeObject) => at(dgd, "spec", "services")
const frontend = (dgd: KubeObject) => services(dgd)[Manifests.FRONTEND_SERVICE]
const worker = (dgd: KubeObject) => services(dgd)[Manifests.WORKER_SERVICE]

// ---------------------------------------------------------------------------------------------------------------
// Pure builders

describe("names", () => {
  it("derives the namespace and Job name from the run hash, the rest are upstream's constants", () => {
    expect(Manifests.names(RUN.hash)).toEqual({
      namespace: NS,
      deployment: "aicr-inference-perf",
      claimTemplate: "aicr-inference-gpu-claim",
      frontendService: "aicr-inference-perf-frontend",
      aiperfJob: `aicr-aiperf-${RUN.hash}`
    })
    expect(NS).toHaveLength(28)
    expect(RUN.hash).toBe(RunContext.hashOf("20260101-000000-0123456789abcdef"))
  })

  it("keeps every generated and derived name within its budget, for any run", () => {
    for (const hash of [RUN.hash, "ffffffff", "00000000"]) {
      const run = Manifests.names(hash)
      expect(Manifests.overBudget(run)).toEqual([])
      for (const name of [run.namespace, run.deployment, run.claimTemplate, run.frontendService, run.aiperfJob]) {
        expect(name).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/)
        expect(name.length).toBeLessThanOrEqual(63)
      }
    }
  })

  it("pins the budgets that are tightest: Dynamo's namespace label and Grove's 45-character pod-name rule", () => {
    const budgets = Manifests.nameBudgets(Manifests.names(RUN.hash))
    const length = (what: string) => budgets.find((budget) => budget.what === what)!.value.length
    expect(length("label nvidia.com/dynamo-namespace")).toBe(48)
    expect(length("Grove PodCliqueSet + PodClique (VllmDecodeWorker)")).toBe(35)
    expect(length("Grove PodCliqueSet + PodClique (Frontend)")).toBe(27)
    expect(length("component deployment pod (VllmDecodeWorker)")).toBe(53)
  })

  it("reports a name that breaks a budget", () => {
    const long = { ...Manifests.names(RUN.hash), namespace: `aicr-${"x".repeat(40)}` }
    expect(Manifests.overBudget(long).map((budget) => budget.what)).toEqual(["label nvidia.com/dynamo-namespace"])
  })
})

describe("namespace and pull secrets", () => {
  it("builds the run namespace with the run labels", () => {
    expect(Manifests.namespace(RUN)).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: NS,
        labels: {
          "aicr.nvidia.com/run-id": "20260101-000000-0123456789abcdef",
          "app.kubernetes.io/managed-by": "aicr",
          "aicr.nvidia.com/validator": "inference-perf",
          "app.kubernetes.io/component": "inference-perf"
        }
      }
    })
  })

  it("copies a pull secret's name, type and data into the run namespace, dropping server metadata", () => {
    const source: KubeObject = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: "nvcr-pull",
        namespace: "aicr-validation",
        uid: "1234",
        resourceVersion: "99",
        creationTimestamp: "2026-01-01T00:00:00Z",
        annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{}" },
        ownerReferences: [{ apiVersion: "v1", kind: "ServiceAccount", name: "x", uid: "1" }],
        managedFields: []
      },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": "e30=" },
      immutable: true
    }
    expect(Manifests.pullSecretCopy(source, RUN)).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "nvcr-pull", namespace: NS, labels: RUN.labels },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": "e30=" }
    })
  })
})

describe("claimTemplate", () => {
  it("asks for exactly one gpu.nvidia.com device per claim, in the run namespace", () => {
    const rct = Manifests.claimTemplate(RUN)
    expect(rct).toMatchObject({
      apiVersion: "resource.k8s.io/v1",
      kind: "ResourceClaimTemplate",
      metadata: { name: "aicr-inference-gpu-claim", namespace: NS, labels: RUN.labels }
    })
    expect(at(rct, "spec", "spec", "devices", "requests")).toEqual([
      { name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "ExactCount", count: 1 } }
    ])
  })
})

describe("tolerationsFor", () => {
  it("mirrors the node's taints as Equal tolerations, without node.kubernetes.io/* and duplicates", () => {
    expect(Manifests.tolerationsFor(NODE, undefined)).toEqual([
      { key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" },
      { key: "dedicated", operator: "Equal", value: "a:b#c - d", effect: "NoExecute" }
    ])
  })

  it("gives no toleration for an untainted node, and a valueless taint no value", () => {
    expect(Manifests.tolerationsFor({ name: "n", taints: [] }, undefined)).toEqual([])
    expect(Manifests.tolerationsFor({ name: "n", taints: [{ key: "gpu", effect: "NoSchedule" }] }, undefined)).toEqual([
      { key: "gpu", operator: "Equal", effect: "NoSchedule" }
    ])
  })

  it("uses the user's tolerations verbatim, tolerate-all included, and an explicit empty list as none", () => {
    expect(Manifests.tolerationsFor(NODE, [{ operator: "Exists" }])).toEqual([{ operator: "Exists" }])
    expect(Manifests.tolerationsFor(NODE, [{ key: "a", operator: "Exists", effect: "NoSchedule" }])).toEqual([
      { key: "a", operator: "Exists", effect: "NoSchedule" }
    ])
    expect(Manifests.tolerationsFor(NODE, [])).toEqual([])
  })
})

describe("dynamoGraphDeployment", () => {
  const dgd = Manifests.dynamoGraphDeployment(deploymentInput())

  it("is upstream's v1alpha1 DynamoGraphDeployment aicr-inference-perf in the run namespace, labelled for the run", () => {
    expect(dgd.apiVersion).toBe("nvidia.com/v1alpha1")
    expect(dgd.kind).toBe("DynamoGraphDeployment")
    expect(dgd.metadata).toEqual({ name: "aicr-inference-perf", namespace: NS, labels: RUN.labels })
    expect(at(dgd, "spec", "backendFramework")).toBe("vllm")
    expect(Object.keys(services(dgd))).toEqual(["Frontend", "VllmDecodeWorker"])
    expect(at(dgd, "spec", "envs")).toBeUndefined()
  })

  it("runs one frontend with the router mode and the model, pinned to the node, without a GPU", () => {
    const service = frontend(dgd)
    expect(service.componentType).toBe("frontend")
    expect(service.replicas).toBe(1)
    expect(service.envs).toEqual([
      { name: "SERVED_MODEL_NAME", value: MODEL },
      { name: "DYN_ROUTER_MODE", value: "least-loaded" },
      { name: "DYN_STORE_KV", value: "mem" },
      { name: "DYN_EVENT_PLANE", value: "zmq" }
    ])
    expect(service.extraPodSpec.mainContainer).toEqual({
      image: FRONTEND_IMAGE,
      imagePullPolicy: "IfNotPresent",
      command: ["python3"],
      args: ["-m", "dynamo.frontend"]
    })
    expect(service.extraPodSpec.nodeSelector).toEqual({ "kubernetes.io/hostname": "ip-10-0-1-17" })
    expect(service.extraPodSpec.tolerations).toEqual(Manifests.tolerationsFor(NODE, undefined))
    expect(service.extraPodSpec.resourceClaims).toBeUndefined()
    expect(service.resources).toBeUndefined()
  })

  it("runs one worker replica per GPU, each claiming one GPU through the claim template", () => {
    const service = worker(dgd)
    expect(service.componentType).toBe("worker")
    expect(service.replicas).toBe(8)
    expect(service.envs).toEqual([{ name: "DYN_STORE_KV", value: "mem" }, { name: "DYN_EVENT_PLANE", value: "zmq" }])
    expect(service.resources).toEqual({ claims: [{ name: "gpu" }] })
    expect(service.sharedMemory).toEqual({ size: "2Gi" })
    expect(service.extraPodSpec.resourceClaims).toEqual([{ name: "gpu", resourceClaimTemplateName: "aicr-inference-gpu-claim" }])
    expect(service.extraPodSpec.mainContainer).toEqual({
      image: FRONTEND_IMAGE,
      imagePullPolicy: "IfNotPresent",
      command: ["python3"],
      args: ["-m", "dynamo.vllm", "--model", MODEL]
    })
    expect(service.extraPodSpec.nodeSelector).toEqual({ "kubernetes.io/hostname": "ip-10-0-1-17" })
    expect(service.extraPodSpec.tolerations).toEqual(frontend(dgd).extraPodSpec.tolerations)
  })

  it("labels each component's pods with the run labels and its role", () => {
    for (const [service, role] of [[frontend(dgd), "frontend"], [worker(dgd), "worker"]] as const) {
      expect(service.labels).toEqual({ ...RUN.labels, "aicr.nvidia.com/inference-role": role })
      expect(service.extraPodMetadata).toEqual({ labels: { ...RUN.labels, "aicr.nvidia.com/inference-role": role } })
    }
    expect(Manifests.podSelector("worker")).toEqual({ "aicr.nvidia.com/inference-role": "worker" })
    expect(Manifests.operatorPodSelector("worker")).toEqual({
      "nvidia.com/dynamo-graph-deployment-name": "aicr-inference-perf",
      "nvidia.com/dynamo-component-type": "worker"
    })
  })

  it("takes the user's tolerations, pull secrets, pull policies, extra env, router mode and device-plugin GPUs", () => {
    const custom = Manifests.dynamoGraphDeployment(deploymentInput({
      workers: 3,
      tolerations: [{ operator: "Exists" }],
      imagePullSecrets: ["nvcr-pull"],
      images: { frontend: { image: "localhost:5001/x:latest" }, worker: { image: "nvcr.io/w:1", pullPolicy: "Always" } },
      env: [{ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "aicr-hf-token", key: "token", optional: true } } }],
      routerMode: "kv",
      gpuAllocation: "device-plugin"
    }))
    expect(worker(custom).replicas).toBe(3)
    for (const service of [frontend(custom), worker(custom)]) {
      expect(service.extraPodSpec.tolerations).toEqual([{ operator: "Exists" }])
      expect(service.extraPodSpec.imagePullSecrets).toEqual([{ name: "nvcr-pull" }])
    }
    expect(frontend(custom).extraPodSpec.mainContainer.imagePullPolicy).toBe("IfNotPresent")
    expect(worker(custom).extraPodSpec.mainContainer.imagePullPolicy).toBe("Always")
    expect(at(custom, "spec", "envs")).toEqual([
      { name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "aicr-hf-token", key: "token", optional: true } } }
    ])
    expect(frontend(custom).envs).toContainEqual({ name: "DYN_ROUTER_MODE", value: "kv" })
    expect(worker(custom).extraPodSpec.mainContainer.args).toEqual(["-m", "dynamo.vllm", "--model", MODEL, "--kv-events-config", Manifests.KV_EVENTS_CONFIG])
    expect(worker(custom).resources).toEqual({ limits: { gpu: "1" } })
    expect(worker(custom).extraPodSpec.resourceClaims).toBeUndefined()
  })

  it("pins by node name when the node has no hostname label, and gives an untainted node no tolerations", () => {
    const plain = Manifests.dynamoGraphDeployment(deploymentInput({ node: { name: "gpu-1", taints: [] } }))
    expect(worker(plain).extraPodSpec.nodeSelector).toEqual({ "kubernetes.io/hostname": "gpu-1" })
    expect(worker(plain).extraPodSpec.tolerations).toBeUndefined()
  })

  it("refuses a worker count that is not a whole number >= 1", () => {
    expect(() => Manifests.dynamoGraphDeployment(deploymentInput({ workers: 0 }))).toThrow(/whole number >= 1, got 0/)
    expect(() => Manifests.dynamoGraphDeployment(deploymentInput({ workers: 1.5 }))).toThrow(RangeError)
  })
})

describe("aiperfJob", () => {
  const job = Manifests.aiperfJob(jobInput())
  const pod = at(job, "spec", "template", "spec")
  const container = pod.containers[0]

  it("is Job aicr-aiperf-<hash> in the run namespace, no retries, with a deadline and a TTL", () => {
    expect(job).toMatchObject({ apiVersion: "batch/v1", kind: "Job", metadata: { name: `aicr-aiperf-${RUN.hash}`, namespace: NS } })
    expect(at(job, "spec")).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 900, ttlSecondsAfterFinished: 3600 })
    expect(pod.restartPolicy).toBe("Never")
  })

  it("carries the run labels on the Job and its pod", () => {
    const labels = { ...RUN.labels, "app.kubernetes.io/name": "aicr-aiperf", "app.kubernetes.io/component": "inference-perf" }
    expect(job.metadata.labels).toEqual(labels)
    expect(at(job, "spec", "template", "metadata", "labels")).toEqual(labels)
  })

  it("runs the given args and env in one container with the image's entrypoint", () => {
    expect(pod.containers).toHaveLength(1)
    expect(container.name).toBe("aiperf")
    expect(container.image).toBe(AIPERF_IMAGE)
    expect(container.imagePullPolicy).toBe("Always")
    expect(container.command).toBeUndefined()
    expect(container.args).toEqual(AIPERF_ARGS(128))
    expect(container.env).toEqual([
      { name: "HOME", value: "/tmp" },
      { name: "AICR_AIPERF_ARTIFACT_DIR", value: "/tmp/aiperf" }
    ])
    expect(container.terminationMessagePolicy).toBe("FallbackToLogsOnError")
    expect(container.resources).toEqual({ requests: { cpu: "2", memory: "4Gi" }, limits: { memory: "16Gi" } })
  })

  it("runs as non-root without privileges or a service account token", () => {
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: "RuntimeDefault" }
    })
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } })
    expect(pod.automountServiceAccountToken).toBe(false)
  })

  it("prefers CPU-only nodes, then any node but the benchmarked one, and tolerates what the workers tolerate", () => {
    expect(pod.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution).toEqual([
      { weight: 100, preference: { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "DoesNotExist" }] } },
      { weight: 50, preference: { matchExpressions: [{ key: "kubernetes.io/hostname", operator: "NotIn", values: ["ip-10-0-1-17"] }] } }
    ])
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution).toBeUndefined()
    expect(pod.nodeSelector).toBeUndefined()
    expect(pod.tolerations).toEqual(Manifests.tolerationsFor(NODE, undefined))
  })

  it("takes a command, the user's tolerations, pull secrets, resources, TTL and HOME", () => {
    const custom = Manifests.aiperfJob(jobInput({
      command: ["/opt/venv/bin/python", "/opt/aicr/aiperf_entrypoint.py"],
      env: [{ name: "HOME", value: "/home/nvs" }],
      tolerations: [{ operator: "Exists" }],
      imagePullSecrets: ["ghcr-mirror-pull", "nvcr-pull"],
      resources: { requests: { cpu: "1" } },
      ttlSecondsAfterFinished: 60
    }))
    const customPod = at(custom, "spec", "template", "spec")
    expect(customPod.containers[0].command).toEqual(["/opt/venv/bin/python", "/opt/aicr/aiperf_entrypoint.py"])
    expect(customPod.containers[0].env).toEqual([{ name: "HOME", value: "/home/nvs" }])
    expect(customPod.containers[0].resources).toEqual({ requests: { cpu: "1" } })
    expect(customPod.tolerations).toEqual([{ operator: "Exists" }])
    expect(customPod.imagePullSecrets).toEqual([{ name: "ghcr-mirror-pull" }, { name: "nvcr-pull" }])
    expect(at(custom, "spec", "ttlSecondsAfterFinished")).toBe(60)
  })

  it("refuses a deadline that is not a whole number of seconds >= 1", () => {
    expect(() => Manifests.aiperfJob(jobInput({ activeDeadlineSeconds: 0 }))).toThrow(/whole number >= 1, got 0/)
    expect(() => Manifests.aiperfJob(jobInput({ activeDeadlineSeconds: 2.5 }))).toThrow(RangeError)
  })
})

describe("frontend endpoint", () => {
  it("names the operator's frontend Service and its port 8000", () => {
    expect(Manifests.frontendEndpoint(RUN.hash)).toEqual({
      namespace: NS,
      service: "aicr-inference-perf-frontend",
      port: 8000,
      portName: "http",
      url: `http://aicr-inference-perf-frontend.${NS}.svc:8000`
    })
    expect(Manifests.componentName(Manifests.FRONTEND_SERVICE)).toBe("aicr-inference-perf-frontend")
  })

  it("probes with one small non-streaming chat completion of the model through the service proxy", () => {
    expect(Manifests.readinessBody(MODEL)).toEqual({
      model: MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 4,
      stream: false
    })
    expect(Manifests.readinessRequest(RUN.hash, MODEL)).toEqual({
      namespace: NS,
      service: "aicr-inference-perf-frontend",
      port: 8000,
      path: "/v1/chat/completions",
      method: "POST",
      json: Manifests.readinessBody(MODEL)
    })
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Against the simulated API server

const PLURALS: Record<string, string> = {
  Namespace: "namespaces",
  Secret: "secrets",
  Job: "jobs",
  ResourceClaimTemplate: "resourceclaimtemplates",
  DynamoGraphDeployment: "dynamographdeployments"
}

const collection = (object: KubeObject): string => {
  const base = object.apiVersion === "v1" ? "/api/v1" : `/apis/${object.apiVersion}`
  const scope = object.metadata.namespace === undefined ? "" : `/namespaces/${object.metadata.namespace}`
  return `${base}${scope}/${PLURALS[object.kind]!}`
}

interface Answer {
  readonly status: number
  readonly body: any
  readonly warning: string | null
}

const request = async (sim: Sim, method: string, path: string, body?: unknown): Promise<Answer> => {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${sim.adminToken}`, "Content-Type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // a non-JSON body (pod logs) stays text
  }
  return { status: response.status, body: parsed, warning: response.headers.get("warning") }
}

/** Creates through HTTP with `fieldValidation=Strict`: schema errors, unknown fields and CEL rules all refuse. */
const createStrict = (sim: Sim, object: KubeObject) => request(sim, "POST", `${collection(object)}?fieldValidation=Strict`, object)

const expectCreated = async (sim: Sim, object: KubeObject) => {
  const answer = await createStrict(sim, object)
  expect({ kind: object.kind, status: answer.status, message: answer.body?.message, warning: answer.warning })
    .toEqual({ kind: object.kind, status: 201, message: undefined, warning: null })
  return answer.body as KubeObject
}

const SOURCE_SECRET: KubeObject = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "nvcr-pull", namespace: "default" },
  type: "kubernetes.io/dockerconfigjson",
  data: { ".dockerconfigjson": Buffer.from("{\"auths\":{}}").toString("base64") }
}

describe("against the API server's schemas (fieldValidation=Strict, Dynamo CRD of 2025-10)", () => {
  let sim: Sim

  beforeAll(async () => {
    sim = await startSim()
    sim.seed(bundledCrds("dynamo"))
  })

  afterAll(async () => {
    await sim.stop()
  })

  it("accepts every object of a run, in creation order", async () => {
    await expectCreated(sim, Manifests.namespace(RUN))
    await expectCreated(sim, SOURCE_SECRET)
    const source = (await request(sim, "GET", "/api/v1/namespaces/default/secrets/nvcr-pull")).body as KubeObject
    await expectCreated(sim, Manifests.pullSecretCopy(source, RUN))
    await expectCreated(sim, Manifests.claimTemplate(RUN))
    const dgd = await expectCreated(sim, Manifests.dynamoGraphDeployment(deploymentInput({
      imagePullSecrets: ["nvcr-pull"],
      env: [{ name: "HF_TOKEN", valueFrom: { secretKeyRef: { name: "aicr-hf-token", key: "token", optional: true } } }]
    })))
    expect(at(dgd, "spec", "services", "VllmDecodeWorker", "replicas")).toBe(8)
    await expectCreated(sim, Manifests.aiperfJob(jobInput({ imagePullSecrets: ["nvcr-pull"] })))
  })

  it("accepts the variants: device-plugin GPUs, kv routing, tolerate-all, an untainted node, a given command", async () => {
    const other = RunContext.make({ runId: "20260101-000000-fedcba9876543210", validator: "inference-perf" })
    await expectCreated(sim, Manifests.namespace(other))
    await expectCreated(sim, Manifests.dynamoGraphDeployment(deploymentInput({
      run: other,
      workers: 1,
      node: { name: "gpu-1", taints: [] },
      tolerations: [{ operator: "Exists" }],
      routerMode: "kv",
      gpuAllocation: "device-plugin"
    })))
    await expectCreated(sim, Manifests.aiperfJob(jobInput({
      run: other,
      command: ["/opt/venv/bin/python", "/opt/aicr/aiperf_entrypoint.py"],
      gpuNode: { name: "gpu-1", taints: [] }
    })))
  })

  it("refuses what the real CRD refuses: the check above is not vacuous", async () => {
    const other = RunContext.make({ runId: "20260101-000000-00000000000000aa" })
    await expectCreated(sim, Manifests.namespace(other))
    const dgd = Manifests.dynamoGraphDeployment(deploymentInput({ run: other }))
    const unknown = structuredClone(dgd) as any
    unknown.spec.services.Frontend.extraPodSpec.mainContainer.bogus = true
    const refused = await createStrict(sim, unknown)
    expect(refused.status).toBe(400)
    expect(refused.body.message).toContain("bogus")
    const wrongType = structuredClone(dgd) as any
    wrongType.spec.services.VllmDecodeWorker.replicas = "8"
    expect((await createStrict(sim, wrongType)).status).toBe(422)
    const job = structuredClone(Manifests.aiperfJob(jobInput({ run: other }))) as any
    job.spec.template.spec.containers[0].bogus = true
    expect((await createStrict(sim, job)).status).toBe(400)
  })
})

// ---------------------------------------------------------------------------------------------------------------
// The emulated operator, scheduler, DRA allocator and kubelet (h100-eks)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `probe` until it returns a value, for at most `ms` (real time). */
const eventually = async <A>(what: string, ms: number, probe: () => A | undefined | Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(20)
  }
}

const isReady = (pod: KubeObject) =>
  (at(pod, "status", "conditions") ?? []).some((condition: any) => condition.type === "Ready" && condition.status === "True")

describe("on a simulated h100-eks cluster", () => {
  let sim: Sim

  beforeAll(async () => {
    sim = await startSim({ profile: "h100-eks", profileOptions: { timeScale: 0.001, seed: 5 } })
  })

  afterAll(async () => {
    await sim.stop()
  })

  it("the DynamoGraphDeployment becomes successful with one Ready worker per GPU on the pinned node, and AIPerf runs", async () => {
    const store = sim.cluster.store
    const census = Dra.censusOf({
      nodes: store.list("/nodes") ?? [],
      slices: store.list("resource.k8s.io/resourceslices") ?? [],
      claims: store.list("resource.k8s.io/resourceclaims") ?? [],
      pods: store.list("/pods") ?? [],
      draServed: true
    } as Dra.CensusInput)
    const picked = Dra.pickMostFree(census, { tolerations: [{ operator: "Exists" }] })
    if (picked._tag !== "Picked") throw new Error(`no GPU node: ${JSON.stringify(picked)}`)
    const node = picked.node
    expect(picked.gpus).toBe(8)

    await expectCreated(sim, Manifests.namespace(RUN))
    await expectCreated(sim, Manifests.claimTemplate(RUN))
    await expectCreated(sim, Manifests.dynamoGraphDeployment(deploymentInput({
      node,
      workers: picked.gpus,
      images: { frontend: { image: FRONTEND_IMAGE }, worker: { image: FRONTEND_IMAGE } }
    })))

    const dgd = await eventually("the DGD to be successful", 20_000, () => {
      const current = store.get("nvidia.com/dynamographdeployments", NS, Manifests.DEPLOYMENT_NAME)
      return at(current, "status", "state") === "successful" ? current : undefined
    })
    expect(at(dgd, "status", "conditions")).toContainEqual(expect.objectContaining({ type: "Ready", status: "True" }))

    const pods = (store.list("/pods", NS) ?? []) as ReadonlyArray<KubeObject>
    const withLabels = (selector: Readonly<Record<string, string>>) =>
      pods.filter((pod) => Object.entries(selector).every(([key, value]) => pod.metadata.labels?.[key] === value))
    const workers = withLabels(Manifests.podSelector("worker"))
    expect(workers).toHaveLength(8)
    expect(withLabels(Manifests.operatorPodSelector("worker"))).toEqual(workers)
    expect(workers.filter(isReady)).toHaveLength(8)
    expect(new Set(workers.map((pod) => at(pod, "spec", "nodeName")))).toEqual(new Set([node.name]))
    for (const pod of workers) {
      expect(pod.metadata.labels).toMatchObject({ ...RUN.labels, "nvidia.com/dynamo-component": "VllmDecodeWorker" })
      expect(at(pod, "spec", "containers", 0, "resources", "claims")).toEqual([{ name: "gpu" }])
    }
    const frontends = withLabels(Manifests.podSelector("frontend"))
    expect(frontends).toHaveLength(1)
    expect(frontends.filter(isReady)).toHaveLength(1)
    expect(at(frontends[0], "spec", "nodeName")).toBe(node.name)

    const claims = (store.list("resource.k8s.io/resourceclaims", NS) ?? []) as ReadonlyArray<KubeObject>
    expect(claims).toHaveLength(8)
    expect(new Set(claims.map((claim) => at(claim, "status", "allocation", "devices", "results", 0, "device"))).size).toBe(8)

    const endpoint = Manifests.frontendEndpoint(RUN.hash)
    const service = store.get("/services", NS, endpoint.service)
    expect(at(service, "spec", "ports")).toContainEqual(expect.objectContaining({ name: endpoint.portName, port: endpoint.port }))

    const probe = Manifests.readinessRequest(RUN.hash, MODEL)
    const reply = await eventually("the frontend to serve a completion", 20_000, async () => {
      const answer = await request(sim, probe.method!, `/api/v1/namespaces/${probe.namespace}/services/${probe.service}:${probe.port}/proxy${probe.path}`, probe.json)
      return answer.status === 200 && at(answer.body, "choices", 0, "message", "content") ? answer.body : undefined
    })
    expect(reply.model).toBe(MODEL)

    await expectCreated(sim, Manifests.aiperfJob(jobInput({ gpuNode: node, args: AIPERF_ARGS(16 * picked.gpus) })))
    const job = await eventually("the AIPerf Job to succeed", 20_000, () => {
      const current = store.get("batch/jobs", NS, `aicr-aiperf-${RUN.hash}`)
      if ((at(current, "status", "failed") ?? 0) > 0) throw new Error(`AIPerf Job failed: ${JSON.stringify(at(current, "status"))}`)
      return at(current, "status", "succeeded") === 1 ? current : undefined
    })
    expect(job).toBeDefined()
    const aiperfPod = ((store.list("/pods", NS) ?? []) as ReadonlyArray<KubeObject>)
      .find((pod) => pod.metadata.labels?.["app.kubernetes.io/name"] === "aicr-aiperf")!
    const aiperfNode = store.get("/nodes", "", at(aiperfPod, "spec", "nodeName"))!
    expect(aiperfNode.metadata.labels?.["nvidia.com/gpu.present"]).toBeUndefined()
    const logs = await request(sim, "GET", `/api/v1/namespaces/${NS}/pods/${aiperfPod.metadata.name}/log`)
    expect(String(logs.body)).toMatch(/===AIPERF-RESULT===[\s\S]*output_token_throughput[\s\S]*===AIPERF-RESULT===/)
  })
})
