import * as ConstraintSchema from "@aicr/core/ConstraintSchema"
import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as z from "zod"
import * as GoDuration from "@aicr/core/GoDuration"

export const THROUGHPUT = "inference-throughput"
export const TTFT_P99 = "inference-ttft-p99"
export const MODEL = "inference-model"
export const CONCURRENCY_PER_GPU = "inference-concurrency-per-gpu"
export const ROUTING_MODE = "inference-routing-mode"
export const MODEL_CACHE_STORAGE_CLASS = "inference-model-cache-storage-class"

/** Relative slack of both gates, as upstream: throughput passes at 90 % of its floor, TTFT at 110 % of its ceiling. */
export const TOLERANCE = 0.1

export const DEFAULT_MODEL = "Qwen/Qwen3-0.6B"
export const DEFAULT_CONCURRENCY_PER_GPU = 16

export const ROUTING_MODES = ["dynamo-router"] as const
export type RoutingMode = (typeof ROUTING_MODES)[number]

/** Dynamo's `DYN_ROUTER_MODE` values upstream accepts (`direct` excluded). */
export const ROUTER_MODES = ["kv", "round-robin", "random", "power-of-two", "least-loaded", "device-aware-weighted"] as const
export type RouterMode = (typeof ROUTER_MODES)[number]

/** `inference-throughput`: a floor in output tokens per second. */
export interface ThroughputGate {
  readonly operator: ">="
  readonly value: number
}

/** `inference-ttft-p99`: a ceiling on time to first token, 99th percentile, in milliseconds. */
export interface TtftGate {
  readonly operator: "<="
  readonly value: number
}

interface GateRule {
  readonly name: string
  readonly operator: ">=" | "<="
  readonly what: string
  readonly unit: string
  readonly units: ReadonlyArray<string>
  readonly example: number
}

const THROUGHPUT_RULE: GateRule = {
  name: THROUGHPUT,
  operator: ">=",
  what: "a minimum (higher is better)",
  unit: "tokens/s",
  units: ["tok/s", "tokens/s", "tokens/sec", "token/s"],
  example: 5000
}

const TTFT_RULE: GateRule = {
  name: TTFT_P99,
  operator: "<=",
  what: "a maximum (lower is better)",
  unit: "ms",
  units: ["ms"],
  example: 200
}

const NUMBER = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const OPERATOR_CHARS = /^[<>=!]/

type GateResult =
  | { readonly _tag: "Ok"; readonly value: number }
  | { readonly _tag: "Error"; readonly message: string }

/** The first number in the text after any operator characters, to suggest a corrected gate. */
const suggestedNumber = (text: string, fallback: number): string => {
  const first = text.replace(/^[<>=!\s]+/, "").split(/\s+/)[0] ?? ""
  return NUMBER.test(first) && Number(first) > 0 ? first : String(fallback)
}

