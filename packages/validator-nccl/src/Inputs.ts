import * as Config from "effect/Config"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as z from "zod"
import * as GoDuration from "@aicr/core/GoDuration"

export const BANDWIDTH = "nccl-all-reduce-bw"
export const PROFILE = "nccl-benchmark-profile"
export const RUNTIME = "nccl-benchmark-runtime"
export const RUNTIME_REF = "nccl-benchmark-runtime-ref"

/** Relative slack of the gate, as upstream: the bandwidth passes at 90 % of its floor. */
export const TOLERANCE = 0.1

/** Fewest nodes of an inter-node (east-west) run. */
export const MIN_NODES = 2

/** `nccl-all-reduce-bw`: a floor on the out-of-place bus bandwidth at the largest message size, in GB/s. */
export interface Gate {
  readonly operator: ">="
  readonly value: number
}

const UNIT = "GB/s"
const EXAMPLE = 300

const PLAIN_NUMBER = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const LEADING_NUMBER = /^(\d+(\.\d*)?|\.\d+)/
const OPERATOR_START = /^[<>=!]/

/** A decoded input, or why it was refused. */
export type Decoded<A> = { readonly _tag: "Ok"; readonly value: A } | { readonly _tag: "Error"; readonly message: string }

const ok = <A>(value: A): Decoded<A> => ({ _tag: "Ok", value })
const problem = <A>(message: string): Decoded<A> => ({ _tag: "Error", message })

/** The gate to suggest for a refused text: its first number when it has a positive one, else 300. */
const suggestion = (text: string): string => {
  const number = LEADING_NUMBER.exec(text.replace(/^[<>=!\s]+/, ""))?.[0]
  return `>= ${number !== undefined && Number(number) > 0 ? number : EXAMPLE}`
}

/**
 * Reads an `nccl-all-reduce-bw` value: `>=`, a positive number of GB/s, optionally followed by `GB/s`. Any other
 * operator, a bare number and a doubled operator are refused with the gate to write instead (upstream read every one
 * of them as `>=`).
 */
export const parseGate = (text: string): Decoded<Gate> => {
  const trimmed = text.trim()
  const fix = suggestion(trimmed)
  const refuse = (why: string) => problem<Gate>(`constraint "${BANDWIDTH}" is "${trimmed}" but ${why}: use "${fix}"`)
  if (trimmed === "") return problem(`constraint "${BANDWIDTH}" is empty: write "${fix}" (${UNIT})`)
  if (!trimmed.startsWith(">=")) {
    if (trimmed.startsWith(">")) return refuse(`${BANDWIDTH} accepts only ">=" (the 10% tolerance already relaxes the gate)`)
    if (OPERATOR_START.test(trimmed)) {
      return refuse(`it must be a minimum (bus bandwidth: higher is better; upstream read any operator as ">=")`)
    }
    return refuse(`it needs the operator ">="`)
  }
  const rest = trimmed.slice(2).trimStart()
  if (OPERATOR_START.test(rest)) {
    return problem(`constraint "${BANDWIDTH}" is "${trimmed}": write ">=" once, then the number: use "${fix}"`)
  }
  const [number = "", ...unitWords] = rest.split(/\s+/)
  if (number === "") return problem(`constraint "${BANDWIDTH}" is "${trimmed}": the number is missing; use "${fix}"`)
  if (!PLAIN_NUMBER.test(number)) {
    return problem(`constraint "${BANDWIDTH}" is "${trimmed}": "${number}" is not a plain number (${UNIT}); use "${fix}"`)
  }
  const unit = unitWords.join(" ")
  if (unit !== "" && unit !== UNIT) {
    return problem(
      `constraint "${BANDWIDTH}" is "${trimmed}": the unit "${unit}" is not ${UNIT} (gigabytes per second); ` +
        `write the number alone or with ${UNIT}`
    )
  }
  const value = Number(number)
  if (!Number.isFinite(value) || value <= 0) {
    return problem(`constraint "${BANDWIDTH}" is "${trimmed}": the threshold must be a number greater than 0 (${UNIT})`)
  }
  return ok({ operator: ">=", value })
}

/** Services whose NCCL template a profile may borrow; `any` is the generic template (NCCL's own transports). */
export const PROFILE_SERVICES = ["eks", "gke", "any"] as const
export type ProfileService = (typeof PROFILE_SERVICES)[number]

