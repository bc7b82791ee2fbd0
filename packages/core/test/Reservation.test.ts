import { startSim, type Sim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Dra from "../src/Dra.ts"
import { KubeClient } from "../src/KubeClient.ts"
import * as KubeClientLive from "../src/KubeClientLive.ts"
import { Progress } from "../src/Progress.ts"
import * as RunContext from "../src/RunContext.ts"

let sim: Sim
beforeAll(async () => {
  sim = await startSim()
})
afterAll(() => sim.stop())

const runOf = (runId: string) =>
  Layer.mergeAll(
    KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath }),
    Layer.succeed(RunContext.RunContext, RunContext.make({ runId }).forCheck("inference-perf")),
    Progress.layerSilent
  )

const A = "20261128-100000-aaaaaaaaaaaaaaaa"
const B = "20261128-100000-bbbbbbbbbbbbbbbb"

describe("Dra.reserveNode on kube-sim", () => {
  it("names a reservation by the node's hash, within a DNS label", () => {
    expect(Dra.reservationName("gpu-1")).toMatch(/^aicr-gpu-[0-9a-f]{12}$/)
    expect(Dra.reservationName("ip-10-0-1-23.ec2.internal".repeat(10)).length).toBe(21)
    expect(Dra.reservationName("gpu-1")).not.toBe(Dra.reservationName("gpu-2"))
  })

  it.live("lets one run at a time hold a node, across runs, and frees it when the holder's scope closes", () =>
    Effect.gen(function*() {
      const scopeA = yield* Scope.make()
      const servicesA = yield* Layer.buildWithScope(runOf(A), scopeA)
      expect(yield* Dra.reserveNode("gpu-1").pipe(Scope.provide(scopeA), Effect.provideContext(servicesA))).toBe(true)
      const held = sim.cluster.store.list("/namespaces")!.find((object) => object.metadata.name === Dra.reservationName("gpu-1"))!
      expect(held.metadata.labels).toMatchObject({
        "aicr.nvidia.com/run-id": A,
        "app.kubernetes.io/managed-by": "aicr",
        "aicr.nvidia.com/validator": "inference-perf",
        [Dra.RESERVATION_LABEL]: Dra.reservationName("gpu-1").slice("aicr-gpu-".length)
      })
      expect(held.metadata.annotations).toEqual({ [Dra.RESERVED_NODE_ANNOTATION]: "gpu-1" })

      expect(yield* Effect.scoped(Dra.reserveNode("gpu-1")).pipe(Effect.provide(runOf(B)))).toBe(false)
      expect(yield* Effect.scoped(Dra.reserveNode("gpu-2")).pipe(Effect.provide(runOf(B)))).toBe(true)

      yield* Scope.close(scopeA, Exit.void)
      yield* Effect.scoped(Effect.gen(function*() {
        const kube = yield* KubeClient
        yield* kube.waitFor({ apiVersion: "v1", kind: "Namespace", name: Dra.reservationName("gpu-1") }, (object) => object === undefined, { timeout: "10 seconds" })
      })).pipe(Effect.provide(runOf(B)))
      expect(yield* Effect.scoped(Dra.reserveNode("gpu-1")).pipe(Effect.provide(runOf(B)))).toBe(true)
    }))

  it.live("deletes the reservation with the holder's scope and leaves waiting until it is gone to after the verdict", () =>
    Effect.gen(function*() {
      const pending: Array<Effect.Effect<void>> = []
      const deferring = Layer.mergeAll(
        KubeClientLive.layerFromKubeconfig({ kubeconfig: sim.kubeconfigPath }),
        Layer.succeed(RunContext.RunContext, RunContext.make({ runId: A }).forCheck("inference-perf", (work) => Effect.sync(() => void pending.push(work)))),
        Progress.layerSilent
      )
      const name = Dra.reservationName("gpu-3")
      yield* Effect.gen(function*() {
        expect(yield* Effect.scoped(Dra.reserveNode("gpu-3"))).toBe(true)
        expect(sim.audit.filter({ verb: "delete", resource: "namespaces", name }).map((record) => record.code)).toEqual([200])
        expect(pending).toHaveLength(1)
        yield* Effect.all(pending)
        expect(sim.cluster.store.get("/namespaces", "", name)).toBeUndefined()
      }).pipe(Effect.provide(deferring))

      expect(yield* Effect.scoped(Dra.reserveNode("gpu-3")).pipe(Effect.provide(runOf(B)))).toBe(true)
      expect(sim.cluster.store.get("/namespaces", "", name)).toBeUndefined()
    }))
})