const parseGate = (text: string, rule: GateRule): GateResult => {
  const trimmed = text.trim()
  const fix = `${rule.operator} ${suggestedNumber(trimmed, rule.example)}`
  const error = (message: string): GateResult => ({ _tag: "Error", message })
  if (trimmed === "") return error(`constraint "${rule.name}" is empty: write "${fix}" (${rule.unit})`)
  if (!trimmed.startsWith(rule.operator)) {
    const why = trimmed[0] === rule.operator[0]
      ? `inference-perf accepts only "${rule.operator}" (the 10% tolerance already relaxes the gate)`
      : OPERATOR_CHARS.test(trimmed)
      ? `it must be ${rule.what}`
      : `it needs the operator "${rule.operator}"`
    return error(`constraint "${rule.name}" is "${trimmed}" but ${why}: use "${fix}"`)
  }
  const rest = trimmed.slice(rule.operator.length).trimStart()
  if (OPERATOR_CHARS.test(rest)) {
    return error(`constraint "${rule.name}" is "${trimmed}": write "${rule.operator}" once, then the number: use "${fix}"`)
  }
  const [number = "", ...unitParts] = rest.split(/\s+/)
  if (number === "") return error(`constraint "${rule.name}" is "${trimmed}": the number is missing; use "${fix}"`)
  if (!NUMBER.test(number)) {
    return error(`constraint "${rule.name}" is "${trimmed}": "${number}" is not a plain number (${rule.unit}); use "${fix}"`)
  }
  const unit = unitParts.join(" ")
  if (unit !== "" && !rule.units.includes(unit)) {
    return error(
      `constraint "${rule.name}" is "${trimmed}": the unit "${unit}" is not ${rule.unit}; ` +
        `write the number alone (${rule.unit}) or with ${rule.units.join(", ")}`
    )
  }
  const value = Number(number)
  if (!Number.isFinite(value) || value <= 0) {
    return error(`constraint "${rule.name}" is "${trimmed}": the threshold must be a number greater than 0 (${rule.unit})`)
  }
  return { _tag: "Ok", value }
}

const gate = <G extends ThroughputGate | TtftGate>(rule: GateRule) =>
  z.string().transform((text, ctx): G => {
    const parsed = parseGate(text, rule)
    if (parsed._tag === "Error") {
      ctx.addIssue({ code: "custom", message: parsed.message })
      return z.NEVER
    }
    return { operator: rule.operator, value: parsed.value } as G
  })

const MODEL_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?$/

/** Why a model is not a Hugging Face model ID (`org/name` or `name`), or undefined when it is one. */
export const modelIdProblem = (model: string): string | undefined =>
  MODEL_ID.test(model) && !model.includes("..") && model.length <= 200
    ? undefined
    : `must be a Hugging Face model ID such as ${DEFAULT_MODEL} (characters [A-Za-z0-9._/-], at most one "/")`

const isComparison = (text: string) => /^[<>=!]/.test(text.trim())

const model = z.string().transform((text, ctx) => {
  const trimmed = text.trim()
  const invalid = modelIdProblem(trimmed)
  const problem = isComparison(trimmed)
    ? `constraint "${MODEL}" takes a plain value, not a comparison`
    : trimmed === ""
    ? `constraint "${MODEL}" is empty: name a Hugging Face model such as ${DEFAULT_MODEL}`
    : invalid === undefined
    ? undefined
    : `constraint "${MODEL}" is "${trimmed}": ${invalid}`
  if (problem !== undefined) {
    ctx.addIssue({ code: "custom", message: problem })
    return z.NEVER
  }
  return trimmed
})

const routingMode = z.string().transform((text, ctx): RoutingMode => {
  const trimmed = text.trim()
  if (trimmed === "dynamo-router") return trimmed
  ctx.addIssue({
    code: "custom",
    message: trimmed === "gateway-epp"
      ? `constraint "${ROUTING_MODE}" is "gateway-epp", which this version of aicr does not deploy: use dynamo-router or remove the constraint`
      : `constraint "${ROUTING_MODE}" must be dynamo-router (got "${text}")`
  })
  return z.NEVER
})

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

const storageClass = ConstraintSchema.value(MODEL_CACHE_STORAGE_CLASS).transform((text, ctx) => {
  const trimmed = text.trim()
  if (DNS_SUBDOMAIN.test(trimmed) && trimmed.length <= 253) return trimmed
  ctx.addIssue({
    code: "custom",
    message: `constraint "${MODEL_CACHE_STORAGE_CLASS}" is "${text}": a StorageClass name is lowercase letters, digits, "-" and "."`
  })
  return z.NEVER
})

/** Environment variables, as read by {@link decodeKnobs}. */
export type Env = Readonly<Record<string, string | undefined>>

/**
 * The constraint schema of inference-perf, reading knobs from `env` when it decodes: a knob that does not parse is
 * an issue without a path, so `--dry-run` fails with exit 2 naming the variable.
 */
