import * as Dra from "@aicr/core/Dra"
import { KubeClient, type KubeObject } from "@aicr/core/KubeClient"
import * as KubeClientLive from "@aicr/core/KubeClientLive"
import * as RunContext from "@aicr/core/RunContext"
import { bundledCrds, type Sim, startSim } from "@aicr/kube-sim"
import * as Effect from "effect/Effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Manifests from "../src/Manifests.ts"
import * as Platform from "../src/Platform.ts"

const RUN = RunContext.make({ runId: "20260101-000000-0123456789abcdef", validator: "nccl-all-reduce-bw" })
const NS = `aicr-nccl-${RUN.hash}`
const H100 = "NVIDIA-H100-80GB-HBM3"
const RUNTIME_IMAGE = "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9"
const GKE_IMAGE = "nvcr.io/nvidia/pytorch:25.06-py3"
const IMAGES: Manifests.Images = { runtime: RUNTIME_IMAGE, "runtime-gke": GKE_IMAGE }
const NICS = Array.from({ length: 8 }, (_, index) => `gpu-nic-${index}`)
const GiB = 1024 ** 3

/** Upstream's sweep: 1 KiB to 16 GiB, doubling, 20 iterations, 5 warm-up. */
const BENCHMARK: Manifests.Benchmark = { minBytes: 1024, maxBytes: 16 * GiB, stepFactor: 2, iterations: 20, warmupIterations: 5 }

