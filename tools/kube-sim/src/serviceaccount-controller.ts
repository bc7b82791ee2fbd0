/**
 * kube-controller-manager's ServiceAccount controller: every active namespace has a `default` ServiceAccount,
 * created when the namespace appears and again if it is deleted.
 */
import { StatusError } from "./errors.ts"
import type { Controller, World } from "./world.ts"

export class ServiceAccountController implements Controller {
  readonly name = "serviceaccount-controller"
  private world: World | undefined
  private unsubscribe: (() => void) | undefined
  private pending = new Set<string>()
  private scheduled = false

  start(world: World): void {
    this.world = world
    for (const namespace of world.cluster.store.list("/namespaces") ?? []) this.pending.add(namespace.metadata.name!)
    this.unsubscribe = world.cluster.store.subscribe((change) => {
      if (change.key === "/namespaces" && change.type !== "DELETED") this.enqueue(change.name)
      if (change.key === "/serviceaccounts" && change.type === "DELETED" && change.name === "default") this.enqueue(change.namespace)
    })
    this.schedule()
  }

  stop(): void {
    this.unsubscribe?.()
    this.unsubscribe = undefined
    this.world = undefined
  }

  private enqueue(namespace: string): void {
    this.pending.add(namespace)
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.sync()
    })
  }

  private sync(): void {
    const world = this.world
    if (world === undefined) return
    if (world.faults.paused.has(this.name)) return
    const accounts = world.cluster.registry.find("", "v1", "serviceaccounts")!
    for (const namespace of [...this.pending]) {
      this.pending.delete(namespace)
      const ns = world.cluster.store.get("/namespaces", "", namespace)
      if (ns === undefined || ns.metadata.deletionTimestamp !== undefined) continue
      if (world.cluster.store.get("/serviceaccounts", namespace, "default") !== undefined) continue
      try {
        world.cluster.create(accounts, namespace, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace } })
      } catch (error) {
        if (!(error instanceof StatusError)) throw error
      }
    }
  }
}
