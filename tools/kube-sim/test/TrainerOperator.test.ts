import { describe, expect, it, vi } from "vitest"
import { parse } from "yaml"
import { bundledCrds } from "../src/crds.ts"
import { runControllers } from "../src/simulation.ts"
import { TrainerOperator } from "../src/trainer-operator.ts"
import type { KubeObject } from "../src/types.ts"
import { testProfile, testWorld, type TestWorld } from "./support/world.ts"

const NAMESPACE = "aicr-validation"
const TRAINJOB = "nccl-all-reduce-tj"
const IMAGE = "public.ecr.aws/hpc-cloud/nccl-tests:cuda12.8.1-efa1.43.2-ofiv1.16.3-ncclv2.27.7-1-testsv2.16.9"
const SUFFIX = "[bcdfghjklmnpqrstvwxz2456789]{5}"
/** sha1("aicr-validation/nccl-all-reduce-tj-launcher-0"): JobSet's job-key of the launcher Job. */
const LAUNCHER_JOB_KEY = "9855a8a03a69d7127c8cfd1829574ce61c3ebbe6"
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The NCCL validator's EKS H100 TrainingRuntime (testdata/h100/eks/runtime.yaml, rendered for 8 GPUs per node), trimmed. */
const runtimeYaml = (launcherBackoffLimit?: number) => `
apiVersion: trainer.kubeflow.org/v1alpha1
kind: TrainingRuntime
metadata:
  name: nccl-all-reduce-runtime
  namespace: ${NAMESPACE}
  labels:
    trainer.kubeflow.org/framework: mpi
spec:
  mlPolicy:
    mpi:
      mpiImplementation: OpenMPI
      numProcPerNode: 8
      runLauncherAsNode: false
      sshAuthMountPath: /tmp/mpi-keys
  template:
    spec:
      network:
        enableDNSHostnames: true
        publishNotReadyAddresses: true
      successPolicy:
        operator: All
        targetReplicatedJobs: [launcher]
      replicatedJobs:
      - name: launcher
        replicas: 1
        template:
          spec:
${launcherBackoffLimit === undefined ? "" : `            backoffLimit: ${launcherBackoffLimit}\n`}            template:
              spec:
                tolerations:
                - operator: Exists
                initContainers:
                - name: fix-ssh-perms
                  image: ${IMAGE}
                  command: [/bin/sh, -c, "cp /tmp/mpi-keys/id_rsa /root/.ssh/id_rsa"]
                  volumeMounts:
                  - name: mpi-ssh-auth
                    mountPath: /tmp/mpi-keys
                    readOnly: true
                  - name: ssh-config
                    mountPath: /root/.ssh
                containers:
                - name: node
                  image: ${IMAGE}
                  env:
                  - name: LD_LIBRARY_PATH
                    value: /opt/amazon/openmpi/lib
                  command: [/opt/amazon/openmpi/bin/mpirun, -np, "16", --allow-run-as-root, /opt/nccl-tests/build/all_reduce_perf, -b, 1M, -e, 16G, -f, "2", -g, "1"]
                  resources:
                    limits:
                      cpu: "2"
                      memory: 128Mi
                  volumeMounts:
                  - name: ssh-config
                    mountPath: /root/.ssh
                volumes:
                - name: ssh-config
                  emptyDir: {}
      - name: node
        template:
          spec:
            template:
              spec:
                nodeSelector:
                  node.kubernetes.io/instance-type: p5.48xlarge
                tolerations:
                - operator: Exists
                containers:
                - name: node
                  image: ${IMAGE}
                  command: [/usr/sbin/sshd, -De]
                  resources:
                    limits:
                      nvidia.com/gpu: 8
                      vpc.amazonaws.com/efa: "32"
                    requests:
                      nvidia.com/gpu: 8
                      vpc.amazonaws.com/efa: "32"
                  volumeMounts:
                  - name: ssh-config
                    mountPath: /root/.ssh
                volumes:
                - name: ssh-config
                  emptyDir: {}
`

const trainJob = (numNodes = 2): KubeObject => ({
  apiVersion: "trainer.kubeflow.org/v1alpha1",
  kind: "TrainJob",
  metadata: { name: TRAINJOB, namespace: NAMESPACE },
  spec: {
    runtimeRef: { name: "nccl-all-reduce-runtime", apiGroup: "trainer.kubeflow.org", kind: "TrainingRuntime" },
    trainer: { numNodes }
  }
})

