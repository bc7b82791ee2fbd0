import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import * as BuildInfo from "../src/BuildInfo.ts"

const A = "a".repeat(40)
const B = "b".repeat(40)
const C = "c".repeat(40)

const root = mkdtempSync(join(tmpdir(), "aicr-buildinfo-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** Writes `files` (path → content) under a fresh directory and returns it. */
let count = 0
const tree = (files: Record<string, string>): string => {
  const dir = join(root, String(++count))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  mkdirSync(join(dir, "packages", "cli"), { recursive: true })
  return dir
}

describe("BuildInfo.gitCommit", () => {
  it("reads a branch's loose ref from a checkout above the package", () => {
    const dir = tree({ ".git/HEAD": "ref: refs/heads/main\n", ".git/refs/heads/main": `${A}\n` })
    expect(BuildInfo.gitCommit(join(dir, "packages", "cli"))).toBe(A)
  })

  it("reads a packed ref when the loose one is gone", () => {
    const dir = tree({ ".git/HEAD": "ref: refs/heads/main\n", ".git/packed-refs": `# pack-refs with: peeled fully-peeled sorted\n${B} refs/heads/other\n${A} refs/heads/main\n` })
    expect(BuildInfo.gitCommit(join(dir, "packages", "cli"))).toBe(A)
  })

  it("reads a detached HEAD", () => {
    const dir = tree({ ".git/HEAD": `${C}\n` })
    expect(BuildInfo.gitCommit(dir)).toBe(C)
  })

  it("follows a worktree's .git file to its gitdir, and its commondir for the refs", () => {
    const dir = tree({
      "main/.git/HEAD": "ref: refs/heads/main\n",
      "main/.git/refs/heads/topic": `${B}\n`,
      "main/.git/worktrees/wt/HEAD": "ref: refs/heads/topic\n",
      "main/.git/worktrees/wt/commondir": "../..\n",
      "wt/.git": "gitdir: ../main/.git/worktrees/wt\n"
    })
    expect(BuildInfo.gitCommit(join(dir, "wt"))).toBe(B)
  })

  it("follows an absolute gitdir to a detached worktree", () => {
    const dir = tree({ "main/.git/worktrees/wt/HEAD": `${C}\n`, "main/.git/worktrees/wt/commondir": "../..\n" })
    mkdirSync(join(dir, "wt"))
    writeFileSync(join(dir, "wt", ".git"), `gitdir: ${join(dir, "main", ".git", "worktrees", "wt")}\n`)
    expect(BuildInfo.gitCommit(join(dir, "wt"))).toBe(C)
  })

  it.each([
    ["a .git file without gitdir", { ".git": "not a pointer\n" }],
    ["a gitdir that does not exist", { ".git": "gitdir: /no/such/dir\n" }],
    ["a HEAD that is not a commit", { ".git/HEAD": "garbage\n" }],
    ["a ref that exists nowhere", { ".git/HEAD": "ref: refs/heads/gone\n" }],
    ["a .git directory without HEAD", { ".git/config": "" }]
  ])("is undefined for %s, without throwing", (_label, files) => {
    expect(BuildInfo.gitCommit(tree(files))).toBeUndefined()
  })
})

describe("BuildInfo.read", () => {
  it("takes the version from package.json and the commit from AICR_COMMIT", () => {
    expect(BuildInfo.read({ AICR_COMMIT: ` ${A} ` })).toEqual({ version: "0.0.0", commit: A })
  })
})
