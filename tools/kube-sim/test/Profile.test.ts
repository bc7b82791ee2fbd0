import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { type BuiltinKind, decodeBuiltin, isBuiltinKind, validateBuiltin } from "../src/builtin.ts"
import {
  createProfileObjects,
  GPU_DEVICE_CLASS_SELECTOR,
  loadProfile,
  parseQuantity,
  PROFILE_NAMES,
  ProfileError,
  profileNodes,
  profileObjects,
  PROFILES_DIR
} from "../src/profile.ts"
import type { KubeObject } from "../src/types.ts"
import type { Profile, ProfileOptions } from "../src/world.ts"
import { testWorld } from "./support/world.ts"

type Json = Record<string, any>

const kindOf = (object: KubeObject): BuiltinKind => {
  const [group, version] = object.apiVersion.includes("/") ? (object.apiVersion.split("/") as [string, string]) : ["", object.apiVersion]
  return { group, version, kind: object.kind }
}

const ofKind = (objects: ReadonlyArray<KubeObject>, kind: string): Array<Json> => objects.filter((object) => object.kind === kind) as Array<Json>
const named = (objects: ReadonlyArray<KubeObject>, kind: string, name: string): Json => {
  const found = ofKind(objects, kind).find((object) => object["metadata"].name === name)
  if (found === undefined) throw new Error(`no ${kind} ${name}`)
  return found
}

const tempDir = mkdtempSync(join(tmpdir(), "kube-sim-profile-"))
let files = 0
const writeProfile = (text: string): string => {
  const file = join(tempDir, `profile-${++files}.yaml`)
  writeFileSync(file, text)
  return file
}

const errorOf = (run: () => unknown): ProfileError => {
  try {
    run()
  } catch (error) {
    if (error instanceof ProfileError) return error
    throw error
  }
  throw new Error("no ProfileError was thrown")
}

const PERFORMANCE = `performance:
  inference:
    anchor: {model: Qwen/Qwen3-0.6B, gpus: 8, concurrencyPerGpu: 16, outputTokensPerSecond: 38367, ttftP99Ms: 127.9}
    noise: 0.02
    modelLoadSeconds: 180
    warmupSeconds: 30
    benchmarkSeconds: 90
    sources: [test]
  nccl:
    fabric: efa
    interNode: {busBandwidthGBps: 489.8, atBytes: 17179869184, nodes: 2}
    intraNode: {busBandwidthGBps: 480, atBytes: 17179869184}
    tcpBusBandwidthGBps: 3.2
    latencyUs: 40
    noise: 0.003
    runSeconds: 120
    sources: [test]
`

const SMALL = `name: small
platform: generic
shapes:
  h100:
    instanceType: h100-box
    cpu: "32"
    memory: 256Gi
    pods: 110
    gpu: {product: NVIDIA-H100-80GB-HBM3, count: 8, memoryMiB: 81559, architecture: hopper, computeCapability: "9.0", driverVersion: 570.133.20, cudaVersion: "12.8"}
    labels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}
    taints: []
pools:
  - {name: gpu, shape: h100, count: 2}
components: [dra-driver]
${PERFORMANCE}`

