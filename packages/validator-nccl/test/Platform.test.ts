import * as Dra from "@aicr/core/Dra"
import type { KubeObject } from "@aicr/core/KubeClient"
import { startSim } from "@aicr/kube-sim"
import { describe, expect, it } from "vitest"
import * as Platform from "../src/Platform.ts"

const H100 = "NVIDIA-H100-80GB-HBM3"
const NICS = Array.from({ length: 8 }, (_, index) => `gpu-nic-${index}`)

const eksNode = (name: string, overrides: Partial<Platform.PlatformNode> = {}, labels: Record<string, string> = {}): Platform.PlatformNode => ({
  name,
  labels: {
    "eks.amazonaws.com/nodegroup": "gpu",
    "node.kubernetes.io/instance-type": "p5.48xlarge",
    "nvidia.com/gpu.product": H100,
    ...labels
  },
  product: H100,
  efa: 32,
  ...overrides
})

const gkeNode = (name: string, accelerator: string | null = Platform.GKE_H100_MEGA): Platform.PlatformNode => ({
  name,
  labels: {
    "cloud.google.com/gke-nodepool": "gpu",
    ...(accelerator === null ? {} : { "cloud.google.com/gke-accelerator": accelerator }),
    "node.kubernetes.io/instance-type": "a3-megagpu-8g"
  },
  product: H100,
  efa: 0
})

const plainNode = (name: string, product: string | null = H100): Platform.PlatformNode => ({
  name,
  labels: { "kubernetes.io/hostname": name, ...(product === null ? {} : { "nvidia.com/gpu.product": product }) },
  product: product ?? undefined,
  efa: 0
})

const template = (detection: Platform.Detection): Platform.Template => {
  if (detection._tag !== "Detected") throw new Error(`expected a template, got ${JSON.stringify(detection)}`)
  return detection.template
}

const reason = (detection: Platform.Detection, tag: "Unsupported" | "Misconfigured"): string => {
  if (detection._tag !== tag) throw new Error(`expected ${tag}, got ${JSON.stringify(detection)}`)
  return detection.reason
}

describe("services", () => {
  it("reads the service from node labels: EKS node groups, Karpenter and the AWS provider; GKE node pools; else other", () => {
    expect(Platform.serviceOfNode({ labels: { "eks.amazonaws.com/nodegroup": "gpu" } })).toBe("eks")
    expect(Platform.serviceOfNode({ labels: { "karpenter.k8s.aws/instance-family": "p5" } })).toBe("eks")
    expect(Platform.serviceOfNode({ labels: { "topology.k8s.aws/zone-id": "use1-az1" } })).toBe("eks")
    expect(Platform.serviceOfNode({ labels: { "cloud.google.com/gke-nodepool": "gpu" } })).toBe("gke")
    expect(Platform.serviceOfNode({ labels: { "node.kubernetes.io/instance-type": "p5.48xlarge" } })).toBe("other")
    expect(Platform.serviceOf([eksNode("a"), eksNode("b")])).toBe("eks")
    expect(Platform.serviceOf([eksNode("a"), gkeNode("b")])).toBeUndefined()
    expect(Platform.serviceOf([])).toBeUndefined()
  })

  it("takes EFA adapters from the Node objects' allocatable", () => {
    const node = (name: string, efa?: unknown): KubeObject => ({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name },
      status: { allocatable: { "nvidia.com/gpu": "8", ...(efa === undefined ? {} : { "vpc.amazonaws.com/efa": efa }) } }
    })
    expect(Platform.efaOf(node("a", "32"))).toBe(32)
    expect(Platform.efaOf(node("a", 4))).toBe(4)
    expect(Platform.efaOf(node("a"))).toBe(0)
    expect(Platform.efaOf(node("a", "1k"))).toBe(0)
    const census = Dra.censusOf({ nodes: [node("gpu-1", "32"), node("gpu-2")], slices: [], claims: [], pods: [], draServed: false })
    expect(Platform.platformNodes(census.nodes, [node("gpu-1", "32"), node("gpu-2")]).map((entry) => [entry.name, entry.efa])).toEqual([
      ["gpu-1", 32],
      ["gpu-2", 0]
    ])
    expect(Platform.platformNodes(census.nodes, []).map((entry) => entry.efa)).toEqual([0, 0])
  })
})

