// An out-of-tree plugin: every node that advertises nvidia.com/gpu must carry the GPU feature-discovery label
// nvidia.com/gpu.present=true. It is listed in ../aicr.config.mjs and declared in ../recipes/with-plugin.yaml.
import { defineValidator, failed, passed } from "@aicr/core/Validator"
import { KubeClient } from "@aicr/core/KubeClient"
import * as Effect from "effect/Effect"
import * as z from "zod"

export default defineValidator({
  name: "gpu-nodes-labelled",
  phase: "deployment",
  description: "Every node with allocatable nvidia.com/gpu carries nvidia.com/gpu.present=true",
  constraints: z.object({}),
  permissions: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }],
  timeoutMs: 60_000,
  run: () =>
    Effect.gen(function*() {
      const kube = yield* KubeClient
      const nodes = yield* kube.list({ apiVersion: "v1", kind: "Node" })
      const gpuNodes = nodes.filter((node) => Number(node.status?.allocatable?.["nvidia.com/gpu"] ?? 0) > 0)
      const unlabelled = gpuNodes.filter((node) => node.metadata.labels?.["nvidia.com/gpu.present"] !== "true")
      const metrics = [{ name: "gpu-nodes", value: gpuNodes.length, unit: "nodes" }]
      return unlabelled.length === 0
        ? passed(`${gpuNodes.length} GPU nodes, all labelled`, { metrics })
        : failed(`not labelled nvidia.com/gpu.present=true: ${unlabelled.map((node) => node.metadata.name).join(", ")}`, { metrics })
    })
})