/** Accelerator names of recipes (upstream's criteria values) that the generic template accepts. */
export const ACCELERATORS = ["a100", "b200", "gb200", "gb300", "h100", "h200", "l40", "rtx-pro-6000"] as const

/** Accelerators each service's template implements. */
export const PROFILE_ACCELERATORS: Readonly<Record<ProfileService, ReadonlyArray<string>>> = {
  eks: ["h100", "h200"],
  gke: ["h100"],
  any: ACCELERATORS
}

/** `nccl-benchmark-profile`: the embedded template to use, instead of the one the nodes' labels select. */
export interface Profile {
  readonly accelerator: string
  readonly service: ProfileService
}

const PROFILE_SHAPE = /^([a-z0-9][a-z0-9-]*)\/([a-z0-9][a-z0-9-]*)$/

/** Every accepted profile, for messages: `h100/eks, h200/eks, h100/gke, <accelerator>/any`. */
export const PROFILES_TEXT = `${PROFILE_ACCELERATORS.eks.map((acc) => `${acc}/eks`).join(", ")}, ` +
  `${PROFILE_ACCELERATORS.gke.map((acc) => `${acc}/gke`).join(", ")}, <accelerator>/any (${ACCELERATORS.join(", ")})`

/** Reads a profile `{accelerator}/{service}` (case-insensitive) and checks this version has its template. */
export const parseProfile = (text: string): Decoded<Profile> => {
  const lowered = text.trim().toLowerCase()
  const shape = PROFILE_SHAPE.exec(lowered)
  if (shape === null) return problem(`must be "{accelerator}/{service}" (e.g. "h100/eks"); one of ${PROFILES_TEXT}`)
  const [, accelerator = "", service = ""] = shape
  if (!(PROFILE_SERVICES as ReadonlyArray<string>).includes(service)) {
    return problem(`this version of aicr has no NCCL template for service "${service}"; one of ${PROFILES_TEXT}`)
  }
  const supported = PROFILE_ACCELERATORS[service as ProfileService]
  if (!supported.includes(accelerator)) {
    return problem(
      `the ${service} template does not implement accelerator "${accelerator}" (it implements ${supported.join(", ")}); ` +
        `one of ${PROFILES_TEXT}`
    )
  }
  return ok({ accelerator, service: service as ProfileService })
}

/** Renders a profile as `{accelerator}/{service}`. */
export const formatProfile = (profile: Profile): string => `${profile.accelerator}/${profile.service}`

const withIssue = <A>(decoded: Decoded<A>, ctx: z.RefinementCtx, message: (text: string) => string = (text) => text): A => {
  if (decoded._tag === "Ok") return decoded.value
  ctx.addIssue({ code: "custom", message: message(decoded.message) })
  return z.NEVER
}

const gate = z.string().transform((text, ctx) => withIssue(parseGate(text), ctx))

const profile = z.string().transform((text, ctx) =>
  withIssue(parseProfile(text), ctx, (why) => `constraint "${PROFILE}" is "${text.trim()}": ${why}`)
)

/** The recipe-supplied runtimes of upstream: refused, since this version runs only its own templates. */
const unsupportedRuntime = (name: string) =>
  z.string().transform((_text, ctx): never => {
    ctx.addIssue({
      code: "custom",
      message: `constraint "${name}" is not supported by this version of aicr, which runs only its own TrainingRuntime ` +
        `templates: remove it (to borrow another platform's template, use ${PROFILE})`
    })
    return z.NEVER
  })

/** Environment variables, as read by {@link decodeKnobs}. */
export type Env = Readonly<Record<string, string | undefined>>

/**
 * The constraint schema of nccl-all-reduce-bw, reading knobs from `env` when it decodes: a knob that does not parse
 * is an issue without a path, so `--dry-run` fails with exit 2 naming the variable.
 */
export const makeConstraints = (env: () => Env) =>
  z.object({
    [BANDWIDTH]: gate.optional(),
    [PROFILE]: profile.optional(),
    [RUNTIME]: unsupportedRuntime(RUNTIME).optional(),
    [RUNTIME_REF]: unsupportedRuntime(RUNTIME_REF).optional()
  }).superRefine((_, ctx) => {
    const decoded = decodeKnobs(env())
    if (decoded._tag === "Error") {
      for (const found of decoded.problems) ctx.addIssue({ code: "custom", message: found.message, path: [] })
    }
  }, { when: () => true })

