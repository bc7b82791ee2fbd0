/** What the emulators read about pods and nodes, and the simulated waits they make. */
import type { KubeObject } from "../types.ts"
import type { NodeShape, World } from "../world.ts"

type Json = Record<string, unknown>

const record = (value: unknown): Json | undefined => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)
const array = (value: unknown): Array<unknown> => (Array.isArray(value) ? value : [])
const text = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

export const labelsOf = (object: KubeObject | undefined): Record<string, string> => object?.metadata.labels ?? {}

export const specOf = (object: KubeObject | undefined): Json => record(object?.["spec"]) ?? {}
export const statusOf = (object: KubeObject | undefined): Json => record(object?.["status"]) ?? {}

/** The pod is not being deleted and its `Ready` condition is `True`. */
export const isReady = (pod: KubeObject): boolean =>
  pod.metadata.deletionTimestamp === undefined &&
  array(statusOf(pod)["conditions"]).some((condition) => record(condition)?.["type"] === "Ready" && record(condition)?.["status"] === "True")

/** The pod is not being deleted and its phase is `Running`. */
export const isRunning = (pod: KubeObject): boolean => pod.metadata.deletionTimestamp === undefined && statusOf(pod)["phase"] === "Running"

export const podsIn = (world: World, namespace: string): Array<KubeObject> => world.cluster.store.list("/pods", namespace) ?? []

/** Every container of a pod spec (init containers first), as stored. */
export const containersOf = (pod: KubeObject): Array<Json> =>
  [...array(specOf(pod)["initContainers"]), ...array(specOf(pod)["containers"])].flatMap((container) => {
    const found = record(container)
    return found === undefined ? [] : [found]
  })

/** The largest request or limit of `resource` over the pod's containers (`0` when none asks for it). */
export const resourceAmount = (pod: KubeObject, resource: string): number => {
  let amount = 0
  for (const container of containersOf(pod)) {
    const resources = record(container["resources"])
    for (const side of ["limits", "requests"]) {
      const value = record(resources?.[side])?.[resource]
      const parsed = typeof value === "number" ? value : Number.parseInt(text(value) ?? "", 10)
      if (Number.isFinite(parsed)) amount = Math.max(amount, parsed)
    }
  }
  return amount
}

/** The GPU shape of the profile's first GPU pool. */
export const gpuShape = (world: World): NodeShape | undefined => {
  for (const pool of world.profile.pools) {
    const shape = world.profile.shapes[pool.shape]
    if (shape?.gpu !== undefined) return shape
  }
  return Object.values(world.profile.shapes).find((shape) => shape.gpu !== undefined)
}

export const nodeNamed = (world: World, name: string | undefined): KubeObject | undefined => (name === undefined ? undefined : world.cluster.store.get("/nodes", "", name))

const fieldValue = (pod: KubeObject, path: string): string | undefined => {
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path)
  if (keyed !== null) return (keyed[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations)?.[keyed[2]!]
  switch (path) {
    case "metadata.name":
      return pod.metadata.name
    case "metadata.namespace":
      return pod.metadata.namespace
    case "metadata.uid":
      return pod.metadata.uid
    case "spec.nodeName":
      return text(specOf(pod)["nodeName"])
    case "spec.serviceAccountName":
      return text(specOf(pod)["serviceAccountName"]) ?? "default"
    case "status.hostIP":
      return text(statusOf(pod)["hostIP"])
    case "status.podIP":
      return text(statusOf(pod)["podIP"])
    default:
      return undefined
  }
}

const keyOf = (world: World, namespace: string, kind: "configmaps" | "secrets", name: string | undefined, key: string | undefined): string | undefined => {
  if (name === undefined) return undefined
  const object = world.cluster.store.get(`/${kind}`, namespace, name)
  if (object === undefined || key === undefined) return undefined
  if (kind === "configmaps") return text(record(object["data"])?.[key])
  const encoded = text(record(object["data"])?.[key])
  return encoded === undefined ? text(record(object["stringData"])?.[key]) : Buffer.from(encoded, "base64").toString("utf8")
}

const allKeys = (world: World, namespace: string, kind: "configmaps" | "secrets", name: string | undefined): Array<[string, string]> => {
  if (name === undefined) return []
  const object = world.cluster.store.get(`/${kind}`, namespace, name)
  const data = record(object?.["data"]) ?? {}
  return Object.keys(data).flatMap((key) => {
    const value = keyOf(world, namespace, kind, name, key)
    return value === undefined ? [] : [[key, value] as [string, string]]
  })
}

/**
 * The environment the kubelet gives a container: `envFrom` (ConfigMaps and Secrets, with prefixes), then `env`
 * with `value` (with `$(VAR)` references to earlier variables), `fieldRef`, `configMapKeyRef` and
 * `secretKeyRef`. Missing optional sources are skipped.
 */
export const containerEnv = (world: World, pod: KubeObject, containerName: string): Map<string, string> => {
  const env = new Map<string, string>()
  const namespace = pod.metadata.namespace ?? "default"
  const container = containersOf(pod).find((candidate) => candidate["name"] === containerName)
  for (const source of array(container?.["envFrom"])) {
    const from = record(source) ?? {}
    const prefix = text(from["prefix"]) ?? ""
    const configMap = text(record(from["configMapRef"])?.["name"])
    const secret = text(record(from["secretRef"])?.["name"])
    for (const [key, value] of [...allKeys(world, namespace, "configmaps", configMap), ...allKeys(world, namespace, "secrets", secret)]) env.set(prefix + key, value)
  }
  for (const entry of array(container?.["env"])) {
    const variable = record(entry) ?? {}
    const name = text(variable["name"])
    if (name === undefined) continue
    const plain = text(variable["value"])
    const from = record(variable["valueFrom"])
    let value: string | undefined
    if (plain !== undefined) {
      value = plain.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, ref: string | undefined) => (match === "$$" ? "$" : (env.get(ref!) ?? match)))
    } else if (from !== undefined) {
      const field = text(record(from["fieldRef"])?.["fieldPath"])
      const configMap = record(from["configMapKeyRef"])
      const secret = record(from["secretKeyRef"])
      if (field !== undefined) value = fieldValue(pod, field)
      else if (configMap !== undefined) value = keyOf(world, namespace, "configmaps", text(configMap["name"]), text(configMap["key"]))
      else if (secret !== undefined) value = keyOf(world, namespace, "secrets", text(secret["name"]), text(secret["key"]))
    } else {
      value = ""
    }
    if (value !== undefined) env.set(name, value)
  }
  return env
}

/**
 * Waits `seconds` of simulated time; resolves `true` when the time has passed and `false` as soon as `signal`
 * aborts.
 */
export const simulatedSleep = (world: World, seconds: number, signal: AbortSignal): Promise<boolean> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve(false)
    const onAbort = () => {
      cancel()
      resolve(false)
    }
    const cancel = world.clock.after(seconds * 1000, () => {
      signal.removeEventListener("abort", onAbort)
      resolve(true)
    })
    signal.addEventListener("abort", onAbort, { once: true })
  })

/** Resolves when `signal` aborts (servers run until their pod is deleted). */
export const untilAborted = (signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve()
    signal.addEventListener("abort", () => resolve(), { once: true })
  })
