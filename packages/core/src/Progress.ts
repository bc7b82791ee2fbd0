/**
 * Progress events of a run: checks starting and finishing, and what a check reports while it works.
 *
 * Details: the runner emits `check-started` / `check-finished`; a plugin emits `note` events through
 * `Progress.note`. The CLI renders them on stderr; `layerTest` collects them so tests can assert on order.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"

export type Event =
  | { readonly _tag: "phase-started"; readonly phase: string; readonly checks: ReadonlyArray<string> }
  | { readonly _tag: "check-started"; readonly check: string; readonly phase: string }
  | { readonly _tag: "note"; readonly check: string; readonly message: string }
  | { readonly _tag: "check-finished"; readonly check: string; readonly phase: string; readonly status: string; readonly message: string; readonly durationMs: number }
  | { readonly _tag: "phase-finished"; readonly phase: string; readonly status: string }
  | { readonly _tag: "warning"; readonly check?: string | undefined; readonly message: string }

export class Progress extends Context.Service<Progress, {
  readonly emit: (event: Event) => Effect.Effect<void>
}>()("@aicr/core/Progress") {
  /** Discards every event. */
  static readonly layerSilent = Layer.succeed(Progress, Progress.of({ emit: () => Effect.void }))

  /** Collects events into `events`, in the order they were emitted. */
  static readonly layerTest = (events: Ref.Ref<ReadonlyArray<Event>>) =>
    Layer.succeed(Progress, Progress.of({ emit: (event) => Ref.update(events, (all) => [...all, event]) }))

  /** Renders events with `write` (one line each). */
  static readonly layerLines = (write: (line: string) => void) =>
    Layer.succeed(Progress, Progress.of({ emit: (event) => Effect.sync(() => write(render(event))) }))
}

/** A one-line rendering of an event for a terminal. */
export const render = (event: Event): string => {
  switch (event._tag) {
    case "phase-started":
      return `phase ${event.phase}: ${event.checks.length === 0 ? "no checks" : event.checks.join(", ")}`
    case "check-started":
      return `  ${event.check}: started`
    case "note":
      return `  ${event.check}: ${event.message}`
    case "check-finished":
      return `  ${event.check}: ${event.status} (${(event.durationMs / 1000).toFixed(1)}s)${event.message === "" ? "" : ` — ${event.message}`}`
    case "phase-finished":
      return `phase ${event.phase}: ${event.status}`
    case "warning":
      return `  ${event.check === undefined ? "" : `${event.check}: `}warning: ${event.message}`
  }
}

/** Reports a warning (something went wrong that does not change the verdict, such as a failed cleanup). */
export const warn = (message: string, check?: string) =>
  Progress.use((progress) => progress.emit({ _tag: "warning", check, message }))

/** Reports a note for `check` (what a plugin is doing now). */
export const note = (check: string, message: string) =>
  Progress.use((progress) => progress.emit({ _tag: "note", check, message }))