describe("loadProfile", () => {
  it("loads every shipped profile by name", () => {
    expect(PROFILE_NAMES).toEqual(["h100-eks", "h100-gke", "dev"])
    const summary = PROFILE_NAMES.map((name) => {
      const profile = loadProfile(name)
      return {
        name: profile.name,
        platform: profile.platform,
        pools: profile.pools.map((pool) => `${pool.name}:${pool.shape}x${pool.count}`),
        gpus: profileNodes(profile).map((node) => node.allocatableGpus),
        components: profile.components,
        inference: [profile.performance.inference.anchor.outputTokensPerSecond, profile.performance.inference.anchor.ttftP99Ms],
        nccl: [profile.performance.nccl.fabric, profile.performance.nccl.interNode.busBandwidthGBps, profile.performance.nccl.interNode.atBytes],
        timeScale: profile.timeScale,
        seed: profile.seed,
        defaults: [profile.gpuUse, profile.degraded, profile.replay]
      }
    })
    const all = ["dynamo", "kubeflow-trainer", "dra-driver", "gpu-operator"]
    expect(summary).toEqual([
      {
        name: "h100-eks",
        platform: "eks",
        pools: ["gpu:p5.48xlargex2", "system:m7i.2xlargex2"],
        gpus: [8, 8, 0, 0],
        components: all,
        inference: [38367, 127.9],
        nccl: ["efa", 489.8, 17179869184],
        timeScale: 0.01,
        seed: 1,
        defaults: [[], [], {}]
      },
      {
        name: "h100-gke",
        platform: "gke",
        pools: ["gpu:a3-megagpu-8gx2", "system:e2-standard-8x2"],
        gpus: [8, 8, 0, 0],
        components: all,
        inference: [34000, 120],
        nccl: ["tcpxo", 338, 8589934592],
        timeScale: 0.01,
        seed: 1,
        defaults: [[], [], {}]
      },
      {
        name: "dev",
        platform: "generic",
        pools: ["gpu:gpu-2x-h100x2", "system:cpux1"],
        gpus: [2, 2, 0],
        components: all,
        inference: [38367, 127.9],
        nccl: ["tcp", 2.8, 4294967296],
        timeScale: 0.001,
        seed: 1,
        defaults: [[], [], {}]
      }
    ])
  })

  it("loads a profile file by path, the same as by name", () => {
    expect(loadProfile(join(PROFILES_DIR, "h100-eks.yaml"))).toEqual(loadProfile("h100-eks"))
  })

  it("applies the options", () => {
    const replay = join(tempDir, "all_reduce.txt")
    writeFileSync(replay, "# nccl-tests\n")
    const options: ProfileOptions = {
      nodes: 4,
      components: ["dra-driver"],
      gpuUse: [{ node: "gpu-2", gpus: 3, by: "dra-claim" }],
      degraded: [{ node: "gpu-3", allocatableGpus: 7 }],
      timeScale: 0.5,
      seed: 7,
      replay: { nccl: replay }
    }
    const profile = loadProfile("h100-eks", options)
    expect(profile.pools.map((pool) => [pool.name, pool.count])).toEqual([
      ["gpu", 4],
      ["system", 2]
    ])
    expect(profileNodes(profile).map((node) => `${node.name}=${node.allocatableGpus}`)).toEqual([
      "gpu-1=8",
      "gpu-2=8",
      "gpu-3=7",
      "gpu-4=8",
      "system-1=0",
      "system-2=0"
    ])
    expect([profile.components, profile.gpuUse, profile.degraded, profile.timeScale, profile.seed, profile.replay]).toEqual([
      ["dra-driver"],
      [{ node: "gpu-2", gpus: 3, by: "dra-claim" }],
      [{ node: "gpu-3", allocatableGpus: 7 }],
      0.5,
      7,
      { nccl: replay }
    ])
    expect(loadProfile("h100-eks").pools[0]!.count).toBe(2)
  })

  it("resolves replay files of a profile file against the file's directory", () => {
    writeFileSync(join(tempDir, "aiperf.json"), "{}")
    const profile = loadProfile(writeProfile(`${SMALL}replay: {aiperf: aiperf.json}\n`))
    expect(profile.replay).toEqual({ aiperf: join(tempDir, "aiperf.json") })
  })

  it("names the file, line, column and YAML path of every problem", () => {
    const file = writeProfile(`name: bad
platform: aws
shapes:
  h100:
    instanceType: p5.48xlarge
    cpu: lots
    memory: 2Ti
    pods: -1
    gpu: {product: NVIDIA-H100-80GB-HBM3, count: 8, memoryMiB: 81559, architecture: hopper, computeCapability: 9, driverVersion: 570.133.20, cudaVersion: "12.8"}
    labels:
      nvidia.com/gpu.count: 8
    taints:
      - {key: nvidia.com/gpu, effect: NoScheduling}
    colour: green
pools:
  - {name: gpu, shape: h100, count: -2}
components: [dynamo, nope]
${PERFORMANCE}`)
    expect(errorOf(() => loadProfile(file)).message).toBe(
      [
        `${file}:2:11: platform: must be one of eks, gke, generic, got "aws"`,
        `${file}:6:10: shapes.h100.cpu: must be a positive Kubernetes quantity (like 192, 500m, 64Gi), got "lots"`,
        `${file}:8:11: shapes.h100.pods: must be an integer >= 0, got -1`,
        `${file}:9:112: shapes.h100.gpu.computeCapability: must be a string, got 9 (quote it: "9")`,
        `${file}:11:29: shapes.h100.labels["nvidia.com/gpu.count"]: must be a string, got 8 (quote it: "8")`,
        `${file}:13:39: shapes.h100.taints[0].effect: must be one of NoSchedule, PreferNoSchedule, NoExecute, got "NoScheduling"`,
        `${file}:14:13: shapes.h100.colour: unknown field (expected one of: instanceType, cpu, memory, pods, gpu, efa, gpuNics, labels, taints)`,
        `${file}:16:37: pools[0].count: must be an integer >= 0, got -2`,
        `${file}:17:22: components[1]: must be one of dynamo, kubeflow-trainer, dra-driver, gpu-operator, got "nope"`
      ].join("\n")
    )
  })

  it("reports missing fields at their parent", () => {
    const file = writeProfile(`name: bad
platform: eks
shapes: {}
pools: []
components: []
performance:
  inference: {}
`)
    const error = errorOf(() => loadProfile(file))
    expect(error.problems.map((problem) => `${problem.line}:${problem.column} ${problem.path}: ${problem.message}`)).toEqual([
      "3:9 shapes: must define at least one shape",
      "4:8 pools: must define at least one pool",
      "7:3 performance.nccl: is required",
      "7:3 performance.nccl: must be a mapping, got nothing",
      "7:3 performance.nccl.interNode: must be a mapping, got nothing",
      "7:3 performance.nccl.intraNode: must be a mapping, got nothing",
      "7:14 performance.inference.anchor: is required",
      "7:14 performance.inference.noise: is required",
      "7:14 performance.inference.modelLoadSeconds: is required",
      "7:14 performance.inference.warmupSeconds: is required",
      "7:14 performance.inference.benchmarkSeconds: is required",
      "7:14 performance.inference.sources: is required",
      "7:14 performance.inference.anchor: must be a mapping, got nothing"
    ])
  })

  it("rejects unknown shape references, duplicate pools and labels the simulator sets", () => {
    const file = writeProfile(
      SMALL.replace("  - {name: gpu, shape: h100, count: 2}", "  - {name: gpu, shape: h200, count: 2}\n  - {name: gpu, shape: h100, count: 1}").replace(
        "labels: {nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}",
        "labels: {nvidia.com/gpu.product: NVIDIA-H100-NVL, kubernetes.io/hostname: box}"
      )
    )
    expect(errorOf(() => loadProfile(file)).message).toBe(
      [
        `${file}:10:38: shapes.h100.labels["nvidia.com/gpu.product"]: must match the shape's gpu ("NVIDIA-H100-80GB-HBM3"), got "NVIDIA-H100-NVL"`,
        `${file}:10:79: shapes.h100.labels["kubernetes.io/hostname"]: is set by the simulator from the node name; remove it`,
        `${file}:13:24: pools[0].shape: unknown shape "h200" (shapes: h100)`,
        `${file}:14:5: pools[1]: node name "gpu-1" is also generated by pools[0]; set a different namePrefix`,
        `${file}:14:12: pools[1].name: duplicate pool name "gpu" (also pools[0])`
      ].join("\n")
    )
  })

  it("reports invalid YAML with its position", () => {
    const file = writeProfile("name: bad\nname: again\n")
    expect(errorOf(() => loadProfile(file)).message).toBe(`${file}:2:1: invalid YAML: Map keys must be unique`)
  })

  it("reports an unknown profile name", () => {
    const error = errorOf(() => loadProfile("h100-aks"))
    expect(error.source).toBe("h100-aks")
    expect(error.message).toMatch(/^h100-aks: not a shipped profile \(h100-eks, h100-gke, dev\) and not a readable file: ENOENT/)
  })

  it("checks options against the profile", () => {
    const file = join(PROFILES_DIR, "h100-eks.yaml")
    const run = (options: ProfileOptions) => errorOf(() => loadProfile("h100-eks", options)).message
    expect(run({ nodes: -1, seed: 1.5, timeScale: 0 })).toBe(
      [
        `${file}: options.nodes: must be an integer >= 0, got -1`,
        `${file}: options.timeScale: must be a number > 0, got 0`,
        `${file}: options.seed: must be an integer >= 0 and <= 4294967295, got 1.5`
      ].join("\n")
    )
    expect(
      run({
        gpuUse: [
          { node: "gpu-9", gpus: 1, by: "device-plugin" },
          { node: "gpu-1", gpus: 5, by: "dra-claim" },
          { node: "gpu-1", gpus: 4, by: "device-plugin" }
        ],
        degraded: [{ node: "system-1", allocatableGpus: 0 }]
      })
    ).toBe(
      [
        `${file}: options.degraded[0].node: no GPU node "system-1" (GPU nodes: gpu-1, gpu-2)`,
        `${file}: options.gpuUse[0].node: no GPU node "gpu-9" (GPU nodes: gpu-1, gpu-2)`,
        `${file}: options.gpuUse[2].gpus: node "gpu-1" has 8 allocatable GPUs; gpuUse would hold 9`
      ].join("\n")
    )
    expect(run({ components: ["dynamo"], gpuUse: [{ node: "gpu-1", gpus: 1, by: "dra-claim" }], degraded: [{ node: "gpu-2", allocatableGpus: 9 }] })).toBe(
      [
        `${file}: options.degraded[0].allocatableGpus: must be at most the shape's 8 GPUs, got 9`,
        `${file}: options.gpuUse[0].by: a "dra-claim" needs the dra-driver component`
      ].join("\n")
    )
    expect(run({ gpuUse: [{ node: "gpu-1", gpus: 8, by: "device-plugin" }], degraded: [{ node: "gpu-1", allocatableGpus: 7 }] })).toBe(
      `${file}: options.gpuUse[0].gpus: node "gpu-1" has 7 allocatable GPUs; gpuUse would hold 8`
    )
    expect(run({ replay: { nccl: "/nonexistent/all_reduce.txt" } })).toBe(`${file}: options.replay.nccl: file not found: /nonexistent/all_reduce.txt`)
    expect(run({ extra: 1 } as ProfileOptions)).toBe(
      `${file}: options.extra: unknown option (expected one of: nodes, components, gpuUse, degraded, timeScale, seed, replay, oomKilled)`
    )
  })

  it("reports a GPU use of a profile file at its line", () => {
    const file = writeProfile(`${SMALL}gpuUse:\n  - {node: gpu-3, gpus: 1, by: device-plugin}\n`)
    expect(errorOf(() => loadProfile(file)).message).toBe(`${file}:33:12: gpuUse[0].node: no GPU node "gpu-3" (GPU nodes: gpu-1, gpu-2)`)
  })
})