describe("EKS", () => {
  it("H100 with EFA on every node: the EFA template, selected by instance type, no size cap", () => {
    expect(Platform.detect([eksNode("a"), eksNode("b")])).toEqual({
      _tag: "Detected",
      template: {
        kind: "eks",
        service: "eks",
        description: "EKS p5.48xlarge over EFA (32 adapters per node)",
        product: H100,
        nodeSelector: { "node.kubernetes.io/instance-type": "p5.48xlarge" },
        imageKey: "runtime",
        maxBytesCap: undefined,
        instanceType: "p5.48xlarge",
        efaPerNode: 32,
        fabric: "efa"
      }
    })
  })

  it("no EFA adapter on any node: TCP, message sizes capped at 4 GiB", () => {
    const found = template(Platform.detect([eksNode("a", { efa: 0 }), eksNode("b", { efa: 0 })]))
    expect(found).toMatchObject({ kind: "eks", fabric: "tcp", efaPerNode: 0, maxBytesCap: 4 * 1024 ** 3 })
    expect(found.description).toBe("EKS p5.48xlarge over TCP (no vpc.amazonaws.com/efa on the nodes; message sizes capped at 4 GiB)")
  })

  it("H200 (p5en) uses the same template; without GPU Feature Discovery the instance type says the accelerator", () => {
    const h200 = { product: "NVIDIA-H200", efa: 16 }
    expect(template(Platform.detect([eksNode("a", h200, { "node.kubernetes.io/instance-type": "p5en.48xlarge" })]))).toMatchObject({
      kind: "eks",
      instanceType: "p5en.48xlarge",
      efaPerNode: 16
    })
    expect(template(Platform.detect([eksNode("a", { product: undefined })]))).toMatchObject({ kind: "eks", product: undefined })
    expect(template(Platform.detect([eksNode("a", { product: undefined }, { "node.kubernetes.io/instance-type": "p5e.48xlarge" })])))
      .toMatchObject({ instanceType: "p5e.48xlarge" })
  })

  it("the user's --node-selector replaces the instance-type selector", () => {
    expect(template(Platform.detect([eksNode("a")], { nodeSelector: { pool: "nccl" } })).nodeSelector).toEqual({ pool: "nccl" })
    expect(template(Platform.detect([eksNode("a")], { nodeSelector: {} })).nodeSelector).toEqual({
      "node.kubernetes.io/instance-type": "p5.48xlarge"
    })
  })

  it("other accelerators are unsupported (skipped), naming what is", () => {
    const detection = Platform.detect([eksNode("a", { product: "NVIDIA-A100-SXM4-40GB" }, { "node.kubernetes.io/instance-type": "p4d.24xlarge" })])
    expect(reason(detection, "Unsupported")).toBe(`EKS GPU nodes a=NVIDIA-A100-SXM4-40GB are not H100 or H200; ${Platform.SUPPORTED}`)
    expect(Platform.SUPPORTED).toContain("GKE with H100 Mega GPUs")
    expect(reason(Platform.detect([eksNode("a", { product: undefined }, { "node.kubernetes.io/instance-type": "g5.48xlarge" })]), "Unsupported"))
      .toContain("a=g5.48xlarge are not H100 or H200")
  })

  it("EFA counts that differ across nodes are a misconfiguration, every node named", () => {
    expect(reason(Platform.detect([eksNode("a"), eksNode("b", { efa: 0 }), eksNode("c")]), "Misconfigured")).toBe(
      "vpc.amazonaws.com/efa differs across the GPU nodes (a=32, b=0, c=32): the cluster is still converging or the EFA " +
        "device plugin is not fully rolled out; re-run once every node advertises the same count"
    )
  })

  it("mixed or missing instance types are a misconfiguration", () => {
    expect(reason(Platform.detect([eksNode("a"), eksNode("b", {}, { "node.kubernetes.io/instance-type": "p5.4xlarge" })]), "Misconfigured"))
      .toBe(
        "the GPU nodes are of several instance types (a=p5.48xlarge, b=p5.4xlarge): NCCL needs identical nodes; choose one " +
          "instance type with --node-selector node.kubernetes.io/instance-type=<type>"
      )
    expect(reason(Platform.detect([eksNode("a", {}, { "node.kubernetes.io/instance-type": "" })]), "Misconfigured")).toBe(
      "GPU node(s) a have no node.kubernetes.io/instance-type label: the EKS template pins workers to one instance type"
    )
  })
})

