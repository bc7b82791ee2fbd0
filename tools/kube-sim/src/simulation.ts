/**
 * Builds the `World` the controllers share and runs them: one seeded random stream per purpose, the scaled clock,
 * controller faults, and Events written as the named component.
 */
import type { Cluster } from "./cluster.ts"
import { StatusError } from "./errors.ts"
import type { Logs } from "./logs.ts"
import type { ProxyHandler } from "./server.ts"
import type { KubeObject } from "./types.ts"
import { type Controller, type ControllerFaults, type Profile, Random, scaledClock, type World } from "./world.ts"

export interface WorldOptions {
  readonly cluster: Cluster
  readonly profile: Profile
  readonly logs: Logs
  readonly registerProxy: (namespace: string, service: string, port: string | number | undefined, handler: ProxyHandler) => () => void
}

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, "Z")

export const emptyFaults = (): ControllerFaults => ({
  paused: new Set(),
  delayMs: new Map(),
  stuckFinalizers: new Map(),
  neverReady: new Set(),
  neverWarm: new Set(),
  oomKilled: new Set()
})

export const createWorld = (options: WorldOptions): World => {
  const root = new Random(options.profile.seed)
  const streams = new Map<string, Random>()
  const eventRandom = root.fork("events")
  const eventType = options.cluster.registry.find("", "v1", "events")!
  return {
    cluster: options.cluster,
    profile: options.profile,
    clock: scaledClock(options.profile.timeScale),
    logs: options.logs,
    faults: emptyFaults(),
    random: (label) => {
      let stream = streams.get(label)
      if (stream === undefined) {
        stream = root.fork(label)
        streams.set(label, stream)
      }
      return stream
    },
    registerProxy: options.registerProxy,
    event: (object: KubeObject, type, reason, message, component) => {
      const namespace = object.metadata.namespace ?? "default"
      const time = now()
      try {
        options.cluster.create(eventType, namespace, {
          apiVersion: "v1",
          kind: "Event",
          metadata: { name: `${object.metadata.name}.${eventRandom.suffix(16)}`, namespace },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name: object.metadata.name,
            namespace: object.metadata.namespace,
            uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion
          },
          reason,
          message,
          type,
          source: { component },
          firstTimestamp: time,
          lastTimestamp: time,
          count: 1,
          reportingComponent: component,
          reportingInstance: component
        })
      } catch {
        // The namespace may be terminating; an Event that cannot be written is dropped, as a real recorder does.
      }
    }
  }
}

/** Starts `controllers` on `world`; the returned function stops them in reverse order. */
export const runControllers = (world: World, controllers: ReadonlyArray<Controller>): (() => void) => {
  for (const controller of controllers) controller.start(world)
  return () => {
    for (const controller of [...controllers].reverse()) controller.stop()
  }
}

const PAUSE_POLL_MS = 20
const RETRY_MS = 10

/**
 * A controller's work queue: keys added from store listeners are reconciled later, in sorted batches, honouring the
 * controller's pause and delay faults; a key whose reconcile fails with a `StatusError` (a write lost to a race) is
 * retried shortly.
 */
export class ReconcileQueue {
  private readonly name: string
  private readonly world: World
  private readonly reconcile: (key: string) => void
  private readonly pending = new Set<string>()
  private timer: ReturnType<typeof setTimeout> | undefined
  private immediate: ReturnType<typeof setImmediate> | undefined
  private stopped = false

  constructor(name: string, world: World, reconcile: (key: string) => void) {
    this.name = name
    this.world = world
    this.reconcile = reconcile
  }

  add(key: string): void {
    if (this.stopped) return
    this.pending.add(key)
    this.schedule(0)
  }

  /** Drops the queued keys and cancels the pending pass; the queue takes no more keys. */
  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.timer = undefined
    this.immediate = undefined
    this.pending.clear()
  }

  private schedule(extraMs: number): void {
    if (this.stopped || this.timer !== undefined || this.immediate !== undefined) return
    const delay = (this.world.faults.delayMs.get(this.name) ?? 0) + extraMs
    if (delay > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.drain()
      }, delay)
    } else {
      this.immediate = setImmediate(() => {
        this.immediate = undefined
        this.drain()
      })
    }
  }

  private drain(): void {
    if (this.stopped) return
    if (this.world.faults.paused.has(this.name)) {
      this.schedule(PAUSE_POLL_MS)
      return
    }
    const batch = [...this.pending].sort()
    this.pending.clear()
    let retry = false
    for (const key of batch) {
      try {
        this.reconcile(key)
      } catch (error) {
        if (!(error instanceof StatusError)) throw error
        this.pending.add(key)
        retry = true
      }
    }
    if (this.pending.size > 0) this.schedule(retry ? RETRY_MS : 0)
  }
}

/**
 * A controller's whole-cluster pass, run once (on the next turn, or after the controller's delay fault) however many
 * changes ask for it; while the controller is paused the pass waits.
 */
export class DebouncedPass {
  private readonly name: string
  private readonly world: World
  private readonly pass: () => void
  private scheduled = false
  private stopped = false
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(name: string, world: World, pass: () => void) {
    this.name = name
    this.world = world
    this.pass = pass
  }

  request(): void {
    if (this.scheduled || this.stopped) return
    this.scheduled = true
    const delay = this.world.faults.delayMs.get(this.name) ?? 0
    if (delay > 0) this.timer = setTimeout(() => this.run(), delay)
    else setImmediate(() => this.run())
  }

  stop(): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
  }

  private run(): void {
    if (this.stopped) return
    if (this.world.faults.paused.has(this.name)) {
      this.timer = setTimeout(() => this.run(), PAUSE_POLL_MS)
      return
    }
    this.scheduled = false
    this.pass()
  }
}