describe("profileObjects", () => {
  const eks = (options: ProfileOptions = {}) => profileObjects(loadProfile("h100-eks", options))

  it("creates the h100-eks objects in order", () => {
    expect(eks({ nodes: 3 }).map((object) => `${object.kind}/${object.metadata.name}`)).toEqual([
      "Node/gpu-1",
      "Node/gpu-2",
      "Node/gpu-3",
      "Node/system-1",
      "Node/system-2",
      "DeviceClass/gpu.nvidia.com",
      expect.stringMatching(/^ResourceSlice\/gpu-1-gpu\.nvidia\.com-[a-z0-9]{5}$/),
      expect.stringMatching(/^ResourceSlice\/gpu-2-gpu\.nvidia\.com-[a-z0-9]{5}$/),
      expect.stringMatching(/^ResourceSlice\/gpu-3-gpu\.nvidia\.com-[a-z0-9]{5}$/),
      "CustomResourceDefinition/dynamographdeployments.nvidia.com",
      "CustomResourceDefinition/clustertrainingruntimes.trainer.kubeflow.org",
      "CustomResourceDefinition/trainingruntimes.trainer.kubeflow.org",
      "CustomResourceDefinition/trainjobs.trainer.kubeflow.org"
    ])
  })

  it("gives EKS GPU nodes their labels, taint, capacity and status", () => {
    const node = named(eks(), "Node", "gpu-2")
    expect(node["metadata"].labels).toMatchObject({
      "beta.kubernetes.io/instance-type": "p5.48xlarge",
      "eks.amazonaws.com/capacityType": "ON_DEMAND",
      "eks.amazonaws.com/nodegroup": "gpu",
      "kubernetes.io/arch": "amd64",
      "kubernetes.io/hostname": "gpu-2",
      "kubernetes.io/os": "linux",
      "node.kubernetes.io/instance-type": "p5.48xlarge",
      "nvidia.com/cuda.driver.major": "570",
      "nvidia.com/gpu.count": "8",
      "nvidia.com/gpu.family": "hopper",
      "nvidia.com/gpu.memory": "81559",
      "nvidia.com/gpu.present": "true",
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
      "topology.kubernetes.io/region": "us-east-1",
      "topology.kubernetes.io/zone": "us-east-1a"
    })
    expect(Object.keys(node["metadata"].labels)).toEqual(Object.keys(node["metadata"].labels).sort())
    expect(node["spec"].taints).toEqual([{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }])
    expect(node["spec"].providerID).toMatch(/^aws:\/\/\/us-east-1a\/i-0[0-9a-f]{16}$/)
    expect(node["status"].capacity).toEqual({
      cpu: "192",
      "ephemeral-storage": "104845292Ki",
      "hugepages-1Gi": "0",
      "hugepages-2Mi": "0",
      memory: "2147483648Ki",
      "nvidia.com/gpu": "8",
      pods: "100",
      "vpc.amazonaws.com/efa": "32"
    })
    expect(node["status"].allocatable).toEqual({
      cpu: "191450m",
      "ephemeral-storage": "96625421107",
      "hugepages-1Gi": "0",
      "hugepages-2Mi": "0",
      memory: "2145993728Ki",
      "nvidia.com/gpu": "8",
      pods: "100",
      "vpc.amazonaws.com/efa": "32"
    })
    expect(node["status"].conditions.map((condition: Json) => `${condition["type"]}=${condition["status"]}`)).toEqual([
      "MemoryPressure=False",
      "DiskPressure=False",
      "PIDPressure=False",
      "Ready=True"
    ])
    expect(node["status"].addresses).toEqual([
      { type: "InternalIP", address: "10.0.16.5" },
      { type: "Hostname", address: "gpu-2" }
    ])
    expect(node["status"].nodeInfo).toMatchObject({ kubeletVersion: "v1.35.2-eks-3a7c1f9", operatingSystem: "linux", architecture: "amd64" })
    expect(node["status"].nodeInfo.kubeletVersion).toMatch(/^v1\.35\./)
  })

  it("gives system nodes no GPU labels, taints or GPU resources", () => {
    const node = named(eks(), "Node", "system-1")
    expect(Object.keys(node["metadata"].labels).filter((key) => key.startsWith("nvidia.com/"))).toEqual([])
    expect(node["metadata"].labels["eks.amazonaws.com/nodegroup"]).toBe("system")
    expect(node["spec"].taints).toBeUndefined()
    expect(node["status"].allocatable).toEqual({
      cpu: "7910m",
      "ephemeral-storage": "96625421107",
      "hugepages-1Gi": "0",
      "hugepages-2Mi": "0",
      memory: "32537600Ki",
      pods: "58"
    })
  })

  it("publishes one ResourceSlice per GPU node with the NVIDIA DRA driver's device attributes", () => {
    const objects = eks()
    expect(named(objects, "DeviceClass", "gpu.nvidia.com")["spec"]).toEqual({ selectors: [{ cel: { expression: GPU_DEVICE_CLASS_SELECTOR } }] })
    expect(GPU_DEVICE_CLASS_SELECTOR).toBe("device.driver == 'gpu.nvidia.com' && device.attributes['gpu.nvidia.com'].type == 'gpu'")
    const slices = ofKind(objects, "ResourceSlice")
    expect(slices.map((slice) => [slice["spec"].nodeName, slice["spec"].pool, slice["spec"].devices.length])).toEqual([
      ["gpu-1", { name: "gpu-1", generation: 1, resourceSliceCount: 1 }, 8],
      ["gpu-2", { name: "gpu-2", generation: 1, resourceSliceCount: 1 }, 8]
    ])
    const device = slices[0]!["spec"].devices[3]
    expect(device).toEqual({
      name: "gpu-3",
      attributes: {
        architecture: { string: "Hopper" },
        brand: { string: "Nvidia" },
        cudaComputeCapability: { version: "9.0.0" },
        cudaDriverVersion: { version: "12.8.0" },
        driverVersion: { version: "570.133.20" },
        index: { int: 3 },
        minor: { int: 3 },
        pcieBusID: { string: "0000:86:00.0" },
        productName: { string: "NVIDIA H100 80GB HBM3" },
        "resource.kubernetes.io/pcieRoot": { string: "pci0000:80" },
        type: { string: "gpu" },
        uuid: { string: expect.stringMatching(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/) }
      },
      capacity: { memory: { value: "81559Mi" } }
    })
    const uuids = slices.flatMap((slice) => slice["spec"].devices.map((each: Json) => each["attributes"].uuid.string))
    expect(new Set(uuids).size).toBe(16)
    expect(slices.every((slice) => slice["spec"].driver === "gpu.nvidia.com")).toBe(true)
  })

  it("leaves the DRA objects out without the dra-driver component, and the GFD labels without the GPU operator", () => {
    const objects = eks({ components: ["dynamo"] })
    expect(objects.map((object) => object.kind)).toEqual(["Node", "Node", "Node", "Node", "CustomResourceDefinition"])
    const labels = Object.keys(named(objects, "Node", "gpu-1")["metadata"].labels)
    expect(labels.filter((key) => key.startsWith("nvidia.com/") || key.startsWith("feature.node.kubernetes.io/"))).toEqual([])
    expect(named(objects, "Node", "gpu-1")["status"].allocatable["nvidia.com/gpu"]).toBe("8")
  })

  it("advertises fewer GPUs on a degraded node", () => {
    const objects = eks({ degraded: [{ node: "gpu-2", allocatableGpus: 7 }] })
    const node = named(objects, "Node", "gpu-2")
    expect([node["status"].capacity["nvidia.com/gpu"], node["status"].allocatable["nvidia.com/gpu"]]).toEqual(["8", "7"])
    const slice = ofKind(objects, "ResourceSlice").find((each) => each["spec"].nodeName === "gpu-2")!
    expect(slice["spec"].devices.map((device: Json) => device["name"])).toEqual(["gpu-0", "gpu-1", "gpu-2", "gpu-3", "gpu-4", "gpu-5", "gpu-6"])
    expect(named(objects, "Node", "gpu-1")["status"].allocatable["nvidia.com/gpu"]).toBe("8")
  })

  it("seeds GPUs held by DRA claims and device-plugin pods, consistent with what the scheduler and allocator produce", () => {
    const objects = eks({
      gpuUse: [
        { node: "gpu-2", gpus: 3, by: "dra-claim" },
        { node: "gpu-2", gpus: 2, by: "dra-claim" },
        { node: "gpu-1", gpus: 8, by: "device-plugin" }
      ]
    })
    expect(objects.slice(-6).map((object) => `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`)).toEqual([
      "Namespace//gpu-holders",
      "Pod/gpu-holders/dra-holder-gpu-2-1",
      "ResourceClaim/gpu-holders/dra-holder-gpu-2-1",
      "Pod/gpu-holders/dra-holder-gpu-2-2",
      "ResourceClaim/gpu-holders/dra-holder-gpu-2-2",
      "Pod/gpu-holders/plugin-holder-gpu-1-1"
    ])
    const claim = named(objects, "ResourceClaim", "dra-holder-gpu-2-1")
    const pod = named(objects, "Pod", "dra-holder-gpu-2-1")
    expect(claim["spec"]).toEqual({
      devices: { requests: [{ name: "gpu", exactly: { deviceClassName: "gpu.nvidia.com", allocationMode: "ExactCount", count: 3 } }] }
    })
    expect(claim["status"]).toEqual({
      allocation: {
        devices: {
          results: [
            { request: "gpu", driver: "gpu.nvidia.com", pool: "gpu-2", device: "gpu-0" },
            { request: "gpu", driver: "gpu.nvidia.com", pool: "gpu-2", device: "gpu-1" },
            { request: "gpu", driver: "gpu.nvidia.com", pool: "gpu-2", device: "gpu-2" }
          ]
        },
        nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["gpu-2"] }] }] }
      },
      reservedFor: [{ resource: "pods", name: "dra-holder-gpu-2-1", uid: pod["metadata"].uid }]
    })
    expect(named(objects, "ResourceClaim", "dra-holder-gpu-2-2")["status"].allocation.devices.results.map((result: Json) => result["device"])).toEqual([
      "gpu-3",
      "gpu-4"
    ])
    expect([pod["spec"].nodeName, pod["status"].phase, pod["spec"].resourceClaims, pod["spec"].containers[0].resources]).toEqual([
      "gpu-2",
      "Running",
      [{ name: "gpu", resourceClaimName: "dra-holder-gpu-2-1" }],
      { claims: [{ name: "gpu" }] }
    ])
    expect(pod["spec"].tolerations[0]).toEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" })
    expect(pod["status"].conditions.map((condition: Json) => `${condition["type"]}=${condition["status"]}`)).toEqual([
      "PodReadyToStartContainers=True",
      "Initialized=True",
      "Ready=True",
      "ContainersReady=True",
      "PodScheduled=True"
    ])
    expect(pod["status"].hostIP).toBe("10.0.16.5")
    const plugin = named(objects, "Pod", "plugin-holder-gpu-1-1")
    expect([plugin["spec"].nodeName, plugin["status"].phase, plugin["spec"].containers[0].resources, plugin["spec"].resourceClaims]).toEqual([
      "gpu-1",
      "Running",
      { limits: { "nvidia.com/gpu": "8" }, requests: { "nvidia.com/gpu": "8" } },
      undefined
    ])
    expect(plugin["metadata"].labels).toEqual({ "app.kubernetes.io/name": "gpu-holder", "kube-sim/role": "gpu-holder" })
  })

  it("gives GKE nodes their labels and taint, and creates the GPU NIC networks", () => {
    const objects = profileObjects(loadProfile("h100-gke"))
    const node = named(objects, "Node", "gpu-1")
    expect(node["metadata"].labels).toMatchObject({
      "cloud.google.com/gke-accelerator": "nvidia-h100-mega-80gb",
      "cloud.google.com/gke-gpu": "true",
      "cloud.google.com/gke-nodepool": "gpu",
      "cloud.google.com/machine-family": "a3",
      "node.kubernetes.io/instance-type": "a3-megagpu-8g",
      "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
      "topology.gke.io/zone": "us-central1-a",
      "topology.kubernetes.io/region": "us-central1"
    })
    expect(node["spec"]).toEqual({ providerID: "gce://aicr-sim/us-central1-a/gpu-1", taints: [{ key: "nvidia.com/gpu", value: "present", effect: "NoSchedule" }] })
    expect(node["status"].capacity["vpc.amazonaws.com/efa"]).toBeUndefined()
    expect(node["status"].allocatable).toMatchObject({ cpu: "207410m", memory: "1916484812Ki", "nvidia.com/gpu": "8" })
    const crd = named(objects, "CustomResourceDefinition", "networks.networking.gke.io")
    expect([crd["spec"].group, crd["spec"].scope, crd["spec"].versions.map((version: Json) => version["name"]), crd["metadata"].annotations]).toEqual([
      "networking.gke.io",
      "Cluster",
      ["v1"],
      { "kube-sim/origin": "a minimal stand-in written for kube-sim, not GKE's own Network CRD" }
    ])
    const networks = ofKind(objects, "Network")
    expect(networks.map((each) => `${each["metadata"].name}:${each["spec"].type}`)).toEqual([
      "default:L3",
      ...Array.from({ length: 8 }, (_, index) => `gpu-nic-${index}:Device`)
    ])
    expect(networks[1]!["spec"].parametersRef).toEqual({ group: "networking.gke.io", kind: "GKENetworkParamSet", name: "gpu-nic-0" })
  })

  it("gives dev nodes generic labels, two GPUs and no taints", () => {
    const objects = profileObjects(loadProfile("dev"))
    const nodes = ofKind(objects, "Node")
    expect(nodes.map((node) => [node["metadata"].name, node["status"].allocatable["nvidia.com/gpu"], node["spec"]])).toEqual([
      ["gpu-1", "2", {}],
      ["gpu-2", "2", {}],
      ["system-1", undefined, {}]
    ])
    expect(nodes.slice(0, 2).map((node) => node["metadata"].labels["nvidia.com/gpu.product"])).toEqual(["NVIDIA-H100-80GB-HBM3", "NVIDIA-H100-80GB-HBM3"])
    expect(Object.keys(nodes[0]!["metadata"].labels).filter((key) => !key.startsWith("nvidia.com/") && !key.startsWith("feature.node."))).toEqual([
      "beta.kubernetes.io/arch",
      "beta.kubernetes.io/instance-type",
      "beta.kubernetes.io/os",
      "kubernetes.io/arch",
      "kubernetes.io/hostname",
      "kubernetes.io/os",
      "node.kubernetes.io/instance-type"
    ])
    expect(ofKind(objects, "ResourceSlice").map((slice) => slice["spec"].devices.length)).toEqual([2, 2])
  })

  it("is deterministic for a seed", () => {
    const identity = (profile: Profile) =>
      profileObjects(profile).flatMap((object) => {
        const json = object as Json
        if (object.kind === "ResourceSlice") return [object.metadata.name, ...json["spec"].devices.map((device: Json) => device["attributes"].uuid.string)]
        if (object.kind === "Node") return [json["spec"].providerID, json["status"].nodeInfo.machineID]
        return []
      })
    expect(identity(loadProfile("h100-eks"))).toEqual(identity(loadProfile("h100-eks")))
    expect(identity(loadProfile("h100-eks", { seed: 2 }))).not.toEqual(identity(loadProfile("h100-eks")))
  })

  it("produces objects that pass the built-in validation and decode without unknown fields", () => {
    for (const name of PROFILE_NAMES) {
      const options: ProfileOptions = {
        gpuUse: [
          { node: "gpu-1", gpus: 1, by: "dra-claim" },
          { node: "gpu-2", gpus: 1, by: "device-plugin" }
        ],
        degraded: [{ node: "gpu-2", allocatableGpus: 1 }]
      }
      for (const object of profileObjects(loadProfile(name, options))) {
        const kind = kindOf(object)
        if (!isBuiltinKind(kind)) {
          expect(object.kind).toBe("Network")
          continue
        }
        expect([name, object.kind, object.metadata.name, validateBuiltin(kind, object), decodeBuiltin(kind, object).unknownFields]).toEqual([
          name,
          object.kind,
          object.metadata.name,
          [],
          []
        ])
      }
    }
  })
})

