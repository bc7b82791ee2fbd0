/**
 * One run's identity, passed to every check: run ID, the labels every object of the run carries, the namespace,
 * the scheduling constraints given on the command line, and where the run's objects are recorded.
 *
 * Details: the run ID is `YYYYMMDD-HHMMSS-<16 hex>` (upstream's format). Its `hash` is upstream's derivation — the
 * first 4 bytes of SHA-256 of the run ID, as 8 hex digits — and only suffixes names: `name("aiperf")` gives
 * `aicr-aiperf-<hash>`, a DNS-1123 label within 63 characters or within a shorter budget when an operator derives
 * longer names from it. The runner gives each check its own context (`forCheck`), whose labels add
 * `aicr.nvidia.com/validator`. `recorder` is the run ledger as `Acquire.acquire` sees it.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createHash } from "node:crypto"
import type { KubeObject, ObjectRef } from "./KubeClient.ts"

export const LABEL_RUN_ID = "aicr.nvidia.com/run-id"
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
export const LABEL_VALIDATOR = "aicr.nvidia.com/validator"

/** The environment variable that carries the run ID into a check running elsewhere (an in-cluster Job). */
export const ENV_RUN_ID = "AICR_RUN_ID"

export interface Toleration {
  readonly key?: string | undefined
  readonly operator: "Exists" | "Equal"
  readonly value?: string | undefined
  readonly effect?: "NoSchedule" | "PreferNoSchedule" | "NoExecute" | undefined
}

/** A run ledger record could not be written; the object it concerned was not created. */
export interface RecordError {
  readonly _tag: string
  readonly message: string
}

/** Where a run's objects are recorded: before each is created, after it is created, after it is gone. */
export interface Recorder {
  readonly intent: (object: KubeObject) => Effect.Effect<void, RecordError>
  readonly created: (object: KubeObject) => Effect.Effect<void, RecordError>
  readonly deleted: (ref: ObjectRef) => Effect.Effect<void, RecordError>
  readonly releaseFailed: (ref: ObjectRef, error: string) => Effect.Effect<void, RecordError>
}

/** Records nothing (tests and dry runs). */
export const recordNothing: Recorder = {
  intent: () => Effect.void,
  created: () => Effect.void,
  deleted: () => Effect.void,
  releaseFailed: () => Effect.void
}

export interface Shape {
  readonly runId: string
  /** 8 hex digits: the first 4 bytes of SHA-256 of the run ID. */
  readonly hash: string
  readonly namespace: string
  /** The check this context belongs to (`forCheck`), if any. */
  readonly validator: string | undefined
  /** `aicr.nvidia.com/run-id`, `app.kubernetes.io/managed-by=aicr`, and `aicr.nvidia.com/validator` for a check. */
  readonly labels: Readonly<Record<string, string>>
  readonly nodeSelector: Readonly<Record<string, string>>
  /** The tolerations for the checks' workloads: `--toleration`s, else tolerate everything. */
  readonly tolerations: ReadonlyArray<Toleration>
  /** The `--toleration`s when any were given; `undefined` lets a check mirror its GPU node's taints instead. */
  readonly userTolerations: ReadonlyArray<Toleration> | undefined
  /** A DNS-1123 object name `aicr-<base>-<hash>` of at most `maxLength` characters (default 63). */
  readonly name: (base: string, maxLength?: number) => string
  readonly recorder: Recorder
  /** Names of Secrets in `namespace` (`--image-pull-secret`) a check copies into the namespaces it creates. */
  readonly imagePullSecrets: ReadonlyArray<string>
  /** `--keep`: objects are created and recorded but not deleted when the check ends (for debugging). */
  readonly keep: boolean
  /**
   * Registers work to finish after the check's verdict is reported and before it gives up its exclusive resources
   * (waiting until its deleted objects are gone). Without a runner that collects it, the work runs at once.
   */
  readonly afterVerdict: (work: Effect.Effect<void>) => Effect.Effect<void>
  /** The same run seen by one check: its labels carry the check's name; `afterVerdict` goes to `drain`. */
  readonly forCheck: (validator: string, drain?: (work: Effect.Effect<void>) => Effect.Effect<void>) => Shape
}

