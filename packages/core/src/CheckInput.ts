/**
 * The input document of `aicr check` (docs/adr/0005): everything the orchestrator hands one check running as a pod —
 * which check and phase, the run, the recipe as read, the resolved images, the time budget and the run's scheduling
 * and pull-secret settings. The orchestrator {@link encode}s one per check into the run's ConfigMap; the pod
 * {@link decode}s the mounted file and reports every problem at once.
 *
 * Details: `apiVersion: aicr.nvidia.com/v1alpha1`, `kind: CheckInput`. `tolerations: null` means none were given
 * (the check's workloads tolerate everything, or mirror their GPU node's taints), as `RunContext.userTolerations`
 * `undefined`. Unknown fields are ignored, so an older check reads a newer orchestrator's input.
 */
import * as z from "zod"
import * as Catalog from "./Catalog.ts"
import * as Problem from "./Problem.ts"
import * as RunContext from "./RunContext.ts"

export const API_VERSION = "aicr.nvidia.com/v1alpha1"
export const KIND = "CheckInput"

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/

const TolerationSchema = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional()
}).refine((toleration) => toleration.operator === "Exists" || (toleration.key !== undefined && toleration.key !== ""), {
  message: "a toleration with operator Equal needs a key"
})

export const CheckInputSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(KIND),
  check: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a check name (kebab-case)"),
  phase: z.enum(Catalog.PHASES),
  runId: z.string().refine(RunContext.isRunId, "must be a run ID: YYYYMMDD-HHMMSS-<16 hex>"),
  recipe: z.object({ source: z.string(), text: z.string() }),
  images: z.record(z.string(), z.string().min(1, "must name an image")),
  timeoutMs: z.number().int("must be a whole number of milliseconds").positive("must be greater than 0"),
  nodeSelector: z.record(z.string(), z.string()),
  tolerations: z.array(TolerationSchema).nullable(),
  imagePullSecrets: z.array(z.string().regex(DNS_SUBDOMAIN, "must be a Secret name (a DNS-1123 subdomain)")),
  keep: z.boolean()
})

export type CheckInput = z.output<typeof CheckInputSchema>

/** What the orchestrator fills in (`apiVersion` and `kind` are added by {@link encode}). */
export interface Fields {
  readonly check: string
  readonly phase: Catalog.Phase
  readonly runId: string
  /** The recipe as read: its location as given (for messages) and its text. */
  readonly recipe: { readonly source: string; readonly text: string }
  /** The resolved images by catalog key (`validator` and the plugin's named images). */
  readonly images: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly nodeSelector: Readonly<Record<string, string>>
  /** `--toleration`s, or `null` when none were given. */
  readonly tolerations: ReadonlyArray<RunContext.Toleration> | null
  readonly imagePullSecrets: ReadonlyArray<string>
  readonly keep: boolean
}

/** The document as the ConfigMap stores it: indented JSON, ending in a newline. */
export const encode = (fields: Fields): string => {
  const tolerations = fields.tolerations?.map((toleration) => ({
    ...(toleration.key === undefined ? {} : { key: toleration.key }),
    operator: toleration.operator,
    ...(toleration.value === undefined ? {} : { value: toleration.value }),
    ...(toleration.effect === undefined ? {} : { effect: toleration.effect })
  })) ?? null
  return `${
    JSON.stringify(
      {
        apiVersion: API_VERSION,
        kind: KIND,
        check: fields.check,
        phase: fields.phase,
        runId: fields.runId,
        recipe: { source: fields.recipe.source, text: fields.recipe.text },
        images: fields.images,
        timeoutMs: fields.timeoutMs,
        nodeSelector: fields.nodeSelector,
        tolerations,
        imagePullSecrets: fields.imagePullSecrets,
        keep: fields.keep
      },
      null,
      2
    )
  }\n`
}

export type Decoded =
  | { readonly _tag: "Ok"; readonly input: CheckInput }
  | { readonly _tag: "Problems"; readonly problems: ReadonlyArray<string> }

const describe = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`

const valueAt = (data: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>((value, key) => (typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined), data)

const issueText = (issue: z.core.$ZodIssue, data: unknown): string => {
  const path = Problem.pathOf(issue.path.map((key) => (typeof key === "number" ? key : String(key))))
  const at = path === "" ? "the document" : path
  const value = valueAt(data, issue.path)
  if (issue.code === "invalid_type" && value === undefined) return `${at}: is missing (expected ${issue.expected})`
  if (issue.code === "invalid_value" && value === undefined) return `${at}: is missing (expected ${issue.values.map((option) => JSON.stringify(option)).join(" or ")})`
  if (issue.code === "invalid_type" && issue.expected !== "int") return `${at}: expected ${issue.expected}, got ${describe(value)}`
  if (issue.code === "invalid_value" && path === "apiVersion") return `${at}: is ${describe(value)}, expected "${API_VERSION}"`
  if (issue.code === "invalid_value" && path === "kind") return `${at}: is ${describe(value)}, expected "${KIND}"`
  if (issue.code === "invalid_value") return `${at}: is ${describe(value)}, expected one of ${issue.values.map((option) => JSON.stringify(option)).join(", ")}`
  return `${at}: ${issue.message}${value === undefined || typeof value === "object" ? "" : ` (got ${describe(value)})`}`
}

/** The input from its JSON text, or every problem with it, each naming its path (`images.runtime: …`). */
export const decode = (text: string): Decoded => {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch (error) {
    return { _tag: "Problems", problems: [`not JSON: ${error instanceof Error ? error.message : String(error)}`] }
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return { _tag: "Problems", problems: [`expected a ${KIND} object, got ${describe(data)}`] }
  }
  const parsed = CheckInputSchema.safeParse(data)
  if (parsed.success) return { _tag: "Ok", input: parsed.data }
  return { _tag: "Problems", problems: parsed.error.issues.map((issue) => issueText(issue, data)) }
}

/** The tolerations of a decoded input as `RunContext` takes them (`null` → none given). */
export const tolerationsOf = (input: CheckInput): ReadonlyArray<RunContext.Toleration> | undefined => input.tolerations ?? undefined
