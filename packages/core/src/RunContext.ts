/**
 * One run's identity, passed to every check: run ID, the labels every object of the run carries, the namespace
 * and the scheduling constraints given on the command line.
 *
 * Details: the run ID is `YYYYMMDD-HHMMSS-<16 hex>`; its first 8 hex digits (`hash`) suffix object names, so
 * `name("aiperf")` gives `aicr-aiperf-1a2b3c4d`, always a DNS-1123 label of at most 63 characters.
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

export const LABEL_RUN_ID = "aicr.nvidia.com/run-id"
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"

export interface Toleration {
  readonly key?: string | undefined
  readonly operator: "Exists" | "Equal"
  readonly value?: string | undefined
  readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute" | undefined
}

export interface Shape {
  readonly runId: string
  readonly hash: string
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
  readonly nodeSelector: Readonly<Record<string, string>>
  readonly tolerations: ReadonlyArray<Toleration>
  /** A DNS-1123 object name `aicr-<base>-<hash>`, trimmed to 63 characters. */
  readonly name: (base: string) => string
}

export class RunContext extends Context.Service<RunContext, Shape>()("@aicr/core/RunContext") {
  /** A fixed run for tests: run ID `20260101-000000-0123456789abcdef`, namespace `aicr-validation`. */
  static readonly layerTest = (overrides: Partial<MakeOptions> = {}) =>
    Layer.succeed(RunContext, make({ runId: "20260101-000000-0123456789abcdef", ...overrides }))
}

export interface MakeOptions {
  readonly runId: string
  readonly namespace?: string | undefined
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined
  readonly tolerations?: ReadonlyArray<Toleration> | undefined
}

const RUN_ID = /^\d{8}-\d{6}-([0-9a-f]{16})$/

/** Builds a run context from a run ID (`YYYYMMDD-HHMMSS-<16 hex>`). */
export const make = (options: MakeOptions): Shape => {
  const match = RUN_ID.exec(options.runId)
  if (match === null) throw new Error(`invalid run ID "${options.runId}": expected YYYYMMDD-HHMMSS-<16 hex>`)
  const hash = match[1]!.slice(0, 8)
  return {
    runId: options.runId,
    hash,
    namespace: options.namespace ?? "aicr-validation",
    labels: { [LABEL_RUN_ID]: options.runId, [LABEL_MANAGED_BY]: "aicr" },
    nodeSelector: options.nodeSelector ?? {},
    tolerations: options.tolerations ?? [{ operator: "Exists" }],
    name: (base) => dnsName(base, hash)
  }
}

/** Generates a run ID from a time (ms since epoch) and 8 random bytes given as 16 hex digits. */
export const generateRunId = (epochMs: number, randomHex: string): string => {
  const iso = new Date(epochMs).toISOString()
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}-${randomHex}`
}

/** `aicr-<base>-<hash>` as a DNS-1123 label: lower-cased, invalid characters → `-`, the base cut to fit 63. */
export const dnsName = (base: string, hash: string): string => {
  const cleaned = base.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
  const room = 63 - "aicr-".length - 1 - hash.length
  const cut = cleaned.slice(0, room).replace(/-+$/, "")
  return cut === "" ? `aicr-${hash}` : `aicr-${cut}-${hash}`
}