describe("GKE", () => {
  it("H100 Mega with 8 GPU NIC networks: the TCPXO template, NICs in natural order, selected by accelerator", () => {
    const networks = ["default", ...[...NICS].reverse(), "vpc-other"]
    expect(Platform.detect([gkeNode("a"), gkeNode("b")], { networks })).toEqual({
      _tag: "Detected",
      template: {
        kind: "gke",
        service: "gke",
        description: `GKE nvidia-h100-mega-80gb over GPUDirect-TCPXO (${NICS.join(", ")})`,
        product: H100,
        nodeSelector: { "cloud.google.com/gke-accelerator": "nvidia-h100-mega-80gb" },
        imageKey: "runtime-gke",
        maxBytesCap: undefined,
        accelerator: "nvidia-h100-mega-80gb",
        gpuNicNetworks: NICS,
        fabric: "tcpxo"
      }
    })
  })

  it("orders gpu-nic-10 after gpu-nic-9", () => {
    const networks = Array.from({ length: 8 }, (_, index) => `gpu-nic-${index + 3}`)
    expect((template(Platform.detect([gkeNode("a")], { networks })) as Platform.GkeTemplate).gpuNicNetworks).toEqual(networks)
  })

  it("fewer or more than 8 GPU NIC networks is a misconfiguration (upstream's message)", () => {
    expect(reason(Platform.detect([gkeNode("a")]), "Misconfigured")).toBe(
      "expected 8 GPU NIC networks (networking.gke.io/v1 Network named *gpu-nic*), found 0 — the cluster may not have " +
        "multi-NIC networking configured for GPUDirect-TCPXO"
    )
    expect(reason(Platform.detect([gkeNode("a")], { networks: NICS.slice(0, 7) }), "Misconfigured")).toContain("found 7")
    expect(reason(Platform.detect([gkeNode("a")], { networks: [...NICS, "gpu-nic-8"] }), "Misconfigured")).toContain(
      "found 9 (gpu-nic-0, gpu-nic-1, gpu-nic-2, gpu-nic-3, gpu-nic-4, gpu-nic-5, gpu-nic-6, gpu-nic-7, gpu-nic-8): cannot tell"
    )
  })

  it("a3-highgpu (TCPX) and other accelerators are unsupported", () => {
    expect(reason(Platform.detect([gkeNode("a", "nvidia-h100-80gb")], { networks: NICS }), "Unsupported")).toBe(
      "GKE GPU nodes with cloud.google.com/gke-accelerator=nvidia-h100-80gb (a3-highgpu-8g uses GPUDirect-TCPX, which " +
        `this check does not implement); ${Platform.SUPPORTED}`
    )
    expect(reason(Platform.detect([gkeNode("a", "nvidia-l4")], { networks: NICS }), "Unsupported")).toContain("=nvidia-l4;")
  })

  it("missing or mixed accelerator labels are a misconfiguration", () => {
    expect(reason(Platform.detect([gkeNode("a"), gkeNode("b", null)], { networks: NICS }), "Misconfigured")).toBe(
      "GKE GPU node(s) b have no cloud.google.com/gke-accelerator label: the GKE template selects workers by it"
    )
    expect(reason(Platform.detect([gkeNode("a"), gkeNode("b", "nvidia-h100-80gb")], { networks: NICS }), "Misconfigured")).toContain(
      "mixed cloud.google.com/gke-accelerator labels (a=nvidia-h100-mega-80gb, b=nvidia-h100-80gb)"
    )
  })
})

