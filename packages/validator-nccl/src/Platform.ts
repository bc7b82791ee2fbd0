/**
 * Which platform template the NCCL benchmark runs with, detected from the GPU nodes it will run on (pure): EKS with
 * H100/H200 over EFA (or plain TCP when the nodes have no EFA adapter), GKE with H100 Mega over GPUDirect-TCPXO, or
 * a generic template for any other service whose GPU nodes share one `nvidia.com/gpu.product` (or that the user
 * chose with `--node-selector`). A service or accelerator no template fits is a value (`Unsupported`, the check is
 * skipped) naming what is supported; a fitting cluster that lacks a prerequisite is `Misconfigured` (the check
 * fails, naming what to fix).
 *
 * Upstream decides from the recipe's criteria and samples the first node only (instance type, EFA count); here every
 * node is read and must agree.
 */
import type { KubeObject } from "@aicr/core/KubeClient"
import * as Dra from "@aicr/core/Dra"

// ---------------------------------------------------------------------------------------------------------------
// Labels and resources

export const INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
export const GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
export const EFA_RESOURCE = "vpc.amazonaws.com/efa"

/** The GKE accelerator of a3-megagpu-8g nodes (8× H100 80GB, 8 GPU NICs for GPUDirect-TCPXO). */
export const GKE_H100_MEGA = "nvidia-h100-mega-80gb"

/** The GKE accelerator of a3-highgpu-8g nodes (GPUDirect-TCPX, which no template here implements). */
export const GKE_H100_HIGH = "nvidia-h100-80gb"

/** GPU NIC networks an a3-megagpu-8g pod attaches to, besides `default` on eth0. */
export const GKE_GPU_NIC_COUNT = 8

/** A message size cap (bytes) for plain TCP: 16 GiB would take minutes per size over sockets (upstream: `-e 4G`). */
export const TCP_MAX_BYTES = 4 * 1024 ** 3

/** What the template chooser needs of a GPU node: its labels, GPU product and EFA adapters. */
export interface PlatformNode {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  /** `nvidia.com/gpu.product`, when the node carries it. */
  readonly product: string | undefined
  /** Allocatable `vpc.amazonaws.com/efa` (0 when the node advertises none). */
  readonly efa: number
}

const quantity = (value: unknown): number => {
  const text = typeof value === "number" ? String(value) : typeof value === "string" ? value.trim() : ""
  return /^\d+$/.test(text) ? Number(text) : 0
}

/** The allocatable `vpc.amazonaws.com/efa` of a Node object (0 when absent or not a whole number). */
export const efaOf = (node: KubeObject): number => {
  const status = node["status"] as { readonly allocatable?: Readonly<Record<string, unknown>> } | undefined
  return quantity(status?.allocatable?.[EFA_RESOURCE])
}

/**
 * The census nodes as the chooser reads them, their EFA adapters taken from the Node objects of the same name (the
 * census keeps GPUs only); a node without its object counts 0 adapters.
 */