const NODES: ReadonlyArray<Manifests.GpuNode> = [
  {
    name: "ip-10-0-1-17.ec2.internal",
    taints: [
      { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
      { key: "node.kubernetes.io/unreachable", effect: "NoExecute" }
    ]
  },
  {
    name: "ip-10-0-1-18.ec2.internal",
    taints: [
      { key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" },
      { key: "dedicated", value: "nccl", effect: "NoExecute" }
    ]
  }
]

const detected = (detection: Platform.Detection): Platform.Template => {
  if (detection._tag !== "Detected") throw new Error(`expected a template, got ${JSON.stringify(detection)}`)
  return detection.template
}

const eksNode = (name: string, efa: number): Platform.PlatformNode => ({
  name,
  labels: { "eks.amazonaws.com/nodegroup": "gpu", "node.kubernetes.io/instance-type": "p5.48xlarge" },
  product: H100,
  efa
})

const EKS_EFA = detected(Platform.detect([eksNode("a", 32), eksNode("b", 32)]))
const EKS_TCP = detected(Platform.detect([eksNode("a", 0), eksNode("b", 0)]))
const GKE = detected(Platform.detect(
  [{ name: "a", labels: { "cloud.google.com/gke-accelerator": Platform.GKE_H100_MEGA }, product: H100, efa: 0 }],
  { networks: ["default", ...NICS] }
))
const GENERIC = detected(Platform.detect([{ name: "a", labels: {}, product: H100, efa: 0 }]))

const runtimeInput = (overrides: Partial<Manifests.RuntimeInput> = {}): Manifests.RuntimeInput => ({
  run: RUN,
  template: EKS_EFA,
  nodes: NODES,
  gpusPerNode: 8,
  benchmark: BENCHMARK,
  images: IMAGES,
  activeDeadlineSeconds: 1800,
  ...overrides
})

const at = (value: unknown, ...path: Array<string | number>): any =>
  path.reduce<any>((current, key) => (current === undefined || current === null ? undefined : current[key]), value)

const jobs = (runtime: KubeObject) => at(runtime, "spec", "template", "spec", "replicatedJobs") as Array<any>
const job = (runtime: KubeObject, name: string) => jobs(runtime).find((entry) => entry.name === name)
const podOf = (runtime: KubeObject, name: string) => at(job(runtime, name), "template", "spec", "template")
const containerOf = (runtime: KubeObject, jobName: string, container = "node") =>
  (podOf(runtime, jobName).spec.containers as Array<any>).find((entry) => entry.name === container)
const script = (runtime: KubeObject, jobName: string) => containerOf(runtime, jobName).command[2] as string

// ---------------------------------------------------------------------------------------------------------------
// Pure builders

describe("names", () => {
  it("derives the namespace from the run hash; the runtime and TrainJob are upstream's names", () => {
    expect(Manifests.names(RUN.hash)).toEqual({
      namespace: NS,
      runtime: "nccl-all-reduce-runtime",
      trainJob: "nccl-all-reduce-tj",
      claimTemplate: "nccl-gpu-claim"
    })
    expect(NS).toHaveLength(18)
    expect(Manifests.hostname("nccl-all-reduce-tj", "node", 3)).toBe("nccl-all-reduce-tj-node-0-3")
  })

  it("keeps every generated and derived name within its budget, up to 10,000 workers", () => {
    for (const hash of [RUN.hash, "ffffffff", "00000000"]) {
      for (const workers of [1, 2, 64, 10_000]) expect(Manifests.overBudget(Manifests.names(hash), workers)).toEqual([])
    }
  })

  it("pins the tightest budgets: the launcher pod name and the last worker's pod name", () => {
    const budgets = Manifests.nameBudgets(Manifests.names(RUN.hash), 100)
    const find = (what: string) => budgets.find((budget) => budget.what === what)!
    expect(find("pod name (launcher 0)")).toEqual({ what: "pod name (launcher 0)", value: "nccl-all-reduce-tj-launcher-0-0-xxxxx", limit: 63 })
    expect(find("pod name (node 99)").value).toBe("nccl-all-reduce-tj-node-0-99-xxxxx")
    expect(find("pod hostname (node 99)")).toEqual({ what: "pod hostname (node 99)", value: "nccl-all-reduce-tj-node-0-99", limit: 63 })
    expect(find("Job (launcher, job-name label)").value).toBe("nccl-all-reduce-tj-launcher-0")
    expect(find("TrainJob, JobSet and headless Service")).toEqual({ what: "TrainJob, JobSet and headless Service", value: "nccl-all-reduce-tj", limit: 63 })
    expect(budgets.map((budget) => budget.what)).toEqual([
      "run namespace",
      "TrainingRuntime",
      "TrainJob, JobSet and headless Service",
      "ResourceClaimTemplate",
      "Job (launcher, job-name label)",
      "pod hostname (launcher 0)",
      "pod name (launcher 0)",
      "Job (node, job-name label)",
      "pod hostname (node 99)",
      "pod name (node 99)",
      "MPI SSH Secret",
      "MPI hostfile ConfigMap"
    ])
  })

  it("reports a name that breaks a budget", () => {
    const long = { ...Manifests.names(RUN.hash), trainJob: `t${"x".repeat(45)}` }
    expect(Manifests.overBudget(long, 1).map((budget) => budget.what)).toEqual(["pod name (launcher 0)"])
    expect(Manifests.overBudget(long, 1_000_000).map((budget) => budget.what)).toEqual(["pod name (launcher 0)", "pod name (node 999999)"])
  })
})

describe("selectors", () => {
  it("finds the launcher and the workers by the JobSet's labels, every pod of the check by ours", () => {
    expect(Manifests.launcherPodSelector()).toEqual({
      "jobset.sigs.k8s.io/jobset-name": "nccl-all-reduce-tj",
      "jobset.sigs.k8s.io/replicatedjob-name": "launcher"
    })
    expect(Manifests.workerPodSelector()).toEqual({
      "jobset.sigs.k8s.io/jobset-name": "nccl-all-reduce-tj",
      "jobset.sigs.k8s.io/replicatedjob-name": "node"
    })
    expect(Manifests.podSelector()).toEqual({ "app.kubernetes.io/component": "nccl-all-reduce-bw" })
    expect(Manifests.podSelector("launcher")).toEqual({ "app.kubernetes.io/component": "nccl-all-reduce-bw", "aicr.nvidia.com/nccl-role": "launcher" })
  })
})

describe("tolerations, GPU allocation, sizes", () => {
  it("mirrors the nodes' distinct taints except node.kubernetes.io/*; the user's win verbatim", () => {
    expect(Manifests.tolerationsFor(NODES, undefined)).toEqual([
      { key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" },
      { key: "dedicated", operator: "Equal", value: "nccl", effect: "NoExecute" }
    ])
    expect(Manifests.tolerationsFor([{ name: "a", taints: [] }], undefined)).toEqual([])
    expect(Manifests.tolerationsFor(NODES, [{ operator: "Exists" }])).toEqual([{ operator: "Exists" }])
    expect(Manifests.tolerationsFor(NODES, [{ key: "x", operator: "Equal", value: "", effect: "NoSchedule" }])).toEqual([
      { key: "x", operator: "Equal", effect: "NoSchedule" }
    ])
    expect(Manifests.tolerationsFor(NODES, [])).toEqual([])
  })

  it("uses the device plugin when every node advertises the GPUs, else DRA when its slices do", () => {
    expect(Manifests.gpuAllocationFor([{ allocatable: 8, sliceDevices: 8 }], 8)).toBe("device-plugin")
    expect(Manifests.gpuAllocationFor([{ allocatable: 8, sliceDevices: undefined }, { allocatable: 0, sliceDevices: 8 }], 8)).toBeUndefined()
    expect(Manifests.gpuAllocationFor([{ allocatable: 0, sliceDevices: 8 }], 8)).toBe("dra")
  })

  it("writes sizes as nccl-tests reads them and caps the sweep for TCP", () => {
    expect([1024, 16 * GiB, 512 * 1024 ** 2, 1000, 1536].map(Manifests.formatSize)).toEqual(["1K", "16G", "512M", "1000", "1536"])
    expect(Manifests.effectiveBenchmark(BENCHMARK, EKS_TCP)).toEqual({ ...BENCHMARK, maxBytes: 4 * GiB })
    expect(Manifests.effectiveBenchmark({ ...BENCHMARK, minBytes: 8 * GiB }, EKS_TCP)).toMatchObject({ minBytes: 4 * GiB, maxBytes: 4 * GiB })
    expect(Manifests.effectiveBenchmark(BENCHMARK, EKS_EFA)).toEqual(BENCHMARK)
    expect(Manifests.allReducePerfArgs(BENCHMARK)).toEqual(["-b", "1K", "-e", "16G", "-f", "2", "-g", "1", "-n", "20", "-w", "5"])
  })

  it("refuses a sweep that is not whole numbers in order", () => {
    expect(() => Manifests.effectiveBenchmark({ ...BENCHMARK, minBytes: 0 }, EKS_EFA)).toThrow("minBytes must be a whole number >= 1, got 0")
    expect(() => Manifests.effectiveBenchmark({ ...BENCHMARK, maxBytes: 512 }, EKS_EFA)).toThrow("maxBytes must be a whole number >= 1024, got 512")
    expect(() => Manifests.effectiveBenchmark({ ...BENCHMARK, stepFactor: 1 }, EKS_EFA)).toThrow(RangeError)
    expect(() => Manifests.effectiveBenchmark({ ...BENCHMARK, iterations: 2.5 }, EKS_EFA)).toThrow(RangeError)
    expect(() => Manifests.effectiveBenchmark({ ...BENCHMARK, warmupIterations: -1 }, EKS_EFA)).toThrow(RangeError)
  })
})

describe("namespace, TrainJob, claim template", () => {
  it("builds the run namespace with the run labels", () => {
    expect(Manifests.namespace(RUN)).toEqual({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: NS,
        labels: {
          "aicr.nvidia.com/run-id": "20260101-000000-0123456789abcdef",
          "app.kubernetes.io/managed-by": "aicr",
          "aicr.nvidia.com/validator": "nccl-all-reduce-bw",
          "app.kubernetes.io/component": "nccl-all-reduce-bw"
        }
      }
    })
  })

  it("references the namespaced runtime explicitly (the CRD defaults to ClusterTrainingRuntime), with the worker count", () => {
    expect(Manifests.trainJob({ run: RUN, workers: 2 })).toEqual({
      apiVersion: "trainer.kubeflow.org/v1alpha1",
      kind: "TrainJob",
      metadata: { name: "nccl-all-reduce-tj", namespace: NS, labels: { ...RUN.labels, "app.kubernetes.io/component": "nccl-all-reduce-bw" } },
      spec: {
        runtimeRef: { name: "nccl-all-reduce-runtime", apiGroup: "trainer.kubeflow.org", kind: "TrainingRuntime" },
        trainer: { numNodes: 2 }
      }
    })
    expect(() => Manifests.trainJob({ run: RUN, workers: 0 })).toThrow("workers must be a whole number >= 1, got 0")
  })

  it("asks DRA for all of a node's GPUs in one claim per worker", () => {
    const rct = Manifests.claimTemplate(RUN, 8)
    expect(rct).toMatchObject({ kind: "ResourceClaimTemplate", metadata: { name: "nccl-gpu-claim", namespace: NS, labels: RUN.labels } })
    expect(at(rct, "spec", "spec", "devices", "requests", 0, "exactly", "count")).toBe(8)
  })
})

describe("trainingRuntime (EKS, EFA)", () => {
  const runtime = Manifests.trainingRuntime(runtimeInput())
  const worker = podOf(runtime, "node")
  const launcher = podOf(runtime, "launcher")

  it("is the namespaced MPI TrainingRuntime in the run namespace, labelled for the run and the MPI framework", () => {
    expect(runtime.apiVersion).toBe("trainer.kubeflow.org/v1alpha1")
    expect(runtime.kind).toBe("TrainingRuntime")
    expect(runtime.metadata).toEqual({
      name: "nccl-all-reduce-runtime",
      namespace: NS,
      labels: { ...RUN.labels, "app.kubernetes.io/component": "nccl-all-reduce-bw", "trainer.kubeflow.org/framework": "mpi" }
    })
    expect(at(runtime, "spec", "mlPolicy")).toEqual({
      mpi: { mpiImplementation: "OpenMPI", numProcPerNode: 8, runLauncherAsNode: false, sshAuthMountPath: "/tmp/mpi-keys" }
    })
    expect(at(runtime, "spec", "template", "metadata", "labels")).toEqual({ ...RUN.labels, "app.kubernetes.io/component": "nccl-all-reduce-bw" })
  })

  it("is a JobSet of workers then the launcher, which waits for them to be Ready and decides success", () => {
    const spec = at(runtime, "spec", "template", "spec")
    expect(spec.network).toEqual({ enableDNSHostnames: true, publishNotReadyAddresses: true })
    expect(spec.successPolicy).toEqual({ operator: "All", targetReplicatedJobs: ["launcher"] })
    expect(jobs(runtime).map((entry) => entry.name)).toEqual(["node", "launcher"])
    expect(job(runtime, "node").dependsOn).toBeUndefined()
    expect(job(runtime, "launcher").dependsOn).toEqual([{ name: "node", status: "Ready" }])
    for (const name of ["node", "launcher"]) {
      expect(job(runtime, name).replicas).toBe(1)
      expect(at(job(runtime, name), "template", "spec")).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 1800 })
      expect(at(job(runtime, name), "template", "metadata", "labels")).toEqual({ ...RUN.labels, "app.kubernetes.io/component": "nccl-all-reduce-bw" })
      expect(podOf(runtime, name).spec).toMatchObject({ restartPolicy: "Never", automountServiceAccountToken: false, enableServiceLinks: false })
    }
  })

  it("labels each pod template with the run labels and its role", () => {
    expect(worker.metadata).toEqual({ labels: { ...RUN.labels, "app.kubernetes.io/component": "nccl-all-reduce-bw", "aicr.nvidia.com/nccl-role": "worker" } })
    expect(launcher.metadata).toEqual({ labels: { ...RUN.labels, "app.kubernetes.io/component": "nccl-all-reduce-bw", "aicr.nvidia.com/nccl-role": "launcher" } })
  })

  it("pins the workers to the picked nodes by name, with the instance-type selector and the mirrored tolerations", () => {
    expect(worker.spec.affinity).toEqual({
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["ip-10-0-1-17.ec2.internal", "ip-10-0-1-18.ec2.internal"] }] }]
        }
      }
    })
    expect(worker.spec.nodeSelector).toEqual({ "node.kubernetes.io/instance-type": "p5.48xlarge" })
    expect(worker.spec.tolerations).toEqual(Manifests.tolerationsFor(NODES, undefined))
    expect(launcher.spec.tolerations).toEqual(worker.spec.tolerations)
    expect(launcher.spec.nodeSelector).toBeUndefined()
    expect(launcher.spec.affinity).toEqual({
      nodeAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          { weight: 100, preference: { matchExpressions: [{ key: "nvidia.com/gpu.present", operator: "DoesNotExist" }] } }
        ]
      }
    })
  })

  it("gives each worker all the node's GPUs and EFA adapters, IPC_LOCK, shared memory in RAM and sshd on port 22", () => {
    const node = containerOf(runtime, "node")
    expect(worker.spec.containers.map((container: any) => container.name)).toEqual(["node"])
    expect(node.image).toBe(RUNTIME_IMAGE)
    expect(node.imagePullPolicy).toBe("IfNotPresent")
    expect(node.resources).toEqual({
      requests: { "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" },
      limits: { "nvidia.com/gpu": "8", "vpc.amazonaws.com/efa": "32" }
    })
    expect(node.securityContext).toEqual({ capabilities: { add: ["IPC_LOCK"] } })
    expect(node.command).toEqual(["/bin/bash", "-c", "mkdir -p /run/sshd\nexec /usr/sbin/sshd -De\n"])
    expect(node.readinessProbe).toEqual({ tcpSocket: { port: 22 }, periodSeconds: 5, failureThreshold: 3 })
    expect(node.volumeMounts).toEqual([{ name: "ssh-config", mountPath: "/root/.ssh" }, { name: "dshm", mountPath: "/dev/shm" }])
    expect(worker.spec.volumes).toEqual([{ name: "ssh-config", emptyDir: {} }, { name: "dshm", emptyDir: { medium: "Memory" } }])
    expect(worker.spec.resourceClaims).toBeUndefined()
  })

  it("copies the Trainer's SSH keys into /root/.ssh with ssh's modes before sshd and mpirun start", () => {
    for (const [name, files] of [["node", "authorized_keys"], ["launcher", "id_rsa authorized_keys"]] as const) {
      const init = podOf(runtime, name).spec.initContainers
      expect(init).toHaveLength(1)
      expect(init[0]).toMatchObject({ name: "fix-ssh-perms", image: RUNTIME_IMAGE })
      expect(init[0].volumeMounts).toEqual([
        { name: "mpi-ssh-auth", mountPath: "/tmp/mpi-keys", readOnly: true },
        { name: "ssh-config", mountPath: "/root/.ssh" }
      ])
      const text = init[0].command[2] as string
      expect(init[0].command.slice(0, 2)).toEqual(["/bin/sh", "-c"])
      expect(text).toContain(`cp ${files.split(" ").map((file) => `/tmp/mpi-keys/${file}`).join(" ")} /root/.ssh/`)
      expect(text).toContain("chmod 700 /root/.ssh")
    }
  })

  it("runs all_reduce_perf over EFA on every GPU of every node, and keeps the results in the termination message", () => {
    const node = containerOf(runtime, "launcher")
    expect(node.command.slice(0, 2)).toEqual(["/bin/bash", "-c"])
    expect(script(runtime, "launcher")).toBe([
      "set -o pipefail",
      "export PATH=\"/opt/amazon/openmpi/bin:/opt/amazon/efa/bin:$PATH\"",
      "/opt/amazon/openmpi/bin/mpirun -np 16 --allow-run-as-root --bind-to none --mca plm_rsh_agent ssh --mca plm_rsh_args " +
        "'-o StrictHostKeyChecking=no -o ConnectTimeout=10 -o ConnectionAttempts=60' -x LD_LIBRARY_PATH -x PATH " +
        "-x NCCL_DEBUG=WARN -x FI_PROVIDER=efa -x FI_EFA_USE_DEVICE_RDMA=1 -x FI_EFA_FORK_SAFE=1 -x NCCL_SOCKET_IFNAME=eth0 " +
        "-x NCCL_IGNORE_DISABLED_P2P=1 /opt/nccl-tests/build/all_reduce_perf -b 1K -e 16G -f 2 -g 1 -n 20 -w 5 2>&1 | " +
        "tee /tmp/nccl-tests.out",
      "rc=$?",
      "if [ \"$rc\" -eq 0 ]; then",
      "  grep -E '^[[:space:]]*[0-9]+[[:space:]]+[0-9]+[[:space:]]+[[:alpha:]]+|Avg bus bandwidth' /tmp/nccl-tests.out | " +
        "tail -c 3900 > /dev/termination-log || true",
      "fi",
      "exit \"$rc\"",
      ""
    ].join("\n"))
    expect(node.env).toEqual([{
      name: "LD_LIBRARY_PATH",
      value: "/opt/amazon/ofi-nccl/lib/x86_64-linux-gnu:/opt/amazon/efa/lib:/opt/amazon/openmpi/lib:/opt/nccl/build/lib:/usr/local/nvidia/lib"
    }])
    expect(node.terminationMessagePolicy).toBe("FallbackToLogsOnError")
    expect(node.resources).toEqual(Manifests.LAUNCHER_RESOURCES)
    expect(node.resources.limits["nvidia.com/gpu"]).toBeUndefined()
    expect(node.volumeMounts).toEqual([{ name: "ssh-config", mountPath: "/root/.ssh" }])
  })
})

