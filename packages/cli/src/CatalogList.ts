import * as Catalog from "@aicr/core/Catalog"
import * as Output from "./Output.ts"

/** Prints the embedded catalog's checks by phase. */
export const print = (): void => {
  const catalog = Catalog.embedded()
  const width = Math.max(...catalog.validators.map((entry) => entry.name.length))
  for (const phase of Catalog.PHASES) {
    Output.stdout(`${phase}\n`)
    for (const entry of Catalog.forPhase(catalog, phase)) Output.stdout(`  ${entry.name.padEnd(width)}  ${entry.description}\n`)
  }
}