export const makeConstraints = (env: () => Env) =>
  z.object({
    [THROUGHPUT]: gate<ThroughputGate>(THROUGHPUT_RULE).optional(),
    [TTFT_P99]: gate<TtftGate>(TTFT_RULE).optional(),
    [MODEL]: model.optional(),
    [CONCURRENCY_PER_GPU]: ConstraintSchema.positiveInteger(CONCURRENCY_PER_GPU).optional(),
    [ROUTING_MODE]: routingMode.optional(),
    [MODEL_CACHE_STORAGE_CLASS]: storageClass.optional()
  }).superRefine((_, ctx) => {
    const decoded = decodeKnobs(env())
    if (decoded._tag === "Error") {
      for (const problem of decoded.problems) ctx.addIssue({ code: "custom", message: problem.message, path: [] })
    }
  }, { when: () => true })

/** The constraint schema the plugin declares: recipe constraints, plus the knobs of this process's environment. */
export const constraints = makeConstraints(() => process.env)

/** The decoded constraints of a recipe (`run`'s `config`). */
export type Constraints = z.output<typeof constraints>

/** Parses a Go duration knob (`30m`, `1h30m`, `90s`, `250ms`) into milliseconds; undefined when it is not one. */
export const parseDuration = GoDuration.parseUnsigned

/** Renders milliseconds as the shortest whole Go duration (`300000` → `5m`, `1500` → `1500ms`). */
export const formatDuration = GoDuration.format

/** The tunables of a run: load shape, model, router, and every wait window, poll interval and request timeout. */
export interface Knobs {
  readonly model: string
  readonly routerMode: RouterMode
  readonly concurrencyPerGpu: number
  readonly warmupPerConcurrency: number
  readonly minRequests: number
  readonly requestsPerConcurrency: number
  readonly inputTokensMean: number
  readonly outputTokensMean: number
  readonly namespaceTerminationWaitMs: number
  readonly workloadReadyTimeoutMs: number
  readonly modelCachePopulateTimeoutMs: number
  readonly endpointReadyTimeoutMs: number
  readonly endpointPollIntervalMs: number
  readonly endpointProbeTimeoutMs: number
  readonly aiperfPodTimeoutMs: number
  readonly aiperfJobTimeoutMs: number
  readonly apiCallTimeoutMs: number
  readonly jobCreationTimeoutMs: number
  readonly cleanupTimeoutMs: number
}

type IntegerKey = "concurrencyPerGpu" | "warmupPerConcurrency" | "minRequests" | "requestsPerConcurrency" | "inputTokensMean" | "outputTokensMean"
type DurationKey = Exclude<keyof Knobs, IntegerKey | "model" | "routerMode">

/** One knob: its field, environment variable, kind and default (as written in the environment). */
export type KnobSpec =
  | { readonly key: "model"; readonly env: string; readonly kind: "model"; readonly default: string }
  | { readonly key: "routerMode"; readonly env: string; readonly kind: "router-mode"; readonly default: RouterMode }
  | { readonly key: IntegerKey; readonly env: string; readonly kind: "integer"; readonly default: number }
  | { readonly key: DurationKey; readonly env: string; readonly kind: "duration"; readonly default: number }

const ENV_PREFIX = "AICR_INFERENCE_PERF_"