const setup = (options: ConstructorParameters<typeof TrainerOperator>[0] = {}) => {
  const sim = testWorld(testProfile())
  const crdType = sim.cluster.registry.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")!
  for (const crd of bundledCrds("kubeflow-trainer-v2.2.0")) sim.cluster.create(crdType, "", crd)
  sim.cluster.create(sim.cluster.registry.find("", "v1", "namespaces")!, "", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } })
  const stop = runControllers(sim.world, [new TrainerOperator(options)])
  const runtimeType = sim.cluster.registry.find("trainer.kubeflow.org", "v1alpha1", "trainingruntimes")!
  const trainJobType = sim.cluster.registry.find("trainer.kubeflow.org", "v1alpha1", "trainjobs")!
  const podType = sim.cluster.registry.find("", "v1", "pods")!
  const createRuntime = (launcherBackoffLimit?: number) => sim.cluster.create(runtimeType, NAMESPACE, parse(runtimeYaml(launcherBackoffLimit)) as KubeObject, { request: true })
  const createTrainJob = (numNodes = 2) => sim.cluster.create(trainJobType, NAMESPACE, trainJob(numNodes), { request: true })
  return { ...sim, stop, trainJobType, podType, createRuntime, createTrainJob }
}

type Setup = ReturnType<typeof setup>

const selectPods = (sim: TestWorld, replicatedJob?: string): Array<KubeObject> =>
  (sim.cluster.store.list("/pods", NAMESPACE) ?? []).filter(
    (pod) =>
      pod.metadata.labels?.["jobset.sigs.k8s.io/jobset-name"] === TRAINJOB &&
      (replicatedJob === undefined || pod.metadata.labels["jobset.sigs.k8s.io/replicatedjob-name"] === replicatedJob)
  )

const trainJobStatus = (sim: TestWorld) => sim.cluster.store.get("trainer.kubeflow.org/trainjobs", NAMESPACE, TRAINJOB)?.["status"] as
  | { conditions?: Array<Record<string, unknown>>; jobsStatus?: Array<Record<string, unknown>> }
  | undefined

const setPodStatus = (sim: Setup, pod: KubeObject, status: Record<string, unknown>) => {
  const current = sim.cluster.store.get("/pods", NAMESPACE, pod.metadata.name!)!
  sim.cluster.update(sim.podType, NAMESPACE, pod.metadata.name!, { ...current, status }, { subresource: "status" })
}

const runningStatus = (ip?: string) => ({
  phase: "Running",
  ...(ip === undefined ? {} : { podIP: ip }),
  conditions: [{ type: "Ready", status: "True" }],
  containerStatuses: [{ name: "node", ready: true, started: true, restartCount: 0, state: { running: { startedAt: "2026-01-01T00:00:00Z" } } }]
})

const started = async (sim: Setup) => {
  sim.createRuntime()
  sim.createTrainJob()
  await vi.waitFor(() => expect(selectPods(sim)).toHaveLength(3))
}

