import { existsSync, readFileSync } from "node:fs"
import { dirname, join } from "node:path"

export interface BuildInfo {
  readonly version: string
  readonly commit?: string | undefined
}

const packageJson = new URL("../package.json", import.meta.url)

/** The commit of the checkout this CLI runs from, read from `.git` without spawning git; undefined elsewhere. */
const gitCommit = (from: string): string | undefined => {
  let dir = from
  for (;;) {
    const git = join(dir, ".git")
    if (existsSync(git)) {
      const head = readFileSync(join(git, "HEAD"), "utf8").trim()
      if (!head.startsWith("ref: ")) return /^[0-9a-f]{40}$/.test(head) ? head : undefined
      const ref = head.slice(5)
      const loose = join(git, ref)
      if (existsSync(loose)) return readFileSync(loose, "utf8").trim()
      const packed = join(git, "packed-refs")
      if (!existsSync(packed)) return undefined
      const line = readFileSync(packed, "utf8").split("\n").find((entry) => entry.endsWith(` ${ref}`))
      return line?.slice(0, 40)
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** Version from package.json; commit from AICR_COMMIT, else from the enclosing git checkout. */
export const read = (env: NodeJS.ProcessEnv = process.env): BuildInfo => {
  const { version } = JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }
  const commit = env["AICR_COMMIT"]?.trim() || gitCommit(dirname(new URL(packageJson).pathname))
  return { version, commit }
}