describe("trainingRuntime variants", () => {
  it("EKS without EFA: TCP sockets, no adapters or libfabric env, the sweep capped at 4 GiB", () => {
    const runtime = Manifests.trainingRuntime(runtimeInput({ template: EKS_TCP }))
    expect(containerOf(runtime, "node").resources).toEqual({ requests: { "nvidia.com/gpu": "8" }, limits: { "nvidia.com/gpu": "8" } })
    const text = script(runtime, "launcher")
    expect(text).toContain("--mca pml ob1 --mca btl tcp,self --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0")
    expect(text).toContain("-x NCCL_NET_PLUGIN=none")
    expect(text).not.toContain("FI_PROVIDER")
    expect(text).toContain("all_reduce_perf -b 1K -e 4G -f 2 -g 1 -n 20 -w 5 2>&1")
  })

  it("GKE: NGC PyTorch, TCPXO daemon next to sshd, GPU NIC annotations, host NCCL profile, NGC's mpirun", () => {
    const runtime = Manifests.trainingRuntime(runtimeInput({ template: GKE, tolerations: [{ operator: "Exists" }] }))
    const worker = podOf(runtime, "node")
    expect(worker.metadata.annotations).toEqual({
      "networking.gke.io/default-interface": "eth0",
      "networking.gke.io/interfaces": JSON.stringify([
        { interfaceName: "eth0", network: "default" },
        ...NICS.map((network, index) => ({ interfaceName: `eth${index + 1}`, network }))
      ]),
      "devices.gke.io/container.tcpxo-daemon": [
        ...Array.from({ length: 8 }, (_, index) => `- path: /dev/nvidia${index}\n`),
        "- path: /dev/nvidiactl\n",
        "- path: /dev/nvidia-uvm\n",
        "- path: /dev/dmabuf_import_helper\n"
      ].join("")
    })
    expect(worker.spec.nodeSelector).toEqual({ "cloud.google.com/gke-accelerator": "nvidia-h100-mega-80gb" })
    expect(worker.spec.tolerations).toEqual([{ operator: "Exists" }])
    expect(worker.spec.containers.map((container: any) => container.name)).toEqual(["node", "tcpxo-daemon"])
    expect(containerOf(runtime, "node", "tcpxo-daemon")).toEqual({
      name: "tcpxo-daemon",
      image: "us-docker.pkg.dev/gce-ai-infra/gpudirect-tcpxo/tcpgpudmarxd-dev:v1.0.20",
      imagePullPolicy: "IfNotPresent",
      command: ["/fts/entrypoint_rxdm_container.sh", "--num_hops=2", "--num_nics", "8"],
      env: [{ name: "LD_LIBRARY_PATH", value: "/usr/local/nvidia/lib64" }],
      securityContext: { capabilities: { add: ["NET_ADMIN", "NET_BIND_SERVICE"] } },
      volumeMounts: [
        { name: "nvidia-install-dir-host", mountPath: "/usr/local/nvidia", readOnly: true },
        { name: "sys", mountPath: "/hostsysfs" },
        { name: "proc-sys", mountPath: "/hostprocsysfs" }
      ]
    })
    const node = containerOf(runtime, "node")
    expect(node.image).toBe(GKE_IMAGE)
    expect(node.resources).toEqual({ requests: { "nvidia.com/gpu": "8" }, limits: { "nvidia.com/gpu": "8" } })
    expect(node.volumeMounts).toContainEqual({ name: "aperture-devices", mountPath: "/dev/aperture_devices" })
    expect(worker.spec.volumes.map((volume: any) => volume.name)).toEqual(["ssh-config", "dshm", "nvidia-install-dir-host", "sys", "proc-sys", "aperture-devices"])
    expect(worker.spec.hostNetwork).toBeUndefined()
    const workerText = node.command[2] as string
    expect(workerText).toContain("NCCL_LIB_DIR=/usr/local/nvidia/lib64 . /usr/local/nvidia/lib64/nccl-env-profile.sh")
    expect(workerText).toContain("env | grep -E '^(NCCL_|CUDA_)' > /root/.ssh/environment")
    expect(workerText).toContain("echo 'PermitUserEnvironment yes' >> /etc/ssh/sshd_config")
    expect(workerText).toContain("if [ ! -x /usr/sbin/sshd ]; then")
    expect(workerText.endsWith("exec /usr/sbin/sshd -De\n")).toBe(true)
    const launcherText = script(runtime, "launcher")
    expect(launcherText).toContain(
      "/usr/local/mpi/bin/mpirun -np 16 --allow-run-as-root --mca plm_rsh_args '-o StrictHostKeyChecking=no -o ConnectTimeout=10 " +
        "-o ConnectionAttempts=60' --mca oob_tcp_if_include eth0 --mca btl_tcp_if_include eth0 -x UCX_NET_DEVICES=eth0 " +
        "-x LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64 -x NCCL_DEBUG=WARN " +
        "-x NCCL_FASTRAK_LLCM_DEVICE_DIRECTORY=/dev/aperture_devices -x NCCL_DYNAMIC_CHUNK_SIZE=524288 " +
        "-x CUDA_DEVICE_MAX_CONNECTIONS=1 /usr/local/bin/all_reduce_perf_mpi -b 1K -e 16G -f 2 -g 1 -n 20 -w 5 2>&1"
    )
    expect(launcherText).not.toContain("export PATH")
    expect(containerOf(runtime, "launcher").env).toBeUndefined()
  })

  it("generic: NCCL without a net plugin over OpenMPI's TCP, selected by product", () => {
    const runtime = Manifests.trainingRuntime(runtimeInput({ template: GENERIC, gpusPerNode: 2 }))
    expect(podOf(runtime, "node").spec.nodeSelector).toEqual({ "nvidia.com/gpu.product": H100 })
    const text = script(runtime, "launcher")
    expect(text).toContain("/opt/amazon/openmpi/bin/mpirun -np 4 ")
    expect(text).toContain("-x NCCL_NET_PLUGIN=none")
    expect(text).not.toContain("FI_PROVIDER")
    expect(at(runtime, "spec", "mlPolicy", "mpi", "numProcPerNode")).toBe(2)
  })

  it("DRA: one claim of all the node's GPUs per worker instead of nvidia.com/gpu; EFA stays a device-plugin resource", () => {
    const runtime = Manifests.trainingRuntime(runtimeInput({ gpuAllocation: "dra" }))
    expect(podOf(runtime, "node").spec.resourceClaims).toEqual([{ name: "gpu", resourceClaimTemplateName: "nccl-gpu-claim" }])
    expect(containerOf(runtime, "node").resources).toEqual({
      requests: { "vpc.amazonaws.com/efa": "32" },
      limits: { "vpc.amazonaws.com/efa": "32" },
      claims: [{ name: "gpu" }]
    })
    const generic = Manifests.trainingRuntime(runtimeInput({ template: GENERIC, gpuAllocation: "dra" }))
    expect(containerOf(generic, "node").resources).toEqual({ claims: [{ name: "gpu" }] })
  })

  it("an image override replaces the launcher, worker and init images but never the TCPXO daemon; pull secrets", () => {
    const override = "registry.example.com/nccl-tests:latest"
    const runtime = Manifests.trainingRuntime(runtimeInput({ template: GKE, runtimeImage: override, imagePullSecrets: ["pull"] }))
    for (const name of ["node", "launcher"]) {
      const pod = podOf(runtime, name)
      expect(pod.spec.imagePullSecrets).toEqual([{ name: "pull" }])
      for (const container of [...pod.spec.initContainers, ...pod.spec.containers]) {
        if (container.name === "tcpxo-daemon") expect(container.image).toBe(Manifests.TCPXO_DAEMON_IMAGE)
        else expect([container.image, container.imagePullPolicy]).toEqual([override, "Always"])
      }
    }
  })

  it("the user's --node-selector (through the template) and an untainted node give that selector and no tolerations", () => {
    const template = detected(Platform.detect([eksNode("a", 32)], { nodeSelector: { pool: "nccl" } }))
    const runtime = Manifests.trainingRuntime(runtimeInput({ template, nodes: [{ name: "a", taints: [] }] }))
    expect(podOf(runtime, "node").spec.nodeSelector).toEqual({ pool: "nccl" })
    expect(podOf(runtime, "node").spec.tolerations).toBeUndefined()
    expect(script(runtime, "launcher")).toContain("mpirun -np 8 ")
  })

  it("refuses no node, a GPU count or a deadline that is not a whole number >= 1", () => {
    expect(() => Manifests.trainingRuntime(runtimeInput({ nodes: [] }))).toThrow("the runtime needs at least one worker node")
    expect(() => Manifests.trainingRuntime(runtimeInput({ gpusPerNode: 0 }))).toThrow("gpusPerNode must be a whole number >= 1, got 0")
    expect(() => Manifests.trainingRuntime(runtimeInput({ activeDeadlineSeconds: 0.5 }))).toThrow(RangeError)
  })

  it("quotes shell words that need it", () => {
    expect(["plain/path-1.0", "a b", "it's", "$HOME", ""].map(Manifests.shellQuote)).toEqual(["plain/path-1.0", "'a b'", "'it'\\''s'", "'$HOME'", "''"])
  })
})