export class RunContext extends Context.Service<RunContext, Shape>()("@aicr/core/RunContext") {
  /** A fixed run for tests: run ID `20260101-000000-0123456789abcdef`, namespace `aicr-validation`, no ledger. */
  static readonly layerTest = (overrides: Partial<MakeOptions> = {}) =>
    Layer.succeed(RunContext, make({ runId: "20260101-000000-0123456789abcdef", ...overrides }))
}

export interface MakeOptions {
  readonly runId: string
  readonly namespace?: string | undefined
  readonly validator?: string | undefined
  readonly nodeSelector?: Readonly<Record<string, string>> | undefined
  readonly tolerations?: ReadonlyArray<Toleration> | undefined
  readonly recorder?: Recorder | undefined
  readonly afterVerdict?: ((work: Effect.Effect<void>) => Effect.Effect<void>) | undefined
  readonly imagePullSecrets?: ReadonlyArray<string> | undefined
  readonly keep?: boolean | undefined
}

const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{16}$/

/** Whether `value` is a run ID of the form `YYYYMMDD-HHMMSS-<16 hex>`. */
export const isRunId = (value: string): boolean => RUN_ID.test(value)

/** Upstream's name suffix of a run: the first 4 bytes of SHA-256 of the run ID, as lower-case hex. */
export const hashOf = (runId: string): string => createHash("sha256").update(runId, "utf8").digest("hex").slice(0, 8)

/** Builds a run context from a run ID (`YYYYMMDD-HHMMSS-<16 hex>`). */
export const make = (options: MakeOptions): Shape => {
  if (!isRunId(options.runId)) throw new Error(`invalid run ID "${options.runId}": expected YYYYMMDD-HHMMSS-<16 hex>`)
  const hash = hashOf(options.runId)
  return {
    runId: options.runId,
    hash,
    namespace: options.namespace ?? "aicr-validation",
    validator: options.validator,
    labels: {
      [LABEL_RUN_ID]: options.runId,
      [LABEL_MANAGED_BY]: "aicr",
      ...(options.validator === undefined ? {} : { [LABEL_VALIDATOR]: options.validator })
    },
    nodeSelector: options.nodeSelector ?? {},
    tolerations: options.tolerations ?? [{ operator: "Exists" }],
    userTolerations: options.tolerations,
    name: (base, maxLength) => dnsName(base, hash, maxLength),
    recorder: options.recorder ?? recordNothing,
    afterVerdict: options.afterVerdict ?? ((work) => work),
    imagePullSecrets: options.imagePullSecrets ?? [],
    keep: options.keep ?? false,
    forCheck: (validator, drain) => make({ ...options, validator, afterVerdict: drain ?? options.afterVerdict })
  }
}

/** Generates a run ID from a time (ms since epoch) and 8 random bytes given as 16 hex digits. */
export const generateRunId = (epochMs: number, randomHex: string): string => {
  const iso = new Date(epochMs).toISOString()
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}-${randomHex}`
}

/**
 * `aicr-<base>-<hash>` as a DNS-1123 label of at most `maxLength` characters (default and upper bound 63):
 * lower-cased, invalid characters → `-`, the base cut to fit.
 */
export const dnsName = (base: string, hash: string, maxLength = 63): string => {
  const limit = Math.min(63, maxLength)
  const cleaned = base.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
  const room = limit - "aicr-".length - 1 - hash.length
  const cut = room <= 0 ? "" : cleaned.slice(0, room).replace(/-+$/, "")
  const name = cut === "" ? `aicr-${hash}` : `aicr-${cut}-${hash}`
  if (name.length > limit) throw new Error(`no name fits in ${limit} characters: aicr-<hash> alone needs ${name.length}`)
  return name
}
