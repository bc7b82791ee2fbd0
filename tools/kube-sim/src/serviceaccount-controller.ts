/**
 * kube-controller-manager's ServiceAccount controller: every active namespace has a `default` ServiceAccount,
 * created when the namespace appears and again if it is deleted.
 */
import { ReconcileQueue } from "./simulation.ts"
import type { Controller, World } from "./world.ts"

export class ServiceAccountController implements Controller {
  readonly name = "serviceaccount-controller"
  private queue: ReconcileQueue | undefined
  private unsubscribe: (() => void) | undefined

  start(world: World): void {
    const queue = new ReconcileQueue(this.name, world, (namespace) => this.sync(world, namespace))
    this.queue = queue
    this.unsubscribe = world.cluster.store.subscribe((change) => {
      if (change.key === "/namespaces" && change.type !== "DELETED") queue.add(change.name)
      if (change.key === "/serviceaccounts" && change.type === "DELETED" && change.name === "default") queue.add(change.namespace)
    })
    for (const namespace of world.cluster.store.list("/namespaces") ?? []) queue.add(namespace.metadata.name!)
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.queue?.stop()
    this.queue = undefined
  }

  private sync(world: World, namespace: string): void {
    const ns = world.cluster.store.get("/namespaces", "", namespace)
    if (ns === undefined || ns.metadata.deletionTimestamp !== undefined) return
    if (world.cluster.store.get("/serviceaccounts", namespace, "default") !== undefined) return
    world.cluster.create(world.cluster.registry.find("", "v1", "serviceaccounts")!, namespace, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace } })
  }
}