describe("other services", () => {
  it("nodes sharing a product: the generic template, selected by product", () => {
    expect(Platform.detect([plainNode("a"), plainNode("b")])).toEqual({
      _tag: "Detected",
      template: {
        kind: "generic",
        service: "other",
        description: `generic template (${H100}), NCCL's own transports`,
        product: H100,
        nodeSelector: { "nvidia.com/gpu.product": H100 },
        imageKey: "runtime",
        maxBytesCap: undefined,
        fabric: "nccl-default"
      }
    })
  })

  it("any accelerator fits; --node-selector stands in for a shared product", () => {
    expect(template(Platform.detect([plainNode("a", "NVIDIA-B200")]))).toMatchObject({ kind: "generic", product: "NVIDIA-B200" })
    const chosen = template(Platform.detect([plainNode("a", null), plainNode("b", "NVIDIA-L40S")], { nodeSelector: { pool: "gpu" } }))
    expect(chosen).toMatchObject({ kind: "generic", product: undefined, nodeSelector: { pool: "gpu" } })
    expect(chosen.description).toBe("generic template (GPU nodes of --node-selector), NCCL's own transports")
  })

  it("no shared product and no --node-selector: unsupported", () => {
    expect(reason(Platform.detect([plainNode("a"), plainNode("b", null)]), "Unsupported")).toBe(
      `the GPU nodes share no nvidia.com/gpu.product label (a=${H100}, b=(none)); give --node-selector to choose the GPU ` +
        `nodes; ${Platform.SUPPORTED}`
    )
  })

  it("a forced service wins over the labels", () => {
    const unlabelled: Platform.PlatformNode = { ...plainNode("a"), labels: { "node.kubernetes.io/instance-type": "p5.48xlarge" }, efa: 32 }
    expect(template(Platform.detect([unlabelled], { service: "eks" }))).toMatchObject({ kind: "eks", fabric: "efa" })
    expect(reason(Platform.detect([plainNode("a")], { service: "eks" }), "Misconfigured")).toContain("have no node.kubernetes.io/instance-type label")
    expect(template(Platform.detect([eksNode("a"), plainNode("b")], { service: "other" }))).toMatchObject({ kind: "generic" })
    expect(reason(Platform.detect([plainNode("a")], { service: "gke" }), "Misconfigured")).toContain("have no cloud.google.com/gke-accelerator label")
  })

  it("no node, or nodes of several services", () => {
    expect(reason(Platform.detect([]), "Unsupported")).toBe(`no GPU node to run on; ${Platform.SUPPORTED}`)
    expect(reason(Platform.detect([eksNode("a"), plainNode("b")]), "Misconfigured")).toBe(
      "the GPU nodes belong to different services (a=eks, b=other): NCCL needs identical nodes"
    )
  })
})

describe("on the simulated clusters' GPU nodes", () => {
  const detectOn = async (profile: string) => {
    const sim = await startSim({ profile, profileOptions: { timeScale: 0.001 } })
    try {
      const nodes = (sim.cluster.store.list("/nodes") ?? []) as ReadonlyArray<KubeObject>
      const census = Dra.censusOf({
        nodes,
        slices: (sim.cluster.store.list("resource.k8s.io/resourceslices") ?? []) as ReadonlyArray<KubeObject>,
        claims: [],
        pods: [],
        draServed: true
      })
      const networks = ((sim.cluster.store.list("networking.gke.io/networks") ?? []) as ReadonlyArray<KubeObject>).map((network) => network.metadata.name)
      return Platform.detect(Platform.platformNodes(census.nodes, nodes), { networks })
    } finally {
      await sim.stop()
    }
  }

  it("h100-eks: EKS over EFA, 32 adapters", async () => {
    expect(template(await detectOn("h100-eks"))).toMatchObject({ kind: "eks", fabric: "efa", efaPerNode: 32, instanceType: "p5.48xlarge" })
  })

  it("h100-gke: GKE TCPXO over gpu-nic-0…7", async () => {
    expect(template(await detectOn("h100-gke"))).toMatchObject({ kind: "gke", gpuNicNetworks: NICS })
  })

  it("dev: the generic template", async () => {
    expect(template(await detectOn("dev"))).toMatchObject({ kind: "generic", product: H100 })
  })
})
