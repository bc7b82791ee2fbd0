import { Cluster } from "../../src/cluster.ts"
import { Logs } from "../../src/logs.ts"
import type { ProxyHandler } from "../../src/server.ts"
import { createWorld } from "../../src/simulation.ts"
import type { Profile, World } from "../../src/world.ts"

/** A small H100 profile for unit tests of controllers and emulators (the shipped profiles live in profiles/). */
export const testProfile = (overrides: Partial<Profile> = {}): Profile => ({
  name: "test",
  description: "two 8-GPU H100 nodes and one CPU node",
  platform: "generic",
  shapes: {
    h100: {
      instanceType: "p5.48xlarge",
      cpu: "192",
      memory: "2097152Mi",
      pods: 100,
      gpu: { product: "NVIDIA-H100-80GB-HBM3", count: 8, memoryMiB: 81559, architecture: "hopper", computeCapability: "9.0", driverVersion: "570.133.20", cudaVersion: "12.8" },
      efa: 32,
      labels: { "nvidia.com/gpu.present": "true" },
      taints: [{ key: "nvidia.com/gpu", value: "true", effect: "NoSchedule" }]
    },
    cpu: { instanceType: "m7i.4xlarge", cpu: "16", memory: "65536Mi", pods: 110, labels: {}, taints: [] }
  },
  pools: [
    { name: "gpu", shape: "h100", count: 2 },
    { name: "system", shape: "cpu", count: 1 }
  ],
  components: ["dynamo", "kubeflow-trainer", "dra-driver", "gpu-operator"],
  performance: {
    inference: {
      anchor: { model: "Qwen/Qwen3-0.6B", gpus: 8, concurrencyPerGpu: 16, outputTokensPerSecond: 38500, ttftP99Ms: 133 },
      noise: 0.01,
      modelLoadSeconds: 600,
      warmupSeconds: 30,
      benchmarkSeconds: 300,
      sources: ["test"]
    },
    nccl: {
      fabric: "efa",
      interNode: { busBandwidthGBps: 488, atBytes: 17179869184, nodes: 2 },
      intraNode: { busBandwidthGBps: 480, atBytes: 17179869184 },
      tcpBusBandwidthGBps: 3.2,
      latencyUs: 25,
      noise: 0.005,
      runSeconds: 120,
      sources: ["test"]
    }
  },
  timeScale: 0.0001,
  seed: 42,
  gpuUse: [],
  degraded: [],
  replay: {},
  ...overrides
})

export interface TestWorld {
  readonly world: World
  readonly cluster: Cluster
  readonly logs: Logs
  /** Handlers registered through `world.registerProxy`, by `namespace/service:port`. */
  readonly proxies: Map<string, ProxyHandler>
}

/** A World over a fresh in-process Cluster (no HTTP), for controller and emulator unit tests. */
export const testWorld = (profile: Profile = testProfile()): TestWorld => {
  const cluster = new Cluster()
  const namespaceType = cluster.registry.find("", "v1", "namespaces")!
  for (const name of ["default", "kube-system"]) cluster.create(namespaceType, "", { apiVersion: "v1", kind: "Namespace", metadata: { name } })
  const logs = new Logs()
  const proxies = new Map<string, ProxyHandler>()
  const world = createWorld({
    cluster,
    profile,
    logs,
    registerProxy: (namespace, service, port, handler) => {
      const id = `${namespace}/${service}:${port ?? ""}`
      proxies.set(id, handler)
      return () => void proxies.delete(id)
    }
  })
  return { world, cluster, logs, proxies }
}
