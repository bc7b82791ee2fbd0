import type { KubeObject } from "../KubeClient.ts"

type Json = Readonly<Record<string, unknown>>

const isRecord = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/** The record at `path` inside `value`, or an empty record when any step is missing or not a record. */
export const recordAt = (value: unknown, ...path: ReadonlyArray<string>): Json => {
  let current: unknown = value
  for (const key of path) current = isRecord(current) ? current[key] : undefined
  return isRecord(current) ? current : {}
}

/** The array at `key` of a record, keeping only record entries. */
export const recordsAt = (value: Json, key: string): ReadonlyArray<Json> => {
  const found = value[key]
  return Array.isArray(found) ? found.filter(isRecord) : []
}

/** The string at `key`, or undefined. */
export const stringAt = (value: Json, key: string): string | undefined => {
  const found = value[key]
  return typeof found === "string" ? found : undefined
}

const QUANTITY = /^(\d+)(k|M|G|T|Ki|Mi|Gi|Ti)?$/
const FACTOR: Readonly<Record<string, number>> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }

/**
 * A whole-number quantity of an extended resource (`"8"`, `8`, `"1k"`); undefined when absent or not a whole
 * number (extended resources cannot be fractional).
 */
export const countOf = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== "string") return undefined
  const match = QUANTITY.exec(value.trim())
  return match === null ? undefined : Number(match[1]) * (FACTOR[match[2] ?? ""] ?? Number.NaN)
}

/** The labels of an object (string values only). */
export const labelsOf = (object: KubeObject): Readonly<Record<string, string>> => object.metadata.labels ?? {}

/**
 * The `resource` count a pod holds while it runs: the larger of (its containers plus its sidecar init containers)
 * and the peak of its regular init containers (each with the sidecars started before it), plus pod overhead; a
 * container's request defaults to its limit, as the API server defaults it.
 */
export const podRequest = (pod: KubeObject, resource: string): number => {
  const spec = recordAt(pod, "spec")
  const of = (container: Json): number => {
    const resources = recordAt(container, "resources")
    return countOf(recordAt(resources, "requests")[resource]) ?? countOf(recordAt(resources, "limits")[resource]) ?? 0
  }
  let sidecars = 0
  let initPeak = 0
  for (const init of recordsAt(spec, "initContainers")) {
    if (stringAt(init, "restartPolicy") === "Always") sidecars += of(init)
    else initPeak = Math.max(initPeak, sidecars + of(init))
  }
  const regular = recordsAt(spec, "containers").reduce((sum, container) => sum + of(container), 0)
  return Math.max(regular + sidecars, initPeak) + (countOf(recordAt(spec, "overhead")[resource]) ?? 0)
}