describe("creating a profile's objects", () => {
  const options: ProfileOptions = {
    gpuUse: [
      { node: "gpu-2", gpus: 3, by: "dra-claim" },
      { node: "gpu-1", gpus: 8, by: "device-plugin" }
    ]
  }

  it("works object by object with cluster.create", () => {
    for (const name of PROFILE_NAMES) {
      const { cluster } = testWorld()
      const objects = profileObjects(loadProfile(name, name === "dev" ? { gpuUse: [{ node: "gpu-2", gpus: 1, by: "dra-claim" }, { node: "gpu-1", gpus: 2, by: "device-plugin" }] } : options))
      for (const object of objects) {
        const type = cluster.registry.byKind(object.apiVersion, object.kind)
        if (type === undefined) throw new Error(`no type for ${object.apiVersion} ${object.kind}`)
        cluster.create(type, object.metadata.namespace ?? "", object)
      }
      const nodes = cluster.store.list("/nodes") ?? []
      expect([name, nodes.length]).toEqual([name, ofKind(objects, "Node").length])
    }
  })

  it("keeps references true with createProfileObjects", () => {
    const { cluster } = testWorld()
    const created = createProfileObjects(cluster, loadProfile("h100-gke", options))
    const node = named(created, "Node", "gpu-1")
    const slice = ofKind(created, "ResourceSlice").find((each) => each["spec"].nodeName === "gpu-1")!
    expect(slice["metadata"].ownerReferences).toEqual([{ apiVersion: "v1", kind: "Node", name: "gpu-1", uid: node["metadata"].uid, controller: true }])
    const pod = named(created, "Pod", "dra-holder-gpu-2-1")
    expect(named(created, "ResourceClaim", "dra-holder-gpu-2-1")["status"].reservedFor).toEqual([
      { resource: "pods", name: "dra-holder-gpu-2-1", uid: pod["metadata"].uid }
    ])
    const networks = cluster.registry.find("networking.gke.io", "v1", "networks")
    expect(networks?.namespaced).toBe(false)
    expect((cluster.store.list("networking.gke.io/networks") ?? []).map((each) => each.metadata.name)).toEqual([
      "default",
      ...Array.from({ length: 8 }, (_, index) => `gpu-nic-${index}`)
    ])
    expect(cluster.registry.find("nvidia.com", "v1alpha1", "dynamographdeployments")?.kind).toBe("DynamoGraphDeployment")
    expect(cluster.registry.find("trainer.kubeflow.org", "v1alpha1", "trainjobs")?.kind).toBe("TrainJob")
  })

  it("serves Network objects that satisfy the CRD's structural schema", () => {
    const { cluster } = testWorld()
    const objects = profileObjects(loadProfile("h100-gke"))
    createProfileObjects(cluster, { ...loadProfile("h100-gke"), gpuUse: [] })
    const type = cluster.registry.find("networking.gke.io", "v1", "networks")!
    for (const network of ofKind(objects, "Network")) {
      const body = { ...network, metadata: { name: `${network["metadata"].name}-copy` } } as KubeObject
      expect(cluster.create(type, "", body, { request: true, dryRun: true }).metadata.name).toBe(`${network["metadata"].name}-copy`)
    }
    const bad = { apiVersion: "networking.gke.io/v1", kind: "Network", metadata: { name: "bad" }, spec: { type: "L4" } } as KubeObject
    expect(() => cluster.create(type, "", bad, { request: true, dryRun: true })).toThrow(/spec\.type: Unsupported value: "L4"/)
  })
})

describe("parseQuantity", () => {
  it("reads Kubernetes quantities", () => {
    expect(["192", "191450m", "2Ti", "32Gi", "1.5k", "1e3", "0.5", "lots", "-1", ""].map(parseQuantity)).toEqual([
      192,
      191.45,
      2199023255552,
      34359738368,
      1500,
      1000,
      0.5,
      undefined,
      undefined,
      undefined
    ])
  })
})
