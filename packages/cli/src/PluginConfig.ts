import type { Problem } from "@aicr/core/Problem"
import * as Validator from "@aicr/core/Validator"
import * as Effect from "effect/Effect"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

export const CONFIG_NAMES = ["aicr.config.ts", "aicr.config.mjs", "aicr.config.js", "aicr.config.json"] as const

export interface Loaded {
  readonly file?: string | undefined
  readonly plugins: ReadonlyArray<Validator.AnyValidator>
  readonly problems: ReadonlyArray<Problem>
}

/** The config file to use: `--config FILE`, else the first `aicr.config.{ts,mjs,js,json}` in `cwd`. */
export const find = (explicit: string | undefined, cwd: string): string | undefined => {
  if (explicit !== undefined) return resolve(cwd, explicit)
  return CONFIG_NAMES.map((name) => join(cwd, name)).find((file) => existsSync(file))
}

const isSpecifier = (entry: unknown): entry is string => typeof entry === "string" && entry.trim() !== ""

const describeValue = (value: unknown): string =>
  value === null ? "null" : Array.isArray(value) ? "an array" : typeof value === "object" ? "an object" : typeof value

/** Why `candidate` is not a plugin, naming it; undefined when it is one. */
const notAPlugin = (candidate: unknown, label: string): string | undefined => {
  if (Validator.isValidator(candidate)) return undefined
  if (typeof candidate === "object" && candidate !== null && Validator.TypeId in candidate) {
    const brand = (candidate as { [Validator.TypeId]: unknown })[Validator.TypeId]
    const version = typeof brand === "object" && brand !== null ? (brand as { contractVersion?: unknown }).contractVersion : undefined
    if (version !== Validator.CONTRACT_VERSION) {
      return `${label} was built for plugin contract ${String(version)}; this aicr implements contract ${Validator.CONTRACT_VERSION}`
    }
    return `${label} is not a valid plugin: ${Validator.problems(candidate).join("; ")}`
  }
  return `${label} is not a validator plugin (got ${describeValue(candidate)}; make it with defineValidator from @aicr/core/Validator)`
}

/** The plugins a module exports: its default export (a plugin or a list of plugins), else its plugin exports. */
const pluginsOfModule = (module: Record<string, unknown>, label: string): { plugins: Array<Validator.AnyValidator>; problems: Array<string> } => {
  const exported = module["default"] ?? Object.values(module).filter(Validator.isValidator)
  const list = Array.isArray(exported) ? exported : [exported]
  const problems: Array<string> = []
  const plugins: Array<Validator.AnyValidator> = []
  list.forEach((candidate, index) => {
    const why = notAPlugin(candidate, list.length > 1 ? `${label} (export ${index})` : label)
    if (why === undefined) plugins.push(candidate as Validator.AnyValidator)
    else problems.push(why)
  })
  if (list.length === 0) problems.push(`${label} exports no validator plugin`)
  return { plugins, problems }
}

const resolveSpecifier = (specifier: string, configFile: string): string => {
  if (specifier.startsWith(".") || isAbsolute(specifier)) {
    const path = resolve(dirname(configFile), specifier)
    if (!existsSync(path)) throw new Error(`no such file: ${path}`)
    return pathToFileURL(path).href
  }
  return pathToFileURL(createRequire(configFile).resolve(specifier)).href
}

const importModule = (url: string) =>
  Effect.tryPromise({ try: () => import(url) as Promise<Record<string, unknown>>, catch: (error) => error })

const errorText = (error: unknown): string => (error instanceof Error ? error.message.split("\n")[0]! : String(error))

/**
 * Loads the plugins listed by a config file. The config's `plugins` entries are plugin objects (from .ts/.js
 * configs) or module specifiers, resolved relative to the config file. Every problem names the config file
 * and the entry.
 */
export const load = (file: string | undefined) =>
  Effect.gen(function*() {
    if (file === undefined) return { plugins: [], problems: [] } satisfies Loaded
    const problems: Array<Problem> = []
    const plugins: Array<Validator.AnyValidator> = []
    if (!existsSync(file)) return { file, plugins, problems: [{ source: file, message: "config file not found" }] } satisfies Loaded
    let config: unknown
    if (file.endsWith(".json")) {
      const parsed = yield* Effect.result(Effect.try({ try: () => JSON.parse(readFileSync(file, "utf8")) as unknown, catch: (error) => error }))
      if (parsed._tag === "Failure") {
        return { file, plugins, problems: [{ source: file, message: `not valid JSON: ${errorText(parsed.failure)}` }] } satisfies Loaded
      }
      config = parsed.success
    } else {
      const imported = yield* Effect.result(importModule(pathToFileURL(file).href))
      if (imported._tag === "Failure") {
        return { file, plugins, problems: [{ source: file, message: `could not load the config: ${errorText(imported.failure)}` }] } satisfies Loaded
      }
      config = imported.success["default"]
    }
    const entries = (config as { plugins?: unknown } | undefined)?.plugins
    if (typeof config !== "object" || config === null || !Array.isArray(entries)) {
      return { file, plugins, problems: [{ source: file, message: "the config must be an object with a `plugins` array (plugin objects or module specifiers)" }] } satisfies Loaded
    }
    for (const [index, entry] of entries.entries()) {
      const path = `plugins[${index}]`
      if (isSpecifier(entry)) {
        const url = yield* Effect.result(Effect.try({ try: () => resolveSpecifier(entry, file), catch: (error) => error }))
        if (url._tag === "Failure") {
          problems.push({ source: file, path, message: `plugin module "${entry}" could not be resolved: ${errorText(url.failure)}` })
          continue
        }
        const imported = yield* Effect.result(importModule(url.success))
        if (imported._tag === "Failure") {
          problems.push({ source: file, path, message: `plugin module "${entry}" failed to load: ${errorText(imported.failure)}` })
          continue
        }
        const found = pluginsOfModule(imported.success, `plugin module "${entry}"`)
        plugins.push(...found.plugins)
        problems.push(...found.problems.map((message) => ({ source: file, path, message })))
      } else {
        const why = notAPlugin(entry, "the entry")
        if (why === undefined) plugins.push(entry as Validator.AnyValidator)
        else problems.push({ source: file, path, message: why })
      }
    }
    return { file, plugins, problems } satisfies Loaded
  })
