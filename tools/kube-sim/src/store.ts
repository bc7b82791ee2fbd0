/**
 * The object store: current objects per resource type, one global resourceVersion counter, and a retained log
 * of changes so lists can be served at a past resourceVersion (consistent pages) and watches can resume.
 */
import type { KubeObject } from "./types.ts"

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED"

export interface Change {
  readonly rv: number
  readonly type: ChangeType
  /** The resource type's store key (`group/resource`). */
  readonly key: string
  readonly namespace: string
  readonly name: string
  /** The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion). */
  readonly object: KubeObject
  /** The object before the change (absent for ADDED). */
  readonly previous?: KubeObject | undefined
}

export interface StoreOptions {
  /** How many changes are retained for lists at a past version and watch resumption (like etcd compaction). */
  readonly historySize?: number | undefined
}

const objectKey = (namespace: string, name: string) => `${namespace}/${name}`
const clone = <A>(value: A): A => structuredClone(value)

export class Store {
  private rv = 1000
  private readonly objects = new Map<string, Map<string, KubeObject>>()
  private readonly log: Array<Change> = []
  private compactedThrough = 1000
  private readonly listeners = new Set<(change: Change) => void>()
  private readonly historySize: number

  constructor(options: StoreOptions = {}) {
    this.historySize = options.historySize ?? 200_000
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): number {
    return this.rv
  }

  /** Versions at or below this are compacted: no list or watch can start from them. */
  get compactedResourceVersion(): number {
    return this.compactedThrough
  }

  private bucket(key: string): Map<string, KubeObject> {
    let bucket = this.objects.get(key)
    if (bucket === undefined) {
      bucket = new Map()
      this.objects.set(key, bucket)
    }
    return bucket
  }

  get(key: string, namespace: string, name: string): KubeObject | undefined {
    const found = this.objects.get(key)?.get(objectKey(namespace, name))
    return found === undefined ? undefined : clone(found)
  }

  /** The number of objects of a type (optionally in one namespace). */
  count(key: string, namespace?: string): number {
    const bucket = this.objects.get(key)
    if (bucket === undefined) return 0
    if (namespace === undefined) return bucket.size
    let count = 0
    for (const object of bucket.values()) if ((object.metadata.namespace ?? "") === namespace) count++
    return count
  }

  /**
   * Objects of a type, sorted by namespace then name, as they were at resourceVersion `at` (default: now).
   * Returns undefined when `at` is compacted away.
   */
  list(key: string, namespace?: string, at?: number): Array<KubeObject> | undefined {
    const view = this.snapshot(key, namespace, at)
    return view === undefined ? undefined : view.ids.map((id) => clone(view.get(id)!))
  }

  /**
   * A read-only view of a type's objects at resourceVersion `at` (default: now): ids (`namespace/name`) in
   * order and a look-up. Nothing is copied — callers must clone what they hand out. Undefined when compacted.
   */
  snapshot(key: string, namespace?: string, at?: number): { readonly ids: ReadonlyArray<string>; readonly get: (id: string) => KubeObject | undefined } | undefined {
    if (at !== undefined && at < this.compactedThrough) return undefined
    const current = this.objects.get(key) ?? new Map<string, KubeObject>()
    let overrides: Map<string, KubeObject | null> | undefined
    if (at !== undefined && at < this.rv) {
      for (let index = this.log.length - 1; index >= 0; index--) {
        const change = this.log[index]!
        if (change.rv <= at) break
        if (change.key !== key) continue
        overrides ??= new Map()
        overrides.set(objectKey(change.namespace, change.name), change.type === "ADDED" ? null : change.previous!)
      }
    }
    const get = (id: string): KubeObject | undefined => {
      if (overrides?.has(id) === true) return overrides.get(id) ?? undefined
      return current.get(id)
    }
    let ids = this.sortedIds(key, current)
    if (overrides !== undefined) {
      const extra = [...overrides.entries()].filter(([id, object]) => object !== null && !current.has(id)).map(([id]) => id)
      ids = [...ids.filter((id) => get(id) !== undefined), ...extra].sort()
    }
    if (namespace !== undefined) {
      const prefix = `${namespace}/`
      ids = ids.filter((id) => id.startsWith(prefix))
    }
    return { ids, get }
  }

  private readonly sorted = new Map<string, ReadonlyArray<string>>()

  private sortedIds(key: string, bucket: ReadonlyMap<string, KubeObject>): ReadonlyArray<string> {
    let ids = this.sorted.get(key)
    if (ids === undefined) {
      ids = [...bucket.keys()].sort()
      this.sorted.set(key, ids)
    }
    return ids
  }

  /** Namespaces that hold at least one object of any namespaced type. */
  keys(): ReadonlyArray<string> {
    return [...this.objects.keys()]
  }

  private commit(type: ChangeType, key: string, object: KubeObject, previous: KubeObject | undefined): KubeObject {
    this.rv += 1
    const stored = clone(object)
    stored.metadata.resourceVersion = String(this.rv)
    const namespace = stored.metadata.namespace ?? ""
    const name = stored.metadata.name ?? ""
    const bucket = this.bucket(key)
    const id = objectKey(namespace, name)
    if (type === "DELETED" || !bucket.has(id)) this.sorted.delete(key)
    if (type === "DELETED") bucket.delete(id)
    else bucket.set(id, stored)
    const change: Change = { rv: this.rv, type, key, namespace, name, object: stored, previous }
    this.log.push(change)
    if (this.log.length > this.historySize) this.compactTo(this.log[this.log.length - this.historySize - 1]!.rv)
    for (const listener of this.listeners) listener(change)
    return clone(stored)
  }

  /** Stores a new object; the caller has checked that it does not exist. */
  create(key: string, object: KubeObject): KubeObject {
    return this.commit("ADDED", key, object, undefined)
  }

  /** Replaces an existing object. */
  update(key: string, object: KubeObject): KubeObject {
    const previous = this.objects.get(key)?.get(objectKey(object.metadata.namespace ?? "", object.metadata.name ?? ""))
    if (previous === undefined) throw new Error(`store: update of a missing object ${key} ${object.metadata.namespace}/${object.metadata.name}`)
    return this.commit("MODIFIED", key, object, previous)
  }

  /**
   * Removes an object for good; returns its last state with the deletion's resourceVersion. `final` is the state
   * the deletion leaves (its last finalizer gone), which the DELETED event carries; default: the stored state.
   */
  remove(key: string, namespace: string, name: string, final?: KubeObject): KubeObject | undefined {
    const previous = this.objects.get(key)?.get(objectKey(namespace, name))
    if (previous === undefined) return undefined
    return this.commit("DELETED", key, final ?? previous, previous)
  }

  /** Changes after resourceVersion `since`, or undefined when `since` is compacted away. */
  changesSince(since: number): ReadonlyArray<Change> | undefined {
    if (since < this.compactedThrough) return undefined
    let low = 0
    let high = this.log.length
    while (low < high) {
      const middle = (low + high) >> 1
      if (this.log[middle]!.rv <= since) low = middle + 1
      else high = middle
    }
    return this.log.slice(low)
  }

  /** Drops the change log up to and including `rv` (as etcd compaction does). */
  compactTo(rv: number): void {
    const through = Math.min(rv, this.rv)
    let drop = 0
    while (drop < this.log.length && this.log[drop]!.rv <= through) drop++
    this.log.splice(0, drop)
    this.compactedThrough = Math.max(this.compactedThrough, through)
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }
}
