// What the end-to-end tests ask of a simulated cluster after a run: what of the run is still there.
import type { Sim } from "@aicr/kube-sim"
import { expect } from "vitest"

const RUN_LABEL = "aicr.nvidia.com/run-id"
const RESERVATION_LABEL = "aicr.nvidia.com/gpu-reservation"

/** Every object of the sim carrying the run's label, as `Kind ns/name`. */
export const labelled = (sim: Sim, runId: string): ReadonlyArray<string> =>
  sim.cluster.store.keys().flatMap((key) =>
    (sim.cluster.store.list(key) ?? [])
      .filter((object) => object.metadata.labels?.[RUN_LABEL] === runId)
      .map((object) => `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`)
  )

/** GPU-node reservations (`aicr-gpu-<12 hex>` Namespaces) on the sim, whoever made them. */
export const reservations = (sim: Sim): ReadonlyArray<string> =>
  (sim.cluster.store.list("/namespaces") ?? []).filter((namespace) => namespace.metadata.labels?.[RESERVATION_LABEL] !== undefined).map((namespace) => namespace.metadata.name!)

/** Nothing of the run is on the sim: no labelled object, no GPU-node reservation. */
export const expectNoRunObjects = (sim: Sim, runId: string) => {
  expect(labelled(sim, runId)).toEqual([])
  expect(reservations(sim)).toEqual([])
}