// ---------------------------------------------------------------------------------------------------------------
// Against the API server's schemas

const PLURALS: Record<string, string> = {
  Namespace: "namespaces",
  ResourceClaimTemplate: "resourceclaimtemplates",
  TrainingRuntime: "trainingruntimes",
  TrainJob: "trainjobs"
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

const VARIANTS: ReadonlyArray<[string, Partial<Manifests.RuntimeInput>]> = [
  ["EKS over EFA", {}],
  ["EKS over TCP, the user's tolerations", { template: EKS_TCP, tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] }],
  ["GKE over TCPXO, pull secrets", { template: GKE, imagePullSecrets: ["nvcr-pull"] }],
  ["generic, DRA", { template: GENERIC, gpusPerNode: 2, gpuAllocation: "dra", nodes: [{ name: "gpu-1", taints: [] }] }]
]

for (const crds of ["kubeflow-trainer-v2.1.0", "kubeflow-trainer-v2.2.0"] as const) {
  describe(`against the API server's schemas (fieldValidation=Strict, ${crds})`, () => {
    let sim: Sim

    beforeAll(async () => {
      sim = await startSim()
      sim.seed(bundledCrds(crds))
    })

    afterAll(async () => {
      await sim.stop()
    })

    it.each(VARIANTS.map(([name, overrides], index) => [name, overrides, index] as const))("accepts every object: %s", async (_name, overrides, index) => {
      const run = RunContext.make({ runId: `20260101-000000-${index.toString(16).padStart(16, "0")}`, validator: "nccl-all-reduce-bw" })
      await expectCreated(sim, Manifests.namespace(run))
      const input = runtimeInput({ ...overrides, run })
      if (input.gpuAllocation === "dra") await expectCreated(sim, Manifests.claimTemplate(run, input.gpusPerNode))
      const runtime = await expectCreated(sim, Manifests.trainingRuntime(input))
      expect(at(runtime, "spec", "template", "spec", "replicatedJobs", 1, "dependsOn")).toEqual([{ name: "node", status: "Ready" }])
      const created = await expectCreated(sim, Manifests.trainJob({ run, workers: input.nodes.length }))
      expect(at(created, "spec", "runtimeRef")).toEqual({ name: "nccl-all-reduce-runtime", apiGroup: "trainer.kubeflow.org", kind: "TrainingRuntime" })
    })

    it("refuses what the real CRDs refuse: the check above is not vacuous", async () => {
      const run = RunContext.make({ runId: "20260101-000000-00000000000000aa" })
      await expectCreated(sim, Manifests.namespace(run))
      const runtime = structuredClone(Manifests.trainingRuntime(runtimeInput({ run }))) as any
      runtime.spec.template.spec.replicatedJobs[0].template.spec.template.spec.containers[0].bogus = true
      const unknown = await createStrict(sim, runtime)
      expect(unknown.status).toBe(400)
      expect(unknown.body.message).toContain("bogus")
      const wrongType = structuredClone(Manifests.trainingRuntime(runtimeInput({ run }))) as any
      wrongType.spec.mlPolicy.mpi.numProcPerNode = "8"
      expect((await createStrict(sim, wrongType)).status).toBe(422)
      const badName = structuredClone(Manifests.trainJob({ run, workers: 2 })) as any
      badName.metadata.name = "Nccl_TJ"
      expect((await createStrict(sim, badName)).status).toBe(422)
    })
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The emulated Trainer, scheduler, kubelet and nccl-tests (h100-eks, h100-gke, dev)

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

const matches = (selector: Readonly<Record<string, string>>) => (object: KubeObject) =>
  Object.entries(selector).every(([key, value]) => object.metadata.labels?.[key] === value)

/**
 * What the pipeline does before it builds the objects: census, pick, Node objects and GKE networks, template. Of the
 * `candidates` picked, the first and the last run the benchmark (not the first two by name, so that pinning shows).
 */
const plan = (sim: Sim, candidates: number) =>
  Effect.gen(function*() {
    const census = yield* Dra.census()
    const picked = Dra.pickEqualNodes(census, candidates, { tolerations: Manifests.tolerationsFor(census.nodes, undefined) })
    if (picked._tag !== "Picked") return yield* Effect.die(new Error(`no nodes: ${JSON.stringify(picked)}`))
    const chosen = [picked.nodes[0]!, picked.nodes.at(-1)!]
    const kube = yield* KubeClient
    const nodeObjects = yield* kube.list({ apiVersion: "v1", kind: "Node" })
    const nodes = Platform.platformNodes(chosen, nodeObjects)
    const networks = Platform.serviceOf(nodes) === "gke"
      ? (yield* kube.list({ apiVersion: "networking.gke.io/v1", kind: "Network" })).map((network) => network.metadata.name)
      : undefined
    return { nodes: chosen, gpusPerNode: picked.gpusPerNode, template: detected(Platform.detect(nodes, { networks })) }
  }).pipe(Effect.provide(KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath })))

const LAST_ROW = /^\s+(\d+)\s+\d+\s+\w+\s+\w+\s+-?\d+\s+[\d.]+\s+[\d.]+\s+([\d.]+)/gm

const lastRow = (text: string) => {
  const rows = [...text.matchAll(LAST_ROW)]
  const last = rows.at(-1)
  return last === undefined ? undefined : { bytes: Number(last[1]), busBw: Number(last[2]) }
}

/** Three GPU nodes, the first and the last picked: the workers must land on those. */
const PROFILES = [
  { profile: "h100-eks", kind: "eks", gpuNodes: 3, gpus: 8, maxBytes: 16 * GiB, busBw: [450, 520] },
  { profile: "h100-gke", kind: "gke", gpuNodes: 3, gpus: 8, maxBytes: 16 * GiB, busBw: [300, 360] },
  { profile: "dev", kind: "generic", gpuNodes: 3, gpus: 2, maxBytes: 4 * GiB, busBw: [2, 3.5] }
] as const

for (const expected of PROFILES) {
  describe(`on a simulated ${expected.profile} cluster`, () => {
    let sim: Sim

    beforeAll(async () => {
      sim = await startSim({ profile: expected.profile, profileOptions: { timeScale: 0.001, nodes: expected.gpuNodes } })
    })

    afterAll(async () => {
      await sim.stop()
    })

    it("the emulated Trainer runs the TrainJob to completion; the launcher's log and termination message hold the table", async () => {
      const picked = await Effect.runPromise(plan(sim, expected.gpuNodes))
      const template = picked.template
      expect(template.kind).toBe(expected.kind)
      expect(picked.gpusPerNode).toBe(expected.gpus)
      expect(picked.nodes.map((node) => node.name)).toEqual(["gpu-1", "gpu-3"])
      const benchmark = { ...BENCHMARK, maxBytes: expected.maxBytes }

      await expectCreated(sim, Manifests.namespace(RUN))
      await expectCreated(sim, Manifests.trainingRuntime(runtimeInput({ template, nodes: picked.nodes, gpusPerNode: picked.gpusPerNode, benchmark })))
      await expectCreated(sim, Manifests.trainJob({ run: RUN, workers: picked.nodes.length }))

      const store = sim.cluster.store
      const done = await eventually("the TrainJob to finish", 20_000, () => {
        const current = store.get("trainer.kubeflow.org/trainjobs", NS, Manifests.TRAINJOB_NAME)
        const conditions = (at(current, "status", "conditions") ?? []) as Array<any>
        return conditions.find((condition) => (condition.type === "Complete" || condition.type === "Failed") && condition.status === "True")
      })
      expect(done).toMatchObject({ type: "Complete", reason: "AllJobsCompleted" })

      const pods = (store.list("/pods", NS) ?? []) as ReadonlyArray<KubeObject>
      const launchers = pods.filter(matches(Manifests.launcherPodSelector()))
      expect(launchers).toHaveLength(1)
      const launcher = launchers[0]!
      expect(launcher.metadata.labels).toMatchObject({ ...RUN.labels, ...Manifests.podSelector("launcher") })
      expect(pods.filter(matches(Manifests.podSelector("launcher")))).toEqual(launchers)
      expect(at(launcher, "status", "phase")).toBe("Succeeded")
      expect(launcher.metadata.name.length).toBeLessThanOrEqual(63)
      expect(launcher.metadata.name).toMatch(/^nccl-all-reduce-tj-launcher-0-0-[a-z0-9]{5}$/)

      const log = await request(sim, "GET", `/api/v1/namespaces/${NS}/pods/${launcher.metadata.name}/log?container=node`)
      expect(log.status).toBe(200)
      const text = String(log.body)
      expect(text).toContain("# Avg bus bandwidth")
      expect(text).toContain(`nThread 1 nGpus 1 minBytes 1024 maxBytes ${expected.maxBytes} step: 2(factor) warmup iters: 5 iters: 20`)
      const row = lastRow(text)!
      expect(row.bytes).toBe(expected.maxBytes)
      expect(row.busBw).toBeGreaterThan(expected.busBw[0])
      expect(row.busBw).toBeLessThan(expected.busBw[1])
      expect(text.match(/^# {2}Rank/gm)).toHaveLength(2 * expected.gpus)

      const status = (at(launcher, "status", "containerStatuses") as Array<any>).find((entry) => entry.name === "node")
      const message = at(status, "state", "terminated", "message") as string
      expect(at(status, "state", "terminated", "exitCode")).toBe(0)
      expect(message).toContain("Avg bus bandwidth")
      expect(lastRow(message)).toEqual(row)
      expect(Buffer.byteLength(message)).toBeLessThanOrEqual(3900)

      const assigned = ((store.list("/events", NS) ?? []) as Array<any>)
        .filter((event) => event.reason === "Scheduled" && event.involvedObject?.name?.startsWith("nccl-all-reduce-tj-node-"))
        .map((event) => (event.message as string).split(" to ").at(-1))
      expect(new Set(assigned)).toEqual(new Set(picked.nodes.map((node) => node.name)))
      expect(assigned).toHaveLength(picked.nodes.length)

      const all = pods.filter(matches(Manifests.podSelector()))
      expect(all.length).toBeGreaterThanOrEqual(1)
      for (const pod of all) expect(pod.metadata.labels).toMatchObject(RUN.labels)
    })

    if (expected.profile !== "h100-eks") return

    it("workers that cannot schedule: mpirun gives up, the TrainJob fails without retry, the log tail is the termination message", async () => {
      const run = RunContext.make({ runId: "20260101-000000-00000000000000bb", validator: "nccl-all-reduce-bw" })
      const ns = `aicr-nccl-${run.hash}`
      const picked = await Effect.runPromise(plan(sim, expected.gpuNodes))
      await expectCreated(sim, Manifests.namespace(run))
      await expectCreated(sim, Manifests.trainingRuntime(runtimeInput({ run, template: picked.template, nodes: picked.nodes, tolerations: [] })))
      await expectCreated(sim, Manifests.trainJob({ run, workers: 2 }))

      const store = sim.cluster.store
      const done = await eventually("the TrainJob to finish", 20_000, () => {
        const conditions = (at(store.get("trainer.kubeflow.org/trainjobs", ns, Manifests.TRAINJOB_NAME), "status", "conditions") ?? []) as Array<any>
        return conditions.find((condition) => (condition.type === "Complete" || condition.type === "Failed") && condition.status === "True")
      })
      expect(done).toMatchObject({ type: "Failed", reason: "FailedJobs" })
      const launchers = ((store.list("/pods", ns) ?? []) as ReadonlyArray<KubeObject>).filter(matches(Manifests.launcherPodSelector()))
      expect(launchers).toHaveLength(1)
      expect(at(launchers[0], "status", "phase")).toBe("Failed")
      const status = (at(launchers[0], "status", "containerStatuses") as Array<any>).find((entry) => entry.name === "node")
      expect(at(status, "state", "terminated", "exitCode")).toBe(1)
      expect(at(status, "state", "terminated", "message")).toContain("ORTE was unable to reliably start one or more daemons.")
      expect(at(status, "state", "terminated", "message")).toContain("ssh: Could not resolve hostname nccl-all-reduce-tj-node-0-0")
    })
  })
}