/** Every knob, in the order problems are reported. Durations default to upstream's values, in milliseconds. */
export const KNOBS: ReadonlyArray<KnobSpec> = [
  { key: "model", env: `${ENV_PREFIX}MODEL`, kind: "model", default: DEFAULT_MODEL },
  { key: "routerMode", env: `${ENV_PREFIX}ROUTER_MODE`, kind: "router-mode", default: "least-loaded" },
  { key: "concurrencyPerGpu", env: `${ENV_PREFIX}CONCURRENCY_PER_GPU`, kind: "integer", default: DEFAULT_CONCURRENCY_PER_GPU },
  { key: "warmupPerConcurrency", env: `${ENV_PREFIX}WARMUP_PER_CONCURRENCY`, kind: "integer", default: 1 },
  { key: "minRequests", env: `${ENV_PREFIX}MIN_REQUESTS`, kind: "integer", default: 1000 },
  { key: "requestsPerConcurrency", env: `${ENV_PREFIX}REQUESTS_PER_CONCURRENCY`, kind: "integer", default: 8 },
  { key: "inputTokensMean", env: `${ENV_PREFIX}INPUT_TOKENS_MEAN`, kind: "integer", default: 128 },
  { key: "outputTokensMean", env: `${ENV_PREFIX}OUTPUT_TOKENS_MEAN`, kind: "integer", default: 128 },
  { key: "namespaceTerminationWaitMs", env: `${ENV_PREFIX}NAMESPACE_TERMINATION_WAIT`, kind: "duration", default: 5 * 60_000 },
  { key: "workloadReadyTimeoutMs", env: `${ENV_PREFIX}WORKLOAD_READY_TIMEOUT`, kind: "duration", default: 10 * 60_000 },
  { key: "modelCachePopulateTimeoutMs", env: `${ENV_PREFIX}MODEL_CACHE_POPULATE_TIMEOUT`, kind: "duration", default: 13 * 60_000 },
  { key: "endpointReadyTimeoutMs", env: `${ENV_PREFIX}HEALTH_TIMEOUT`, kind: "duration", default: 5 * 60_000 },
  { key: "endpointPollIntervalMs", env: `${ENV_PREFIX}HEALTH_POLL_INTERVAL`, kind: "duration", default: 10_000 },
  { key: "endpointProbeTimeoutMs", env: `${ENV_PREFIX}ENDPOINT_PROBE_TIMEOUT`, kind: "duration", default: 120_000 },
  { key: "aiperfPodTimeoutMs", env: `${ENV_PREFIX}AIPERF_POD_TIMEOUT`, kind: "duration", default: 5 * 60_000 },
  { key: "aiperfJobTimeoutMs", env: `${ENV_PREFIX}AIPERF_JOB_TIMEOUT`, kind: "duration", default: 15 * 60_000 },
  { key: "apiCallTimeoutMs", env: `${ENV_PREFIX}API_TIMEOUT`, kind: "duration", default: 2 * 60_000 },
  { key: "jobCreationTimeoutMs", env: `${ENV_PREFIX}JOB_CREATION_TIMEOUT`, kind: "duration", default: 30_000 },
  { key: "cleanupTimeoutMs", env: `${ENV_PREFIX}CLEANUP_TIMEOUT`, kind: "duration", default: 30_000 }
]

/** Every knob at its default. */
export const DEFAULT_KNOBS: Knobs = Object.freeze(
  Object.fromEntries(KNOBS.map((knob) => [knob.key, knob.default])) as unknown as Knobs
)

/** A knob whose environment value does not parse. */
export interface KnobProblem {
  readonly env: string
  readonly value: string
  readonly message: string
}

export type KnobsResult =
  | { readonly _tag: "Ok"; readonly knobs: Knobs }
  | { readonly _tag: "Error"; readonly problems: ReadonlyArray<KnobProblem> }

const INTEGER = /^\+?\d+$/

