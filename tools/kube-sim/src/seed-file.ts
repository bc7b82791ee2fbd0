/**
 * Seed files: objects loaded straight into the store when the simulator starts (`aicr-sim start --seed-file FILE`),
 * without a request per object — for benchmarks and demos with tens of thousands of objects. A file is NDJSON
 * (one object per line), a JSON array of objects, a `List` with `items`, or a single object.
 */
import { readFileSync } from "node:fs"
import type { KubeObject } from "./types.ts"

/** A seed file that cannot be read: `file:line: problem` (the line only for NDJSON). */
export class SeedFileError extends Error {
  constructor(message: string) {
    super(message)
    this.name = "SeedFileError"
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

/** What is wrong with `value` as an object to store, or undefined when it is one. */
const problemOf = (value: unknown): string | undefined => {
  if (!isRecord(value)) return "not a JSON object"
  const metadata = value["metadata"]
  if (typeof value["apiVersion"] !== "string" || typeof value["kind"] !== "string") return "apiVersion and kind must be strings"
  if (!isRecord(metadata) || typeof metadata["name"] !== "string" || metadata["name"] === "") return "metadata.name must be a non-empty string"
  return undefined
}

const parseWhole = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Reads the objects of a seed file, in file order. Throws a `SeedFileError` naming the file (and line) on any problem. */
export const readSeedFile = (path: string): Array<KubeObject> => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (error) {
    throw new SeedFileError(`${path}: cannot read the seed file: ${error instanceof Error ? error.message : String(error)}`)
  }
  const whole = parseWhole(text)
  if (whole !== undefined) {
    const items = Array.isArray(whole) ? whole : isRecord(whole) && Array.isArray(whole["items"]) ? whole["items"] : [whole]
    return items.map((item, index) => {
      const problem = problemOf(item)
      if (problem !== undefined) throw new SeedFileError(`${path}: item ${index}: ${problem}`)
      return item as KubeObject
    })
  }
  const objects: Array<KubeObject> = []
  const lines = text.split("\n")
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim()
    if (line === "") continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      throw new SeedFileError(`${path}:${index + 1}: not JSON: ${error instanceof Error ? error.message : String(error)}`)
    }
    const problem = problemOf(value)
    if (problem !== undefined) throw new SeedFileError(`${path}:${index + 1}: ${problem}`)
    objects.push(value as KubeObject)
  }
  return objects
}
