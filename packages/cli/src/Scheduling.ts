import type { Problem } from "@aicr/core/Problem"
import type { Toleration } from "@aicr/core/RunContext"

const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/
const EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const

/** Parses `--node-selector key=value` flags into a selector, with a problem per malformed flag. */
export const parseNodeSelectors = (values: ReadonlyArray<string>) => {
  const selector: Record<string, string> = {}
  const problems: Array<Problem> = []
  for (const raw of values) {
    const at = raw.indexOf("=")
    const key = at < 0 ? raw : raw.slice(0, at)
    const value = at < 0 ? undefined : raw.slice(at + 1)
    if (value === undefined || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
      problems.push({ source: "--node-selector", message: `"${raw}" is not key=value with a valid label key and value (e.g. nodeGroup=gpu)` })
    } else selector[key] = value
  }
  return { selector, problems }
}

/**
 * Parses `--toleration` flags: `key=value:Effect`, `key:Effect`, `key=value`, `key`, or `:Effect` /
 * `*` (tolerate everything with that effect / everything). None given → tolerate everything, as upstream.
 */
export const parseTolerations = (values: ReadonlyArray<string>) => {
  const tolerations: Array<Toleration> = []
  const problems: Array<Problem> = []
  for (const raw of values) {
    if (raw === "*") {
      tolerations.push({ operator: "Exists" })
      continue
    }
    const colon = raw.lastIndexOf(":")
    const effectText = colon < 0 ? undefined : raw.slice(colon + 1)
    const head = colon < 0 ? raw : raw.slice(0, colon)
    const eq = head.indexOf("=")
    const key = eq < 0 ? head : head.slice(0, eq)
    const value = eq < 0 ? undefined : head.slice(eq + 1)
    const effect = EFFECTS.find((candidate) => candidate === effectText)
    const bad = (effectText !== undefined && effect === undefined) || (key !== "" && !LABEL_KEY.test(key)) ||
      (key === "" && (value !== undefined || effect === undefined)) || (value !== undefined && !LABEL_VALUE.test(value))
    if (bad) {
      problems.push({
        source: "--toleration",
        message: `"${raw}" is not a toleration: use key=value:Effect, key:Effect, key=value, key, :Effect or * ` +
          `(Effect one of ${EFFECTS.join(", ")})`
      })
      continue
    }
    tolerations.push({
      ...(key === "" ? {} : { key }),
      operator: value === undefined ? "Exists" : "Equal",
      ...(value === undefined ? {} : { value }),
      ...(effect === undefined ? {} : { effect })
    })
  }
  return { tolerations: values.length === 0 ? undefined : tolerations, problems }
}
