// A lint of the repository's Dockerfiles (no Docker engine or hadolint here): the rules a published image of a
// cluster validation tool must follow, checked on the parsed instructions.
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..", "..")
const imagesDir = join(root, "images")

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined, keyword upper-cased. */
const parse = (text: string): ReadonlyArray<Instruction> => {
  const out: Array<Instruction> = []
  let buffer = ""
  let start = 0
  text.split("\n").forEach((raw, index) => {
    const line = raw.trimEnd()
    if (buffer === "" && (line.trim() === "" || line.trim().startsWith("#"))) return
    if (buffer !== "" && line.trim().startsWith("#")) return
    if (buffer === "") start = index + 1
    buffer += `${line.replace(/\\$/, "")} `
    if (line.endsWith("\\")) return
    const [keyword = "", ...rest] = buffer.trim().split(/\s+/)
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(" "), line: start })
    buffer = ""
  })
  return out
}

/** Stages: the instructions from each FROM to the next. */
const stagesOf = (instructions: ReadonlyArray<Instruction>) => {
  const stages: Array<Array<Instruction>> = []
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") stages.push([])
    stages.at(-1)?.push(instruction)
  }
  return stages
}

/** ARG defaults declared before the first FROM. */
const globalArgs = (instructions: ReadonlyArray<Instruction>): Map<string, string> => {
  const args = new Map<string, string>()
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") break
    const match = /^(\w+)=(\S+)$/.exec(instruction.keyword === "ARG" ? instruction.args : "")
    if (match !== null) args.set(match[1]!, match[2]!)
  }
  return args
}

const dockerfiles = readdirSync(imagesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && existsSync(join(imagesDir, entry.name, "Dockerfile")))
  .map((entry) => entry.name)

describe("Dockerfiles", () => {
  it("are there: the validator image and the AIPerf image", () => {
    expect(dockerfiles).toEqual(expect.arrayContaining(["validator", "aiperf-bench"]))
  })

  for (const name of dockerfiles) {
    describe(`images/${name}/Dockerfile`, () => {
      const text = readFileSync(join(imagesDir, name, "Dockerfile"), "utf8")
      const instructions = parse(text)
      const stages = stagesOf(instructions)
      const final = stages.at(-1) ?? []
      const args = globalArgs(instructions)
      const stageNames = new Set(stages.map((stage) => /\bAS\s+(\S+)/i.exec(stage[0]!.args)?.[1]).filter((value) => value !== undefined))

      it("pins every base image by tag or digest, never latest", () => {
        for (const stage of stages) {
          const image = stage[0]!.args.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_, arg: string) => args.get(arg) ?? "")
          if (stageNames.has(image)) continue
          expect(image, `FROM at line ${stage[0]!.line}`).toMatch(/(:[\w][\w.-]*|@sha256:[0-9a-f]{64})$/)
          expect(image, `FROM at line ${stage[0]!.line}`).not.toMatch(/:latest$/)
        }
      })

      it("runs as a non-root numeric user in the final stage", () => {
        const user = final.filter((instruction) => instruction.keyword === "USER").at(-1)
        expect(user, "USER in the final stage").toBeDefined()
        expect(user!.args).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/)
      })

      it("has an exec-form ENTRYPOINT and no ADD", () => {
        const entrypoint = final.filter((instruction) => instruction.keyword === "ENTRYPOINT").at(-1)
        expect(entrypoint).toBeDefined()
        expect(() => JSON.parse(entrypoint!.args)).not.toThrow()
        expect(instructions.filter((instruction) => instruction.keyword === "ADD")).toEqual([])
      })

      it("installs Debian packages without recommends and drops the package lists in the same layer", () => {
        for (const run of instructions.filter((instruction) => instruction.keyword === "RUN" && instruction.args.includes("apt-get install"))) {
          expect(run.args, `RUN at line ${run.line}`).toContain("--no-install-recommends")
          expect(run.args, `RUN at line ${run.line}`).toContain("rm -rf /var/lib/apt/lists/*")
        }
      })

      it("copies only paths that exist in the repository (the build context is its root)", () => {
        for (const copy of instructions.filter((instruction) => instruction.keyword === "COPY" && !instruction.args.includes("--from="))) {
          const words = copy.args.split(/\s+/).filter((word) => !word.startsWith("--"))
          for (const source of words.slice(0, -1)) expect(existsSync(join(root, source)), `COPY ${source} at line ${copy.line}`).toBe(true)
        }
      })

      it("labels the image with its OCI title and licence", () => {
        const labels = final.filter((instruction) => instruction.keyword === "LABEL").map((instruction) => instruction.args).join(" ")
        expect(labels).toContain("org.opencontainers.image.title=")
        expect(labels).toContain("org.opencontainers.image.licenses=")
      })
    })
  }

  describe("images/validator", () => {
    const instructions = parse(readFileSync(join(imagesDir, "validator", "Dockerfile"), "utf8"))
    const final = stagesOf(instructions).at(-1)!

    it("runs `aicr check` on Node 24 from a distroless final stage without a shell step", () => {
      expect(JSON.parse(final.find((instruction) => instruction.keyword === "ENTRYPOINT")!.args)).toEqual(["/nodejs/bin/node", "/opt/aicr/packages/cli/bin/aicr.js", "check"])
      expect(globalArgs(instructions).get("RUNTIME_IMAGE")).toMatch(/^gcr\.io\/distroless\/nodejs24-debian12:nonroot$/)
      expect(globalArgs(instructions).get("NODE_IMAGE")).toMatch(/^node:24-/)
      expect(final.filter((instruction) => instruction.keyword === "RUN")).toEqual([])
    })

    it("writes nothing outside /tmp, so a read-only root filesystem works", () => {
      const env = final.filter((instruction) => instruction.keyword === "ENV").map((instruction) => instruction.args).join(" ")
      expect(env).toContain("HOME=/tmp")
      expect(env).toContain("AICR_STATE_DIR=/tmp/aicr-state")
    })

    it("has a context ignore file that keeps what the build copies and drops node_modules", () => {
      const ignore = readFileSync(join(imagesDir, "validator", "Dockerfile.dockerignore"), "utf8").split("\n").map((line) => line.trim())
      expect(ignore[ignore.findIndex((line) => line !== "" && !line.startsWith("#"))]).toBe("*")
      for (const kept of ["!package.json", "!package-lock.json", "!packages/", "!tools/kube-sim/"]) expect(ignore).toContain(kept)
      expect(ignore).toContain("**/node_modules")
    })

    it("is documented with its build command and how the catalog names it", () => {
      const readme = readFileSync(join(imagesDir, "validator", "README.md"), "utf8")
      expect(readme).toContain("docker build -f images/validator/Dockerfile -t <registry>/aicr-validator:<tag> .")
      const catalog = readFileSync(join(root, "packages", "core", "src", "catalog.yaml"), "utf8")
      expect(catalog).toContain("image: ghcr.io/aicr-project/aicr-validator:latest")
      expect(readme).toContain("ghcr.io/aicr-project/aicr-validator:latest")
    })
  })
})
