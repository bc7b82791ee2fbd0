/**
 * zod building blocks for a plugin's constraint schema: numeric thresholds with a required direction, and
 * plain input values.
 *
 * Details: a plugin's schema receives `{ [constraint name]: value }` of its phase. Use `threshold(name,
 * "higher-is-better")` for a gate such as `inference-throughput >= 5000`; a malformed expression or an
 * operator pointing the wrong way is an input error at load time, reported at the constraint's YAML path.
 */
import * as z from "zod"
import * as Constraint from "./Constraint.ts"

/** A numeric threshold whose operator must point in `direction`. */
export const threshold = (name: string, direction: Constraint.Direction) =>
  z.string().transform((text, ctx): Constraint.Threshold => {
    const parsed = Constraint.parseThreshold(text)
    const checked = parsed._tag === "Ok" ? Constraint.requireDirection(parsed.threshold, direction, name) : parsed
    if (checked._tag === "Error") {
      ctx.addIssue({ code: "custom", message: checked.message })
      return z.NEVER
    }
    return checked.threshold
  })

/** A bare input value (no operator), such as `inference-model: Qwen/Qwen3-8B`. */
export const value = (name: string) =>
  z.string().refine((text) => Constraint.parseExpression(text)._tag === "Ok" && /^[^<>=!]/.test(text.trim()), {
    message: `constraint "${name}" takes a plain value, not a comparison`
  })

/** A bare positive integer input value, such as `inference-concurrency-per-gpu: "256"`. */
export const positiveInteger = (name: string) =>
  z.string().transform((text, ctx): number => {
    const trimmed = text.trim()
    const number = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN
    if (!Number.isSafeInteger(number) || number <= 0) {
      ctx.addIssue({ code: "custom", message: `constraint "${name}" must be a positive whole number (got "${text}")` })
      return z.NEVER
    }
    return number
  })