describe("TrainerOperator", () => {
  it("creates a launcher and one worker per node, named and labelled as JobSet pods", async () => {
    const sim = setup()
    sim.createRuntime()
    const created = sim.createTrainJob()
    await vi.waitFor(() => expect(selectPods(sim)).toHaveLength(3))

    const [launcher, ...rest] = selectPods(sim, "launcher")
    expect(rest).toEqual([])
    expect(launcher!.metadata.name).toMatch(new RegExp(`^nccl-all-reduce-tj-launcher-0-0-${SUFFIX}$`))
    const workers = selectPods(sim, "node")
    expect(workers.map((pod) => pod.metadata.labels?.["batch.kubernetes.io/job-completion-index"])).toEqual(["0", "1"])
    expect(workers[0]!.metadata.name).toMatch(new RegExp(`^nccl-all-reduce-tj-node-0-0-${SUFFIX}$`))
    expect(workers[1]!.metadata.name).toMatch(new RegExp(`^nccl-all-reduce-tj-node-0-1-${SUFFIX}$`))

    const labels = launcher!.metadata.labels!
    expect(labels["controller-uid"]).toMatch(UUID)
    expect(labels).toEqual({
      "jobset.sigs.k8s.io/jobset-name": TRAINJOB,
      "jobset.sigs.k8s.io/replicatedjob-name": "launcher",
      "jobset.sigs.k8s.io/restart-attempt": "0",
      "jobset.sigs.k8s.io/replicatedjob-replicas": "1",
      "jobset.sigs.k8s.io/global-replicas": "2",
      "jobset.sigs.k8s.io/job-index": "0",
      "jobset.sigs.k8s.io/job-key": LAUNCHER_JOB_KEY,
      "jobset.sigs.k8s.io/job-global-index": "0",
      "batch.kubernetes.io/controller-uid": labels["controller-uid"],
      "batch.kubernetes.io/job-name": "nccl-all-reduce-tj-launcher-0",
      "controller-uid": labels["controller-uid"],
      "job-name": "nccl-all-reduce-tj-launcher-0",
      "batch.kubernetes.io/job-completion-index": "0"
    })
    expect(workers[1]!.metadata.labels).toMatchObject({
      "jobset.sigs.k8s.io/replicatedjob-name": "node",
      "jobset.sigs.k8s.io/job-global-index": "1",
      "job-name": "nccl-all-reduce-tj-node-0",
      "batch.kubernetes.io/job-completion-index": "1"
    })
    expect(launcher!.metadata.annotations).toEqual({
      "jobset.sigs.k8s.io/jobset-name": TRAINJOB,
      "jobset.sigs.k8s.io/replicatedjob-name": "launcher",
      "jobset.sigs.k8s.io/restart-attempt": "0",
      "jobset.sigs.k8s.io/replicatedjob-replicas": "1",
      "jobset.sigs.k8s.io/global-replicas": "2",
      "jobset.sigs.k8s.io/job-index": "0",
      "jobset.sigs.k8s.io/job-key": LAUNCHER_JOB_KEY,
      "jobset.sigs.k8s.io/job-global-index": "0",
      "batch.kubernetes.io/job-completion-index": "0"
    })
    expect(launcher!.metadata.ownerReferences).toEqual([
      { apiVersion: "trainer.kubeflow.org/v1alpha1", kind: "TrainJob", name: TRAINJOB, uid: created.metadata.uid, controller: true, blockOwnerDeletion: true }
    ])
    sim.stop()
  })

  it("gives the launcher the hostfile, the SSH keys and the OpenMPI env of the MPI plugin, and the workers the SSH keys", async () => {
    const sim = setup()
    await started(sim)
    const indexEnv = { name: "JOB_COMPLETION_INDEX", valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }
    const sshVolume = {
      name: "mpi-ssh-auth",
      secret: {
        secretName: "nccl-all-reduce-tj-mpi-ssh-auth",
        defaultMode: 0o640,
        items: [
          { key: "ssh-privatekey", path: "id_rsa" },
          { key: "ssh-publickey", path: "id_rsa.pub" },
          { key: "ssh-publickey", path: "authorized_keys" }
        ]
      }
    }
    const launcher = selectPods(sim, "launcher")[0]!["spec"] as Record<string, unknown> & { containers: Array<Record<string, unknown>>; initContainers: Array<Record<string, unknown>> }
    expect(launcher["hostname"]).toBe("nccl-all-reduce-tj-launcher-0-0")
    expect(launcher["subdomain"]).toBe(TRAINJOB)
    expect(launcher["restartPolicy"]).toBe("OnFailure")
    expect(launcher["volumes"]).toEqual([
      { name: "ssh-config", emptyDir: {} },
      sshVolume,
      { name: "mpi-hostfile", configMap: { name: "nccl-all-reduce-tj-mpi-hostfile", items: [{ key: "hostfile", path: "hostfile", mode: 0o444 }] } }
    ])
    expect(launcher.containers[0]!["env"]).toEqual([
      { name: "LD_LIBRARY_PATH", value: "/opt/amazon/openmpi/lib" },
      { name: "OMPI_MCA_orte_default_hostfile", value: "/etc/mpi/hostfile" },
      { name: "OMPI_MCA_orte_keep_fqdn_hostnames", value: "true" },
      { name: "OMPI_MCA_orte_set_default_slots", value: "8" },
      { name: "OMPI_MCA_plm_rsh_args", value: "-o ConnectionAttempts=10" },
      indexEnv
    ])
    expect(launcher.containers[0]!["volumeMounts"]).toEqual([
      { name: "ssh-config", mountPath: "/root/.ssh" },
      { name: "mpi-ssh-auth", mountPath: "/tmp/mpi-keys" },
      { name: "mpi-hostfile", mountPath: "/etc/mpi" }
    ])
    expect(launcher.initContainers[0]!["env"]).toEqual([indexEnv])

    const worker = selectPods(sim, "node")[1]!["spec"] as Record<string, unknown> & { containers: Array<Record<string, unknown>> }
    expect(worker["hostname"]).toBe("nccl-all-reduce-tj-node-0-1")
    expect(worker["nodeSelector"]).toEqual({ "node.kubernetes.io/instance-type": "p5.48xlarge" })
    expect(worker["volumes"]).toEqual([{ name: "ssh-config", emptyDir: {} }, sshVolume])
    expect(worker.containers[0]).toEqual({
      name: "node",
      image: IMAGE,
      command: ["/usr/sbin/sshd", "-De"],
      resources: { limits: { "nvidia.com/gpu": 8, "vpc.amazonaws.com/efa": "32" }, requests: { "nvidia.com/gpu": 8, "vpc.amazonaws.com/efa": "32" } },
      volumeMounts: [
        { name: "ssh-config", mountPath: "/root/.ssh" },
        { name: "mpi-ssh-auth", mountPath: "/tmp/mpi-keys" }
      ],
      env: [indexEnv]
    })
    sim.stop()
  })

  it("writes the hostfile ConfigMap, the SSH Secret and the headless Service", async () => {
    const sim = setup()
    await started(sim)
    const hostfile = sim.cluster.store.get("/configmaps", NAMESPACE, "nccl-all-reduce-tj-mpi-hostfile")!
    expect(hostfile["data"]).toEqual({
      hostfile: "nccl-all-reduce-tj-node-0-0.nccl-all-reduce-tj slots=8\nnccl-all-reduce-tj-node-0-1.nccl-all-reduce-tj slots=8\n"
    })
    const secret = sim.cluster.store.get("/secrets", NAMESPACE, "nccl-all-reduce-tj-mpi-ssh-auth")!
    expect(secret["type"]).toBe("kubernetes.io/ssh-auth")
    expect(secret["immutable"]).toBe(true)
    const data = secret["data"] as Record<string, string>
    expect(Object.keys(data)).toEqual(["ssh-privatekey", "ssh-publickey"])
    expect(Buffer.from(data["ssh-privatekey"]!, "base64").toString()).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n[\s\S]+\n-----END EC PRIVATE KEY-----\n$/)
    expect(Buffer.from(data["ssh-publickey"]!, "base64").toString()).toMatch(/^ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFB[A-Za-z0-9+/=]+\n$/)
    const service = sim.cluster.store.get("/services", NAMESPACE, TRAINJOB)!
    expect(service["spec"]).toEqual({ clusterIP: "None", clusterIPs: ["None"], selector: { "jobset.sigs.k8s.io/jobset-name": TRAINJOB }, publishNotReadyAddresses: true })
    sim.stop()
  })

  it("sizes the workers and the hostfile from spec.trainer.numNodes", async () => {
    const sim = setup()
    sim.createRuntime()
    sim.createTrainJob(3)
    await vi.waitFor(() => expect(selectPods(sim, "node")).toHaveLength(3))
    expect(sim.cluster.store.get("/configmaps", NAMESPACE, "nccl-all-reduce-tj-mpi-hostfile")?.["data"]).toEqual({
      hostfile:
        "nccl-all-reduce-tj-node-0-0.nccl-all-reduce-tj slots=8\nnccl-all-reduce-tj-node-0-1.nccl-all-reduce-tj slots=8\nnccl-all-reduce-tj-node-0-2.nccl-all-reduce-tj slots=8\n"
    })
    sim.stop()
  })

  it("completes the TrainJob when the launcher succeeds and stops the workers", async () => {
    const sim = setup()
    await started(sim)
    await vi.waitFor(() =>
      expect(trainJobStatus(sim)?.jobsStatus).toEqual([
        { name: "launcher", ready: 0, succeeded: 0, failed: 0, active: 1, suspended: 0 },
        { name: "node", ready: 0, succeeded: 0, failed: 0, active: 1, suspended: 0 }
      ])
    )
    expect(trainJobStatus(sim)?.conditions).toBeUndefined()
    for (const [index, worker] of selectPods(sim, "node").entries()) setPodStatus(sim, worker, runningStatus(`10.0.0.${index + 10}`))
    await vi.waitFor(() => expect(trainJobStatus(sim)?.jobsStatus?.[1]).toEqual({ name: "node", ready: 1, succeeded: 0, failed: 0, active: 1, suspended: 0 }))

    setPodStatus(sim, selectPods(sim, "launcher")[0]!, { phase: "Succeeded", conditions: [{ type: "Ready", status: "False" }] })
    await vi.waitFor(() =>
      expect(trainJobStatus(sim)?.conditions).toEqual([
        { type: "Complete", status: "True", reason: "AllJobsCompleted", message: "jobset completed successfully", lastTransitionTime: expect.any(String) }
      ])
    )
    await vi.waitFor(() => expect(selectPods(sim, "node")).toEqual([]))
    expect(selectPods(sim, "launcher")).toHaveLength(1)
    expect(trainJobStatus(sim)?.jobsStatus).toEqual([
      { name: "launcher", ready: 0, succeeded: 1, failed: 0, active: 0, suspended: 0 },
      { name: "node", ready: 0, succeeded: 0, failed: 0, active: 0, suspended: 0 }
    ])
    sim.stop()
  })

  it("fails the TrainJob when the launcher fails past its backoffLimit", async () => {
    const sim = setup()
    sim.createRuntime(0)
    sim.createTrainJob()
    await vi.waitFor(() => expect(selectPods(sim)).toHaveLength(3))
    setPodStatus(sim, selectPods(sim, "launcher")[0]!, { phase: "Failed", conditions: [{ type: "Ready", status: "False" }] })
    await vi.waitFor(() =>
      expect(trainJobStatus(sim)?.conditions).toEqual([
        { type: "Failed", status: "True", reason: "FailedJobs", message: "jobset failed due to one or more job failures", lastTransitionTime: expect.any(String) }
      ])
    )
    await vi.waitFor(() => expect(selectPods(sim, "node")).toEqual([]))
    expect(selectPods(sim, "launcher")).toHaveLength(1)
    expect(trainJobStatus(sim)?.jobsStatus?.[0]).toEqual({ name: "launcher", ready: 0, succeeded: 0, failed: 1, active: 0, suspended: 0 })
    sim.stop()
  })

  it("replaces a failed launcher while its Job has backoff left", async () => {
    const sim = setup()
    await started(sim)
    const first = selectPods(sim, "launcher")[0]!
    setPodStatus(sim, first, { phase: "Failed" })
    await vi.waitFor(() => expect(selectPods(sim, "launcher")).toHaveLength(2))
    const replacement = selectPods(sim, "launcher").find((pod) => pod.metadata.name !== first.metadata.name)!
    expect(replacement.metadata.name).toMatch(new RegExp(`^nccl-all-reduce-tj-launcher-0-0-${SUFFIX}$`))
    expect(trainJobStatus(sim)?.conditions).toBeUndefined()
    sim.stop()
  })

  it("fails a running launcher whose workers are not all Running after the grace period", async () => {
    const sim = setup({ launcherGraceSeconds: 30 })
    sim.createRuntime(0)
    sim.createTrainJob()
    await vi.waitFor(() => expect(selectPods(sim)).toHaveLength(3))
    const launcher = selectPods(sim, "launcher")[0]!
    setPodStatus(sim, selectPods(sim, "node")[0]!, runningStatus("10.0.0.10"))
    setPodStatus(sim, launcher, runningStatus("10.0.0.5"))

    await vi.waitFor(() => expect(sim.cluster.store.get("/pods", NAMESPACE, launcher.metadata.name!)?.["status"]).toMatchObject({ phase: "Failed" }))
    const status = sim.cluster.store.get("/pods", NAMESPACE, launcher.metadata.name!)!["status"] as { containerStatuses: Array<Record<string, unknown>> }
    expect(status.containerStatuses).toEqual([
      {
        name: "node",
        image: IMAGE,
        ready: false,
        started: false,
        restartCount: 0,
        state: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            message:
              "ssh: Could not resolve hostname nccl-all-reduce-tj-node-0-1.nccl-all-reduce-tj: Name or service not known\nORTE was unable to reliably start one or more daemons.\n",
            startedAt: "2026-01-01T00:00:00Z",
            finishedAt: expect.any(String)
          }
        }
      }
    ])
    expect(sim.logs.read(NAMESPACE, launcher.metadata.name!, "node")).toEqual({
      text: "ssh: Could not resolve hostname nccl-all-reduce-tj-node-0-1.nccl-all-reduce-tj: Name or service not known\r\n--------------------------------------------------------------------------\nORTE was unable to reliably start one or more daemons.\n--------------------------------------------------------------------------\n",
      ended: true
    })
    await vi.waitFor(() => expect(trainJobStatus(sim)?.conditions?.[0]).toMatchObject({ type: "Failed", reason: "FailedJobs" }))
    sim.stop()
  })

  it("leaves a stranded launcher to its workload when failStrandedLaunchers is off", async () => {
    const sim = setup({ launcherGraceSeconds: 30, failStrandedLaunchers: false })
    await started(sim)
    const launcher = selectPods(sim, "launcher")[0]!
    setPodStatus(sim, launcher, runningStatus("10.0.0.5"))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sim.cluster.store.get("/pods", NAMESPACE, launcher.metadata.name!)?.["status"]).toMatchObject({ phase: "Running" })
    sim.stop()
  })

  it("lets a launcher run on when every worker is Running", async () => {
    const sim = setup({ launcherGraceSeconds: 30 })
    await started(sim)
    for (const [index, worker] of selectPods(sim, "node").entries()) setPodStatus(sim, worker, runningStatus(`10.0.0.${index + 10}`))
    const launcher = selectPods(sim, "launcher")[0]!
    setPodStatus(sim, launcher, runningStatus("10.0.0.5"))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(sim.cluster.store.get("/pods", NAMESPACE, launcher.metadata.name!)?.["status"]).toMatchObject({ phase: "Running" })
    sim.stop()
  })

  it("holds a suspended TrainJob without pods and resumes it", async () => {
    const sim = setup()
    sim.createRuntime()
    const suspended = trainJob()
    ;(suspended["spec"] as Record<string, unknown>)["suspend"] = true
    sim.cluster.create(sim.trainJobType, NAMESPACE, suspended, { request: true })
    await vi.waitFor(() =>
      expect(trainJobStatus(sim)?.conditions).toEqual([
        { type: "Suspended", status: "True", reason: "Suspended", message: "TrainJob is suspended", lastTransitionTime: expect.any(String) }
      ])
    )
    expect(selectPods(sim)).toEqual([])
    const current = sim.cluster.get(sim.trainJobType, NAMESPACE, TRAINJOB)
    sim.cluster.update(sim.trainJobType, NAMESPACE, TRAINJOB, { ...current, spec: { ...(current["spec"] as object), suspend: false } })
    await vi.waitFor(() => expect(selectPods(sim)).toHaveLength(3))
    expect(trainJobStatus(sim)?.conditions).toEqual([
      { type: "Suspended", status: "False", reason: "Resumed", message: "TrainJob is resumed", lastTransitionTime: expect.any(String) }
    ])
    sim.stop()
  })

  it("waits for a missing TrainingRuntime with the Trainer's warning event, then runs", async () => {
    const sim = setup()
    const created = sim.createTrainJob()
    await vi.waitFor(() => expect(sim.cluster.store.list("/events", NAMESPACE)).toHaveLength(1))
    const event = sim.cluster.store.list("/events", NAMESPACE)![0]!
    expect(event).toMatchObject({
      type: "Warning",
      reason: "TrainJobResourcesCreationFailed",
      message:
        'TrainJob resources reconciliation failed: TrainingRuntime specified in TrainJob is not found: trainingruntimes.trainer.kubeflow.org "nccl-all-reduce-runtime" not found',
      involvedObject: { kind: "TrainJob", name: TRAINJOB, uid: created.metadata.uid },
      source: { component: "trainer-controller" }
    })
    expect(selectPods(sim)).toEqual([])
    expect(trainJobStatus(sim)).toBeUndefined()

    sim.createRuntime()
    await vi.waitFor(() => expect(selectPods(sim)).toHaveLength(3))
    sim.stop()
  })

  it("recreates a deleted worker and leaves everything to the garbage collector when the TrainJob is deleted", async () => {
    const sim = setup()
    await started(sim)
    const gone = selectPods(sim, "node")[0]!
    sim.cluster.delete(sim.podType, NAMESPACE, gone.metadata.name!)
    await vi.waitFor(() => expect(selectPods(sim, "node").map((pod) => pod.metadata.labels?.["batch.kubernetes.io/job-completion-index"])).toEqual(["0", "1"]))
    expect(selectPods(sim, "node").map((pod) => pod.metadata.name)).not.toContain(gone.metadata.name)

    sim.cluster.delete(sim.trainJobType, NAMESPACE, TRAINJOB)
    await vi.waitFor(() => {
      expect(selectPods(sim)).toEqual([])
      expect(sim.cluster.store.list("/configmaps", NAMESPACE)).toEqual([])
      expect(sim.cluster.store.list("/secrets", NAMESPACE)).toEqual([])
      expect(sim.cluster.store.list("/services", NAMESPACE)).toEqual([])
    })
    sim.stop()
  })
})