export const platformNodes = (nodes: ReadonlyArray<Dra.NodeGpus>, objects: ReadonlyArray<KubeObject>): ReadonlyArray<PlatformNode> => {
  const byName = new Map(objects.map((object) => [object.metadata.name, object]))
  return nodes.map((node) => {
    const object = byName.get(node.name)
    return { name: node.name, labels: node.labels, product: node.product, efa: object === undefined ? 0 : efaOf(object) }
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Services

export type Service = "eks" | "gke" | "other"

const EKS_PREFIXES = ["eks.amazonaws.com/", "karpenter.k8s.aws/", "topology.k8s.aws/", "k8s.io/cloud-provider-aws"]
const GKE_PREFIXES = ["cloud.google.com/gke-"]

const hasPrefix = (labels: Readonly<Record<string, string>>, prefixes: ReadonlyArray<string>) =>
  Object.keys(labels).some((key) => prefixes.some((prefix) => key.startsWith(prefix)))

/** The managed service a node belongs to, from its labels: EKS node groups and Karpenter, GKE node pools, else other. */
export const serviceOfNode = (node: Pick<PlatformNode, "labels">): Service =>
  hasPrefix(node.labels, EKS_PREFIXES) ? "eks" : hasPrefix(node.labels, GKE_PREFIXES) ? "gke" : "other"

/** The service of the nodes when they agree (`undefined` for none or a mix): tells the caller whether to list GKE networks. */
export const serviceOf = (nodes: ReadonlyArray<Pick<PlatformNode, "labels">>): Service | undefined => {
  const services = new Set(nodes.map(serviceOfNode))
  return services.size === 1 ? [...services][0] : undefined
}

// ---------------------------------------------------------------------------------------------------------------
// Templates

interface Common {
  /** A one-line description for progress and reports. */
  readonly description: string
  /** The service whose template this is. */
  readonly service: Service
  /** The GPU product the nodes share (`undefined` when they carry no product label). */
  readonly product: string | undefined
  /** The worker node selector: the user's `--node-selector` when given, else the template's own. */
  readonly nodeSelector: Readonly<Record<string, string>>
  /** The catalog image of the launcher, workers and their init containers. */
  readonly imageKey: "runtime" | "runtime-gke"
  /** The largest message size the template allows (bytes); `undefined` for no cap. */
  readonly maxBytesCap: number | undefined
}

/** EKS H100/H200: EFA adapters and libfabric env, or plain TCP sockets (capped at 4 GiB) when the nodes have none. */
export interface EksTemplate extends Common {
  readonly kind: "eks"
  readonly service: "eks"
  readonly instanceType: string
  /** EFA adapters requested per worker (every node has this many; 0 means TCP). */
  readonly efaPerNode: number
  readonly fabric: "efa" | "tcp"
}

/** GKE H100 Mega: GPUDirect-TCPXO receive daemon next to each worker, the 8 GPU NIC networks on eth1…eth8. */
export interface GkeTemplate extends Common {
  readonly kind: "gke"
  readonly service: "gke"
  readonly accelerator: string
  /** The GPU NIC networks, in interface order (eth1…eth8). */
  readonly gpuNicNetworks: ReadonlyArray<string>
  readonly fabric: "tcpxo"
}

/** Any other service: NCCL's own transports (InfiniBand when the pods see it, else sockets), no fabric plugin. */
export interface GenericTemplate extends Common {
  readonly kind: "generic"
  readonly fabric: "nccl-default"
}

export type Template = EksTemplate | GkeTemplate | GenericTemplate

/** A template fits the nodes. */
export interface Detected {
  readonly _tag: "Detected"
  readonly template: Template
}

/** No template fits the service or accelerator: the check is skipped, and `reason` names what is supported. */
export interface Unsupported {
  readonly _tag: "Unsupported"
  readonly reason: string
}

/** A template fits but the cluster lacks what it needs (labels, uniform adapters, networks): the check fails. */
export interface Misconfigured {
  readonly _tag: "Misconfigured"
  readonly reason: string
}

export type Detection = Detected | Unsupported | Misconfigured

/** What this check supports, as said when it is skipped. */
export const SUPPORTED =
  "supported: EKS with H100 or H200 GPUs (EFA, or TCP without it), GKE with H100 Mega GPUs (a3-megagpu-8g, " +
  "GPUDirect-TCPXO), or any other service whose GPU nodes share one nvidia.com/gpu.product label or are chosen " +
  "with --node-selector"

export interface DetectOptions {
  /** The user's `--node-selector` (empty or absent: none). */
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined
  /** Names of the cluster's `networking.gke.io/v1` Networks (GKE; absent: none were listed). */
  readonly networks?: ReadonlyArray<string> | undefined
  /** The service whose template to use, instead of the one the node labels say (e.g. from a benchmark profile). */
  readonly service?: Service | undefined
}

const unsupported = (reason: string): Unsupported => ({ _tag: "Unsupported", reason: `${reason}; ${SUPPORTED}` })
const misconfigured = (reason: string): Misconfigured => ({ _tag: "Misconfigured", reason })

const distinct = (values: ReadonlyArray<string | undefined>) => [...new Set(values)]

/** `name=value` per node, for messages. */
const perNode = (nodes: ReadonlyArray<PlatformNode>, value: (node: PlatformNode) => string | number | undefined) =>
  nodes.map((node) => `${node.name}=${value(node) ?? "(none)"}`).join(", ")

/** The value every node has, or `undefined` when one lacks it or they differ. */
const shared = (nodes: ReadonlyArray<PlatformNode>, value: (node: PlatformNode) => string | undefined): string | undefined => {
  const values = distinct(nodes.map(value))
  return values.length === 1 ? values[0] : undefined
}

/** The H100/H200 family of an EKS node: its product label, else its instance type (p5 → H100; p5e, p5en → H200). */
const eksAccelerator = (node: PlatformNode): "h100" | "h200" | undefined => {
  if (node.product !== undefined) {
    if (/^NVIDIA-H100(-|$)/.test(node.product)) return "h100"
    if (/^NVIDIA-H200(-|$)/.test(node.product)) return "h200"
    return undefined
  }
  const instanceType = node.labels[INSTANCE_TYPE_LABEL] ?? ""
  if (/^p5\./.test(instanceType)) return "h100"
  if (/^p5en?\./.test(instanceType)) return "h200"
  return undefined
}

const userSelector = (options: DetectOptions) =>
  options.nodeSelector !== undefined && Object.keys(options.nodeSelector).length > 0 ? { ...options.nodeSelector } : undefined

const eks = (nodes: ReadonlyArray<PlatformNode>, options: DetectOptions): Detection => {
  const foreign = nodes.filter((node) => eksAccelerator(node) === undefined)
  if (foreign.length > 0) {
    return unsupported(`EKS GPU nodes ${perNode(foreign, (node) => node.product ?? node.labels[INSTANCE_TYPE_LABEL])} are not H100 or H200`)
  }
  const unlabelled = nodes.filter((node) => (node.labels[INSTANCE_TYPE_LABEL] ?? "") === "")
  if (unlabelled.length > 0) {
    return misconfigured(
      `GPU node(s) ${unlabelled.map((node) => node.name).join(", ")} have no ${INSTANCE_TYPE_LABEL} label: ` +
        "the EKS template pins workers to one instance type"
    )
  }
  const instanceType = shared(nodes, (node) => node.labels[INSTANCE_TYPE_LABEL])
  if (instanceType === undefined) {
    return misconfigured(
      `the GPU nodes are of several instance types (${perNode(nodes, (node) => node.labels[INSTANCE_TYPE_LABEL])}): ` +
        "NCCL needs identical nodes; choose one instance type with --node-selector " +
        `${INSTANCE_TYPE_LABEL}=<type>`
    )
  }
  const counts = distinct(nodes.map((node) => String(node.efa)))
  if (counts.length > 1) {
    return misconfigured(
      `${EFA_RESOURCE} differs across the GPU nodes (${perNode(nodes, (node) => node.efa)}): the cluster is still ` +
        "converging or the EFA device plugin is not fully rolled out; re-run once every node advertises the same count"
    )
  }
  const efaPerNode = nodes[0]!.efa
  const product = shared(nodes, (node) => node.product)
  const fabric = efaPerNode > 0 ? "efa" : "tcp"
  return {
    _tag: "Detected",
    template: {
      kind: "eks",
      service: "eks",
      description: fabric === "efa"
        ? `EKS ${instanceType} over EFA (${efaPerNode} adapters per node)`
        : `EKS ${instanceType} over TCP (no ${EFA_RESOURCE} on the nodes; message sizes capped at 4 GiB)`,
      product,
      nodeSelector: userSelector(options) ?? { [INSTANCE_TYPE_LABEL]: instanceType },
      imageKey: "runtime",
      maxBytesCap: fabric === "tcp" ? TCP_MAX_BYTES : undefined,
      instanceType,
      efaPerNode,
      fabric
    }
  }
}

const naturalOrder = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true })

const gke = (nodes: ReadonlyArray<PlatformNode>, options: DetectOptions): Detection => {
  const accelerator = shared(nodes, (node) => node.labels[GKE_ACCELERATOR_LABEL])
  if (accelerator === undefined) {
    const seen = distinct(nodes.map((node) => node.labels[GKE_ACCELERATOR_LABEL]))
    return seen.includes(undefined)
      ? misconfigured(
        `GKE GPU node(s) ${nodes.filter((node) => node.labels[GKE_ACCELERATOR_LABEL] === undefined).map((node) => node.name).join(", ")} ` +
          `have no ${GKE_ACCELERATOR_LABEL} label: the GKE template selects workers by it`
      )
      : misconfigured(
        `the GKE GPU nodes have mixed ${GKE_ACCELERATOR_LABEL} labels (${perNode(nodes, (node) => node.labels[GKE_ACCELERATOR_LABEL])}): ` +
          `choose one accelerator with --node-selector ${GKE_ACCELERATOR_LABEL}=<accelerator>`
      )
  }
  if (accelerator !== GKE_H100_MEGA) {
    const why = accelerator === GKE_H100_HIGH ? " (a3-highgpu-8g uses GPUDirect-TCPX, which this check does not implement)" : ""
    return unsupported(`GKE GPU nodes with ${GKE_ACCELERATOR_LABEL}=${accelerator}${why}`)
  }
  const nics = (options.networks ?? []).filter((name) => name.includes("gpu-nic")).sort(naturalOrder)
  if (nics.length !== GKE_GPU_NIC_COUNT) {
    return misconfigured(
      `expected ${GKE_GPU_NIC_COUNT} GPU NIC networks (networking.gke.io/v1 Network named *gpu-nic*), found ${nics.length}` +
        (nics.length > GKE_GPU_NIC_COUNT
          ? ` (${nics.join(", ")}): cannot tell which ${GKE_GPU_NIC_COUNT} the GPU node pool uses`
          : " — the cluster may not have multi-NIC networking configured for GPUDirect-TCPXO")
    )
  }
  return {
    _tag: "Detected",
    template: {
      kind: "gke",
      service: "gke",
      description: `GKE ${accelerator} over GPUDirect-TCPXO (${nics.join(", ")})`,
      product: shared(nodes, (node) => node.product),
      nodeSelector: userSelector(options) ?? { [GKE_ACCELERATOR_LABEL]: accelerator },
      imageKey: "runtime-gke",
      maxBytesCap: undefined,
      accelerator,
      gpuNicNetworks: nics,
      fabric: "tcpxo"
    }
  }
}

const generic = (nodes: ReadonlyArray<PlatformNode>, options: DetectOptions): Detection => {
  const product = shared(nodes, (node) => node.product)
  const selector = userSelector(options)
  if (selector === undefined && product === undefined) {
    return unsupported(
      `the GPU nodes share no ${Dra.PRODUCT_LABEL} label (${perNode(nodes, (node) => node.product)}); give --node-selector ` +
        "to choose the GPU nodes"
    )
  }
  return {
    _tag: "Detected",
    template: {
      kind: "generic",
      service: "other",
      description: `generic template (${product ?? "GPU nodes of --node-selector"}), NCCL's own transports`,
      product,
      nodeSelector: selector ?? { [Dra.PRODUCT_LABEL]: product! },
      imageKey: "runtime",
      maxBytesCap: undefined,
      fabric: "nccl-default"
    }
  }
}

/**
 * The template for the GPU nodes the benchmark will run on (pass those nodes, all of one shape).
 *
 * Details: the service comes from the nodes' labels (`eks.amazonaws.com/*`, Karpenter's and the AWS cloud
 * provider's; `cloud.google.com/gke-*`). EKS needs H100 or H200 (product label, else a p5/p5e/p5en instance type),
 * one instance type and the same EFA count on every node (0 everywhere gives TCP). GKE needs
 * `cloud.google.com/gke-accelerator=nvidia-h100-mega-80gb` and exactly 8 `*gpu-nic*` Networks. Any other service
 * takes the generic template when the nodes share a product label or the user gave `--node-selector`, which then
 * also replaces every template's own worker selector. `options.service` forces the service (the labels are not read
 * for it).
 */
export const detect = (nodes: ReadonlyArray<PlatformNode>, options: DetectOptions = {}): Detection => {
  if (nodes.length === 0) return unsupported("no GPU node to run on")
  const service = options.service ?? serviceOf(nodes)
  if (service === undefined) {
    return misconfigured(`the GPU nodes belong to different services (${perNode(nodes, serviceOfNode)}): NCCL needs identical nodes`)
  }
  switch (service) {
    case "eks":
      return eks(nodes, options)
    case "gke":
      return gke(nodes, options)
    case "other":
      return generic(nodes, options)
  }
}