/** The constraint schema the plugin declares: recipe constraints, plus the knobs of this process's environment. */
export const constraints = makeConstraints(() => process.env)

/** The decoded constraints of a recipe (`run`'s `config`). */
export type Constraints = z.output<typeof constraints>

// ---------------------------------------------------------------------------------------------------------------
// Durations and sizes

/** Parses a Go duration knob (`30m`, `1h30m`, `2s`, `500ms`) into milliseconds; undefined when it is not one. */
export const parseDuration = GoDuration.parseUnsigned

/** Renders milliseconds as the shortest whole Go duration (`1800000` → `30m`, `500` → `500ms`). */
export const formatDuration = GoDuration.format

const SIZE_UNITS: Readonly<Record<string, number>> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }

/** Parses an nccl-tests size: bytes, or a whole number of `K`, `M`, `G` (powers of 1024, either case). */
export const parseSize = (text: string): number | undefined => {
  const match = /^(\d+)([KMG]?)$/i.exec(text.trim())
  if (match === null) return undefined
  const bytes = Number(match[1]) * (SIZE_UNITS[(match[2] ?? "").toUpperCase()] ?? Number.NaN)
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/** Renders bytes as nccl-tests reads them: `16G`, `512M`, `1K` when whole, else the bytes. */
export const formatSize = (bytes: number): string => {
  for (const [unit, size] of [["G", 1024 ** 3], ["M", 1024 ** 2], ["K", 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

// ---------------------------------------------------------------------------------------------------------------
// Image references

const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
const HOST_LABEL = "(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
const HOST = `(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[0-9A-Fa-f:]+\\])(?::\\d+)?`
const TAG = "\\w[\\w.-]{0,127}"
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}"
const REFERENCE = new RegExp(`^((?:${HOST}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::${TAG})?(?:@${DIGEST})?$`)

/** Longest repository name (registry host and path) a registry accepts. */
const NAME_LIMIT = 255

/**
 * True for a well-formed OCI image reference: `[host[:port]/]path[:tag][@algorithm:hex]`, the path in lowercase
 * components, the name at most 255 characters.
 */
export const isImageReference = (text: string): boolean => {
  const match = REFERENCE.exec(text)
  return match !== null && (match[1]?.length ?? Infinity) <= NAME_LIMIT
}

// ---------------------------------------------------------------------------------------------------------------
// Knobs

/** The nccl-tests sweep: `-b`, `-e`, `-f`, `-n`, `-w` (sizes in bytes). */
export interface Benchmark {
  readonly minBytes: number
  readonly maxBytes: number
  readonly stepFactor: number
  readonly iterations: number
  readonly warmupIterations: number
}

/** The tunables of a run: the sweep, which nodes, the image, and every wait window, poll interval and API timeout. */
export interface Knobs {
  readonly benchmarkProfile: Profile | undefined
  readonly runtimeImage: string | undefined
  readonly minMessageBytes: number
  readonly maxMessageBytes: number
  readonly stepFactor: number
  readonly iterations: number
  readonly warmupIterations: number
  /** Worker nodes: every eligible node (`"all"`), or that many (at least {@link MIN_NODES}). */
  readonly nodeCount: number | "all"
  /** One node, its GPUs over NVLink/PCIe only: no east-west fabric is measured. */
  readonly intraNode: boolean
  readonly apiTimeoutMs: number
  readonly preflightTimeoutMs: number
  readonly runtimeVisibleTimeoutMs: number
  readonly runtimeVisiblePollIntervalMs: number
  readonly trainJobAdmissionTimeoutMs: number
  readonly trainJobAdmissionRetryIntervalMs: number
  readonly launcherPodTimeoutMs: number
  readonly trainJobTimeoutMs: number
  readonly logReadAttempts: number
  readonly logReadIntervalMs: number
  readonly namespaceTerminationWaitMs: number
  readonly cleanupTimeoutMs: number
}

type Kind = "profile" | "image" | "size" | "integer" | "node-count" | "boolean" | "duration"

/** One knob: its field, environment variable, kind, default, and the smallest value it accepts (integers). */
export interface KnobSpec {
  readonly key: keyof Knobs
  readonly env: string
  readonly kind: Kind
  readonly default: Knobs[keyof Knobs]
  readonly minimum?: number | undefined
  /** What it sets, for the README and messages. */
  readonly description: string
}

const ENV_PREFIX = "AICR_NCCL_"

/** Every knob, in the order problems are reported. Durations are in milliseconds; defaults are upstream's. */
export const KNOBS: ReadonlyArray<KnobSpec> = [
  { key: "benchmarkProfile", env: `${ENV_PREFIX}BENCHMARK_PROFILE`, kind: "profile", default: undefined, description: "template to borrow (the recipe's nccl-benchmark-profile wins)" },
  { key: "runtimeImage", env: `${ENV_PREFIX}RUNTIME_IMAGE`, kind: "image", default: undefined, description: "image of the launcher and workers instead of the catalog's" },
  { key: "minMessageBytes", env: `${ENV_PREFIX}MIN_MESSAGE_SIZE`, kind: "size", default: 1024, description: "smallest message (-b)" },
  { key: "maxMessageBytes", env: `${ENV_PREFIX}MAX_MESSAGE_SIZE`, kind: "size", default: 16 * 1024 ** 3, description: "largest message (-e), the judged size" },
  { key: "stepFactor", env: `${ENV_PREFIX}STEP_FACTOR`, kind: "integer", default: 2, minimum: 2, description: "size multiplier between rows (-f)" },
  { key: "iterations", env: `${ENV_PREFIX}ITERATIONS`, kind: "integer", default: 20, minimum: 1, description: "timed iterations per size (-n)" },
  { key: "warmupIterations", env: `${ENV_PREFIX}WARMUP_ITERATIONS`, kind: "integer", default: 5, minimum: 0, description: "warm-up iterations per size (-w)" },
  { key: "nodeCount", env: `${ENV_PREFIX}NODE_COUNT`, kind: "node-count", default: "all", description: "worker nodes: all eligible, or a number >= 2" },
  { key: "intraNode", env: `${ENV_PREFIX}INTRA_NODE`, kind: "boolean", default: false, description: "one node only (NVLink/PCIe, no fabric)" },
  { key: "apiTimeoutMs", env: `${ENV_PREFIX}API_TIMEOUT`, kind: "duration", default: 2 * 60_000, description: "one Kubernetes call" },
  { key: "preflightTimeoutMs", env: `${ENV_PREFIX}PREFLIGHT_TIMEOUT`, kind: "duration", default: 2 * 60_000, description: "a pre-flight probe pod to finish" },
  { key: "runtimeVisibleTimeoutMs", env: `${ENV_PREFIX}RUNTIME_VISIBLE_TIMEOUT`, kind: "duration", default: 2 * 60_000, description: "the TrainingRuntime to be visible" },
  { key: "runtimeVisiblePollIntervalMs", env: `${ENV_PREFIX}RUNTIME_VISIBLE_POLL_INTERVAL`, kind: "duration", default: 500, description: "between TrainingRuntime reads" },
  { key: "trainJobAdmissionTimeoutMs", env: `${ENV_PREFIX}TRAINJOB_ADMISSION_TIMEOUT`, kind: "duration", default: 60_000, description: "the Trainer webhook to admit the TrainJob" },
  { key: "trainJobAdmissionRetryIntervalMs", env: `${ENV_PREFIX}TRAINJOB_ADMISSION_RETRY_INTERVAL`, kind: "duration", default: 500, description: "between TrainJob create attempts" },
  { key: "launcherPodTimeoutMs", env: `${ENV_PREFIX}LAUNCHER_POD_TIMEOUT`, kind: "duration", default: 5 * 60_000, description: "the launcher pod to appear" },
  { key: "trainJobTimeoutMs", env: `${ENV_PREFIX}TRAINJOB_TIMEOUT`, kind: "duration", default: 30 * 60_000, description: "the launcher to succeed" },
  { key: "logReadAttempts", env: `${ENV_PREFIX}LOG_READ_ATTEMPTS`, kind: "integer", default: 5, minimum: 1, description: "launcher log reads until the table is complete" },
  { key: "logReadIntervalMs", env: `${ENV_PREFIX}LOG_READ_INTERVAL`, kind: "duration", default: 2_000, description: "between launcher log reads" },
  { key: "namespaceTerminationWaitMs", env: `${ENV_PREFIX}NAMESPACE_TERMINATION_WAIT`, kind: "duration", default: 5 * 60_000, description: "a terminating run namespace to vanish" },
  { key: "cleanupTimeoutMs", env: `${ENV_PREFIX}CLEANUP_TIMEOUT`, kind: "duration", default: 30_000, description: "each deletion when cleaning up" }
]

/** Every knob at its default. */
export const DEFAULT_KNOBS: Knobs = Object.freeze(
  Object.fromEntries(KNOBS.map((knob) => [knob.key, knob.default])) as unknown as Knobs
)

/** A knob whose environment value does not parse, or two knobs that contradict each other. */
export interface KnobProblem {
  readonly env: string
  readonly value: string
  readonly message: string
}

export type KnobsResult =
  | { readonly _tag: "Ok"; readonly knobs: Knobs }
  | { readonly _tag: "Error"; readonly problems: ReadonlyArray<KnobProblem> }

const INTEGER = /^\+?\d+$/
const TRUE = ["true", "1", "yes", "on"]
const FALSE = ["false", "0", "no", "off"]

const renderDefault = (knob: KnobSpec): string => {
  const value = knob.default
  if (knob.kind === "duration" && typeof value === "number") return formatDuration(value)
  if (knob.kind === "size" && typeof value === "number") return formatSize(value)
  return String(value)
}

const decodeKnob = (knob: KnobSpec, raw: string): Decoded<Knobs[keyof Knobs]> => {
  const text = raw.trim()
  const invalid = (why: string) => problem<Knobs[keyof Knobs]>(`invalid ${knob.env}="${raw}": ${why}`)
  const orDefault = `unset it to use the default ${renderDefault(knob)}`
  switch (knob.kind) {
    case "profile": {
      const decoded = parseProfile(text)
      return decoded._tag === "Ok" ? decoded : invalid(decoded.message)
    }
    case "image":
      return isImageReference(text)
        ? ok(text)
        : invalid(`not a well-formed image reference ([registry[:port]/]repository[:tag][@digest], lowercase repository); unset it to use the catalog's image`)
    case "size": {
      const bytes = parseSize(text)
      return bytes !== undefined && bytes > 0
        ? ok(bytes)
        : invalid(`must be a positive size in bytes or with K, M or G (powers of 1024, e.g. 1K, 512M, 16G); ${orDefault}`)
    }
    case "integer": {
      const minimum = knob.minimum ?? 1
      const value = INTEGER.test(text) ? Number(text) : Number.NaN
      return Number.isSafeInteger(value) && value >= minimum
        ? ok(value)
        : invalid(`must be a whole number >= ${minimum}; ${orDefault}`)
    }
    case "node-count": {
      if (text.toLowerCase() === "all") return ok("all")
      const value = INTEGER.test(text) ? Number(text) : Number.NaN
      if (value === 1) return invalid(`an inter-node run needs at least ${MIN_NODES} nodes; for one node set ${ENV_PREFIX}INTRA_NODE=true instead`)
      return Number.isSafeInteger(value) && value >= MIN_NODES
        ? ok(value)
        : invalid(`must be "all" or a whole number >= ${MIN_NODES}; ${orDefault}`)
    }
    case "boolean": {
      const lowered = text.toLowerCase()
      if (TRUE.includes(lowered)) return ok(true)
      if (FALSE.includes(lowered)) return ok(false)
      return invalid(`must be true or false; ${orDefault}`)
    }
    case "duration": {
      const ms = parseDuration(text)
      return ms !== undefined && ms > 0
        ? ok(ms)
        : invalid(`must be a positive Go duration (e.g. 30m, 90s, 500ms); ${orDefault}`)
    }
  }
}

const knobEnv = (key: keyof Knobs): string => KNOBS.find((knob) => knob.key === key)?.env ?? key

/** Knobs that each parse but do not fit together. */
const conflicts = (knobs: Knobs, env: Env): ReadonlyArray<KnobProblem> => {
  const found: Array<KnobProblem> = []
  if (knobs.minMessageBytes > knobs.maxMessageBytes) {
    const minEnv = knobEnv("minMessageBytes")
    found.push({
      env: minEnv,
      value: env[minEnv] ?? formatSize(knobs.minMessageBytes),
      message: `${minEnv} (${formatSize(knobs.minMessageBytes)}) is larger than ${knobEnv("maxMessageBytes")} ` +
        `(${formatSize(knobs.maxMessageBytes)}): the smallest message must not exceed the largest`
    })
  }
  if (knobs.intraNode && knobs.nodeCount !== "all") {
    const countEnv = knobEnv("nodeCount")
    found.push({
      env: countEnv,
      value: env[countEnv] ?? String(knobs.nodeCount),
      message: `${countEnv}=${knobs.nodeCount} contradicts ${knobEnv("intraNode")}=true (an intra-node run uses one node): unset one of them`
    })
  }
  return found
}

/**
 * Reads every knob from `env` (unset or blank → default), collecting every problem, then checks that they fit
 * together (smallest message ≤ largest; no node count in intra-node mode). Pure: pass `process.env`, or a test's
 * `{ AICR_NCCL_TRAINJOB_TIMEOUT: "50ms" }`.
 */
export const decodeKnobs = (env: Env): KnobsResult => {
  const problems: Array<KnobProblem> = []
  const knobs: Record<string, unknown> = {}
  for (const knob of KNOBS) {
    const raw = env[knob.env]
    if (raw === undefined || raw.trim() === "") {
      knobs[knob.key] = knob.default
      continue
    }
    const decoded = decodeKnob(knob, raw)
    if (decoded._tag === "Error") problems.push({ env: knob.env, value: raw, message: decoded.message })
    else knobs[knob.key] = decoded.value
  }
  if (problems.length > 0) return { _tag: "Error", problems }
  const decoded = knobs as unknown as Knobs
  const clashes = conflicts(decoded, env)
  return clashes.length > 0 ? { _tag: "Error", problems: clashes } : { _tag: "Ok", knobs: decoded }
}

/** A knob of the environment does not parse: the run stops before touching the cluster. */
export class KnobError extends Data.TaggedError("NcclKnobError")<{
  readonly message: string
  readonly problems: ReadonlyArray<KnobProblem>
}> {}

const knobConfig = Config.all(
  Object.fromEntries(KNOBS.map((knob) => [knob.env, Config.option(Config.String(knob.env))]))
)

/** The knobs of the current `ConfigProvider` (the process environment unless a test provides another). */
export const loadKnobs: Effect.Effect<Knobs, KnobError> = Effect.gen(function*() {
  const read = yield* knobConfig.pipe(
    Effect.mapError((error) => new KnobError({ message: `cannot read the nccl-all-reduce-bw knobs: ${error.message}`, problems: [] }))
  )
  const env = Object.fromEntries(Object.entries(read).map(([name, value]) => [name, Option.getOrUndefined(value)]))
  const decoded = decodeKnobs(env)
  if (decoded._tag === "Ok") return decoded.knobs
  return yield* new KnobError({ message: decoded.problems.map((found) => found.message).join("; "), problems: decoded.problems })
})

// ---------------------------------------------------------------------------------------------------------------
// Settings

/** Which GPUs run: every eligible node or a number of them (inter-node), or one node alone (intra-node). */
export type Topology =
  | { readonly mode: "inter-node"; readonly nodes: number | "all" }
  | { readonly mode: "intra-node" }

/** What a run uses: the recipe's gate and profile, the knobs, and what follows from them. */
export interface Settings {
  readonly gate: Gate | undefined
  readonly tolerance: number
  /** The template to borrow: the recipe's `nccl-benchmark-profile`, else the knob; undefined to detect from the nodes. */
  readonly profile: Profile | undefined
  readonly profileSource: "recipe" | "environment" | undefined
  /** The launcher/worker image override; undefined to use the catalog image of the template. */
  readonly runtimeImage: string | undefined
  readonly benchmark: Benchmark
  readonly topology: Topology
  readonly knobs: Knobs
}

/** Combines decoded constraints with knobs: recipe constraint > environment > default. */
export const resolve = (config: Constraints, knobs: Knobs = DEFAULT_KNOBS): Settings => {
  const fromRecipe = config[PROFILE]
  const profileChoice = fromRecipe ?? knobs.benchmarkProfile
  return {
    gate: config[BANDWIDTH],
    tolerance: TOLERANCE,
    profile: profileChoice,
    profileSource: fromRecipe !== undefined ? "recipe" : knobs.benchmarkProfile !== undefined ? "environment" : undefined,
    runtimeImage: knobs.runtimeImage,
    benchmark: {
      minBytes: knobs.minMessageBytes,
      maxBytes: knobs.maxMessageBytes,
      stepFactor: knobs.stepFactor,
      iterations: knobs.iterations,
      warmupIterations: knobs.warmupIterations
    },
    topology: knobs.intraNode ? { mode: "intra-node" } : { mode: "inter-node", nodes: knobs.nodeCount },
    knobs
  }
}
