import { existsSync, readFileSync, statSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export interface BuildInfo {
  readonly version: string
  readonly commit?: string | undefined
}

const packageJson = new URL("../package.json", import.meta.url)

const readTrimmed = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, "utf8").trim() : undefined)

/** The git directory a `.git` entry stands for: itself, or the `gitdir:` a worktree's or submodule's `.git` file names. */
const gitDirOf = (git: string): string | undefined => {
  if (statSync(git).isDirectory()) return git
  const pointer = /^gitdir:\s*(.+)$/m.exec(readFileSync(git, "utf8"))
  return pointer === null ? undefined : resolve(dirname(git), pointer[1]!.trim())
}

const commitOfGitDir = (gitDir: string): string | undefined => {
  const head = readTrimmed(join(gitDir, "HEAD"))
  if (head === undefined) return undefined
  if (!head.startsWith("ref: ")) return /^[0-9a-f]{40}$/.test(head) ? head : undefined
  const ref = head.slice(5).trim()
  const common = readTrimmed(join(gitDir, "commondir"))
  const dirs = common === undefined ? [gitDir] : [gitDir, resolve(gitDir, common)]
  for (const dir of dirs) {
    const loose = readTrimmed(join(dir, ref))
    if (loose !== undefined) return loose
  }
  for (const dir of dirs) {
    const line = readTrimmed(join(dir, "packed-refs"))?.split("\n").find((entry) => entry.endsWith(` ${ref}`))
    if (line !== undefined) return line.slice(0, 40)
  }
  return undefined
}

/**
 * The commit of the git checkout enclosing `from`, read from `.git` without spawning git (a plain checkout, a
 * worktree or a submodule); undefined outside a checkout or when `.git` cannot be read.
 */
export const gitCommit = (from: string): string | undefined => {
  let dir = from
  for (;;) {
    const git = join(dir, ".git")
    if (existsSync(git)) {
      try {
        const gitDir = gitDirOf(git)
        return gitDir === undefined ? undefined : commitOfGitDir(gitDir)
      } catch {
        return undefined
      }
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

/** The version in package.json (no git look-up: every start needs it for `--version`/`--help`). */
export const version = (): string => (JSON.parse(readFileSync(packageJson, "utf8")) as { version: string }).version

/** Version from package.json; commit from AICR_COMMIT, else from the enclosing git checkout. */
export const read = (env: NodeJS.ProcessEnv = process.env): BuildInfo => {
  const commit = env["AICR_COMMIT"]?.trim() || gitCommit(dirname(fileURLToPath(packageJson)))
  return { version: version(), commit }
}