const decodeKnob = (knob: KnobSpec, raw: string): { readonly value: string | number } | { readonly problem: string } => {
  const text = raw.trim()
  switch (knob.kind) {
    case "model": {
      const problem = modelIdProblem(text)
      return problem === undefined ? { value: text } : { problem: `invalid inference model "${text}" (${knob.env}): ${problem}` }
    }
    case "router-mode":
      return (ROUTER_MODES as ReadonlyArray<string>).includes(text)
        ? { value: text }
        : { problem: `invalid ${knob.env} "${raw}": must be one of ${ROUTER_MODES.join(", ")}` }
    case "integer": {
      const value = INTEGER.test(text) ? Number(text) : Number.NaN
      return Number.isSafeInteger(value) && value > 0
        ? { value }
        : { problem: `invalid ${knob.env}="${raw}": must be a positive integer; unset it to use the default ${knob.default}` }
    }
    case "duration": {
      const value = parseDuration(text)
      return value !== undefined && value > 0
        ? { value }
        : {
          problem: `invalid ${knob.env}="${raw}": must be a positive Go duration (e.g. 30m, 90s, 250ms); ` +
            `unset it to use the default ${formatDuration(knob.default)}`
        }
    }
  }
}

/**
 * Reads every knob from `env` (unset or blank → default), collecting every problem. Pure: pass `process.env`,
 * a catalog entry's env as a record, or a test's `{ AICR_INFERENCE_PERF_HEALTH_TIMEOUT: "20ms" }`.
 */
export const decodeKnobs = (env: Env): KnobsResult => {
  const problems: Array<KnobProblem> = []
  const knobs: Record<string, string | number> = {}
  for (const knob of KNOBS) {
    const raw = env[knob.env]
    if (raw === undefined || raw.trim() === "") {
      knobs[knob.key] = knob.default
      continue
    }
    const decoded = decodeKnob(knob, raw)
    if ("problem" in decoded) problems.push({ env: knob.env, value: raw, message: decoded.problem })
    else knobs[knob.key] = decoded.value
  }
  return problems.length > 0 ? { _tag: "Error", problems } : { _tag: "Ok", knobs: knobs as unknown as Knobs }
}

/** A knob of the environment does not parse: the run stops before touching the cluster. */
export class KnobError extends Data.TaggedError("InferencePerfKnobError")<{
  readonly message: string
  readonly problems: ReadonlyArray<KnobProblem>
}> {}

const knobConfig = Config.all(
  Object.fromEntries(KNOBS.map((knob) => [knob.env, Config.option(Config.String(knob.env))]))
)

/** The knobs of the current `ConfigProvider` (the process environment unless a test provides another). */
export const loadKnobs: Effect.Effect<Knobs, KnobError> = Effect.gen(function*() {
  const read = yield* knobConfig.pipe(
    Effect.mapError((error) =>
      new KnobError({ message: `cannot read the inference-perf knobs: ${error.message}`, problems: [] })
    )
  )
  const env = Object.fromEntries(Object.entries(read).map(([name, value]) => [name, Option.getOrUndefined(value)]))
  const decoded = decodeKnobs(env)
  if (decoded._tag === "Ok") return decoded.knobs
  return yield* new KnobError({ message: decoded.problems.map((problem) => problem.message).join("; "), problems: decoded.problems })
})

/** What a run uses: the recipe's gates and inputs, each input from the recipe, else the knob, else its default. */
export interface Settings {
  readonly throughput: ThroughputGate | undefined
  readonly ttftP99: TtftGate | undefined
  readonly model: string
  readonly concurrencyPerGpu: number
  readonly routingMode: RoutingMode
  readonly modelCacheStorageClass: string | undefined
  readonly tolerance: number
  readonly knobs: Knobs
}

/** Combines decoded constraints with knobs: recipe constraint > environment > default. */
export const resolve = (config: Constraints, knobs: Knobs = DEFAULT_KNOBS): Settings => ({
  throughput: config[THROUGHPUT],
  ttftP99: config[TTFT_P99],
  model: config[MODEL] ?? knobs.model,
  concurrencyPerGpu: config[CONCURRENCY_PER_GPU] ?? knobs.concurrencyPerGpu,
  routingMode: config[ROUTING_MODE] ?? "dynamo-router",
  modelCacheStorageClass: config[MODEL_CACHE_STORAGE_CLASS],
  tolerance: TOLERANCE,
  knobs
})
