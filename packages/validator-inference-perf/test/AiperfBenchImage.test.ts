/**
 * The aiperf-bench image (images/aiperf-bench): its entrypoint, run with this machine's python3 against a fake
 * `aiperf` (test/fixtures/fake-aiperf/aiperf) first on PATH, and rules its Dockerfile must keep.
 */
import { spawn, spawnSync } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { afterEach, describe, expect, it } from "vitest"

const REPO = resolve(import.meta.dirname, "../../..")
const IMAGE_DIR = join(REPO, "images/aiperf-bench")
const ENTRYPOINT = join(IMAGE_DIR, "entrypoint.py")
const DOCKERFILE = join(IMAGE_DIR, "Dockerfile")
const FAKE_AIPERF = join(import.meta.dirname, "fixtures/fake-aiperf/aiperf")
const FIXTURES = join(import.meta.dirname, "fixtures/aiperf")
const WITH_TTFT = join(FIXTURES, "flat-format-with-ttft_tests-fixtures-operator_ui-aiperf-llama3-c128_profile_export_aiperf.json")
const NON_STREAMING = join(FIXTURES, "flat-format-v0.8.0-nonstreaming_tests-_artifacts-audit-baseline-chat-bare_profile_export_aiperf.json")
const LEGACY = join(FIXTURES, "legacy-records-format_examples-artifacts-run1_profile_export_aiperf.json")

const SENTINEL = "===AIPERF-RESULT==="
const EXPORT_NAME = "profile_export_aiperf.json"
const FAKE_STDOUT = "fake aiperf: profiling 100%|##########| 64/64\n"
const JOB_ARGS = [
  "--model", "Qwen/Qwen3-8B", "--url", "http://aicr-inference-perf-frontend:8000", "--endpoint-type", "chat",
  "--streaming", "--concurrency", "16", "--request-count", "200", "--ui", "none"
]

// ---------------------------------------------------------------------------------------------------------------
// Harness

let resolvedPython: string | undefined

/**
 * This machine's python3, as an absolute path (the fake aiperf's shebang and a PATH-free run need it). Every
 * entrypoint test calls it, so without python3 each of them fails with this message rather than being skipped.
 */
const python = (): string => {
  if (resolvedPython !== undefined) return resolvedPython
  const probe = spawnSync("python3", ["-c", "import sys; print(sys.executable); print(sys.version_info >= (3, 9))"], {
    encoding: "utf8"
  })
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      "python3 is required by the aiperf-bench image tests (its entrypoint is a Python script) but could not be run " +
        `from PATH: ${probe.error?.message ?? `exit ${probe.status}: ${probe.stderr}`}`
    )
  }
  const [executable, recent] = probe.stdout.trim().split("\n")
  if (recent !== "True") throw new Error(`python3 (${executable}) is older than 3.9, which the entrypoint needs`)
  resolvedPython = executable!
  return resolvedPython
}

interface Sandbox {
  readonly root: string
  readonly bin: string
  readonly artifacts: string
  readonly terminationLog: string
  readonly argvFile: string
}

const sandboxes: Array<string> = []
afterEach(() => {
  for (const root of sandboxes.splice(0)) rmSync(root, { recursive: true, force: true })
})

/** A temporary directory with bin/aiperf (the fake, run by this machine's python) and an artifact directory. */
const sandbox = (options: { readonly fake?: boolean } = {}): Sandbox => {
  const root = mkdtempSync(join(tmpdir(), "aiperf-bench-"))
  sandboxes.push(root)
  const bin = join(root, "bin")
  mkdirSync(bin)
  if (options.fake !== false) {
    const body = readFileSync(FAKE_AIPERF, "utf8").split("\n").slice(1).join("\n")
    writeFileSync(join(bin, "aiperf"), `#!${python()}\n${body}`)
    chmodSync(join(bin, "aiperf"), 0o755)
  }
  return {
    root,
    bin,
    artifacts: join(root, "aiperf"),
    terminationLog: join(root, "termination-log"),
    argvFile: join(root, "argv.json")
  }
}

interface Outcome {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

interface RunOptions {
  readonly env?: Record<string, string>
  /** Called once the process runs, with its pid. */
  readonly started?: (pid: number) => void | Promise<void>
  readonly path?: string
}

/** Runs the entrypoint as the image does, with a minimal environment (PATH: the sandbox's bin first). */
const runEntrypoint = (box: Sandbox, args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Outcome> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(python(), [ENTRYPOINT, ...args], {
      cwd: box.root,
      env: {
        PATH: options.path ?? `${box.bin}:${process.env["PATH"] ?? "/usr/bin:/bin"}`,
        HOME: box.root,
        LANG: "C.UTF-8",
        AICR_AIPERF_ARTIFACT_DIR: box.artifacts,
        AICR_TERMINATION_LOG: box.terminationLog,
        FAKE_AIPERF_ARGV_FILE: box.argvFile,
        ...options.env
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("error", reject)
    child.on("close", (code, signal) =>
      resolvePromise({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      })
    )
    if (options.started !== undefined && child.pid !== undefined) {
      Promise.resolve(options.started(child.pid)).catch((error: unknown) => {
        child.kill("SIGKILL")
        reject(error)
      })
    }
  })

const summaryOf = (box: Sandbox): Record<string, any> => {
  const text = readFileSync(box.terminationLog, "utf8")
  expect(Buffer.byteLength(text)).toBeLessThan(4096)
  return JSON.parse(text)
}

const argvOf = (box: Sandbox): Array<string> => JSON.parse(readFileSync(box.argvFile, "utf8"))

/** What the entrypoint prints after aiperf's own output for an export with these bytes. */
const framed = (payload: string) => `\n${SENTINEL}\n${payload}${payload.endsWith("\n") ? "" : "\n"}${SENTINEL}\n`

const waitForFile = async (path: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`${path} did not appear within ${timeoutMs} ms`)
    await new Promise((wake) => setTimeout(wake, 20))
  }
}

const errorSummary = (overrides: Record<string, unknown>) => ({
  schema: "aicr.aiperf-bench/summary/v1",
  status: "error",
  aiperf_exit_code: null,
  aiperf_signal: null,
  forwarded_signal: null,
  export: null,
  aiperf_version: null,
  output_token_throughput_avg: null,
  output_token_throughput_unit: null,
  time_to_first_token_p99: null,
  time_to_first_token_unit: null,
  request_count: null,
  error_request_count: null,
  was_cancelled: null,
  error_summary: null,
  error_summary_omitted: 0,
  ...overrides
})

// ---------------------------------------------------------------------------------------------------------------
// The entrypoint

describe("aiperf-bench entrypoint: a result", () => {
  it("runs `aiperf profile <args> --artifact-dir <dir>` and prints the export byte for byte between the sentinels", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT } })

    expect(result.code).toBe(0)
    expect(argvOf(box)).toEqual(["profile", ...JOB_ARGS, "--artifact-dir", box.artifacts])
    const payload = readFileSync(WITH_TTFT, "utf8")
    expect(result.stdout).toBe(FAKE_STDOUT + framed(payload))
    const start = result.stdout.indexOf(SENTINEL) + SENTINEL.length
    const between = result.stdout.slice(start, result.stdout.indexOf(SENTINEL, start))
    expect(JSON.parse(between)).toEqual(JSON.parse(payload))
    expect(result.stderr).toContain("output_token_throughput avg 5388.8 tokens/sec, time_to_first_token p99 195.0 ms")
  })

  it("writes the compact summary to the termination log", async () => {
    const box = sandbox()
    await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT } })
    const text = readFileSync(box.terminationLog, "utf8")
    expect(text).not.toContain("\n")
    expect(JSON.parse(text)).toEqual({
      schema: "aicr.aiperf-bench/summary/v1",
      status: "ok",
      exit_code: 0,
      aiperf_exit_code: 0,
      aiperf_signal: null,
      forwarded_signal: null,
      export: join(box.artifacts, EXPORT_NAME),
      aiperf_version: "0.0.0-e2e",
      output_token_throughput_avg: 5388.8,
      output_token_throughput_unit: "tokens/sec",
      time_to_first_token_p99: 195.0,
      time_to_first_token_unit: "ms",
      request_count: null,
      error_request_count: null,
      was_cancelled: null,
      error_summary: null,
      error_summary_omitted: 0,
      error: null
    })
  })

  it("reports a metric the export lacks as null, never 0 (non-streaming aiperf 0.8.0 run: no TTFT)", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: NON_STREAMING } })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(FAKE_STDOUT + framed(readFileSync(NON_STREAMING, "utf8")))
    expect(result.stderr).toContain("time_to_first_token p99 missing")
    expect(summaryOf(box)).toMatchObject({
      status: "ok",
      aiperf_version: "0.8.0",
      output_token_throughput_avg: 1022443.0554692096,
      output_token_throughput_unit: "tokens/sec",
      time_to_first_token_p99: null,
      time_to_first_token_unit: null,
      request_count: 64,
      was_cancelled: false,
      error_summary: []
    })
  })

  it("passes a legacy records{} export through unchanged and summarises its error_summary", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: LEGACY } })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(FAKE_STDOUT + framed(readFileSync(LEGACY, "utf8")))
    expect(summaryOf(box)).toMatchObject({
      status: "ok",
      output_token_throughput_avg: null,
      time_to_first_token_p99: null,
      was_cancelled: false,
      error_summary: [{ code: 499, type: "RequestCancellationError", message: "Request was cancelled after 0.000 seconds", count: 11 }],
      error_summary_omitted: 0
    })
  })

  it("drops a leading `--` and `profile` word from its arguments", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, ["--", "profile", "--model", "m"], { env: { FAKE_AIPERF_EXPORT: WITH_TTFT } })
    expect(result.code).toBe(0)
    expect(argvOf(box)).toEqual(["profile", "--model", "m", "--artifact-dir", box.artifacts])
  })

  it.each([
    ["--artifact-dir", "separate"],
    ["--output-artifact-dir", "separate"],
    ["--artifact-dir", "joined"],
    ["--output-artifact-dir", "joined"]
  ])("uses the directory the arguments name with %s (%s) and adds none", async (flag, form) => {
    const box = sandbox()
    const own = join(box.root, "own-dir")
    const named = form === "separate" ? [flag, own] : [`${flag}=${own}`]
    const result = await runEntrypoint(box, ["--model", "m", ...named], { env: { FAKE_AIPERF_EXPORT: WITH_TTFT } })
    expect(result.code).toBe(0)
    expect(argvOf(box)).toEqual(["profile", "--model", "m", ...named])
    expect(summaryOf(box)["export"]).toBe(join(own, EXPORT_NAME))
    expect(existsSync(box.artifacts)).toBe(false)
  })

  it("finds the export in a subdirectory of the artifact directory when it is the only new one", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, {
      env: { FAKE_AIPERF_EXPORT: WITH_TTFT, FAKE_AIPERF_SUBDIR: "Qwen_Qwen3-8B-openai-chat-concurrency16" }
    })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(FAKE_STDOUT + framed(readFileSync(WITH_TTFT, "utf8")))
    expect(summaryOf(box)["export"]).toBe(join(box.artifacts, "Qwen_Qwen3-8B-openai-chat-concurrency16", EXPORT_NAME))
  })

  it("uses the export written by this run, not an older one in another subdirectory", async () => {
    const box = sandbox()
    mkdirSync(join(box.artifacts, "previous"), { recursive: true })
    writeFileSync(join(box.artifacts, "previous", EXPORT_NAME), readFileSync(LEGACY))
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT, FAKE_AIPERF_SUBDIR: "current" } })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(FAKE_STDOUT + framed(readFileSync(WITH_TTFT, "utf8")))
    expect(summaryOf(box)["export"]).toBe(join(box.artifacts, "current", EXPORT_NAME))
  })

  it("takes the sentinel from AICR_RESULT_SENTINEL", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT, AICR_RESULT_SENTINEL: "<<RESULT>>" } })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`${FAKE_STDOUT}\n<<RESULT>>\n${readFileSync(WITH_TTFT, "utf8")}\n<<RESULT>>\n`)
  })

  it("keeps the summary under the termination-message limit by dropping error entries from the end", async () => {
    const box = sandbox()
    const entries = Array.from({ length: 300 }, (_, index) => ({
      error_details: { code: 500 + (index % 50), type: "ServerError", message: `upstream failure ${index} `.repeat(40) },
      count: index + 1
    }))
    const big = join(box.root, "big.json")
    writeFileSync(big, JSON.stringify({ ...JSON.parse(readFileSync(WITH_TTFT, "utf8")), error_summary: entries }))
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: big } })
    expect(result.code).toBe(0)
    const text = readFileSync(box.terminationLog, "utf8")
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4000)
    const summary = JSON.parse(text)
    expect(summary.error_summary_omitted).toBeGreaterThan(0)
    expect(summary.error_summary.length + summary.error_summary_omitted).toBe(300)
    expect(summary.error_summary[0]).toEqual({
      code: 500,
      type: "ServerError",
      message: `${"upstream failure 0 ".repeat(40).slice(0, 197)}...`,
      count: 1
    })
    expect(summary.time_to_first_token_p99).toBe(195.0)
  })

  it("still prints the result and exits 0 when the termination log cannot be written", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, {
      env: { FAKE_AIPERF_EXPORT: WITH_TTFT, AICR_TERMINATION_LOG: join(box.root, "no-such-dir", "termination-log") }
    })
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(FAKE_STDOUT + framed(readFileSync(WITH_TTFT, "utf8")))
    expect(result.stderr).toContain("warning: cannot write the summary to")
  })
})

describe("aiperf-bench entrypoint: failures", () => {
  it("propagates aiperf's non-zero exit code and prints no result, even if an export exists", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT, FAKE_AIPERF_EXIT: "5" } })
    expect(result.code).toBe(5)
    expect(result.stdout).toBe(FAKE_STDOUT)
    expect(result.stdout).not.toContain(SENTINEL)
    expect(result.stderr).toContain("aiperf exited with code 5")
    expect(summaryOf(box)).toEqual(errorSummary({ exit_code: 5, aiperf_exit_code: 5, error: "aiperf exited with code 5" }))
  })

  it.each([
    ["KILL", 9],
    ["HUP", 1]
  ])("exits 128+N when aiperf dies by SIG%s", async (name, number) => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT, FAKE_AIPERF_SIGNAL: name } })
    expect(result.code).toBe(128 + number)
    expect(result.stdout).not.toContain(SENTINEL)
    expect(summaryOf(box)).toEqual(
      errorSummary({ exit_code: 128 + number, aiperf_signal: number, error: `aiperf was killed by signal SIG${name} (${number})` })
    )
  })

  it.each([
    ["SIGTERM", 15],
    ["SIGINT", 2]
  ] as const)("forwards %s to aiperf and exits 128+N when it dies of it", async (name, number) => {
    const box = sandbox()
    const ready = join(box.root, "ready")
    const received = join(box.root, "received")
    const result = await runEntrypoint(box, JOB_ARGS, {
      env: { FAKE_AIPERF_READY_FILE: ready, FAKE_AIPERF_SIGNAL_FILE: received },
      started: async (pid) => {
        await waitForFile(ready)
        process.kill(pid, name)
      }
    })
    expect(readFileSync(received, "utf8")).toBe(name)
    expect(result.code).toBe(128 + number)
    expect(result.stderr).toContain(`forwarding ${name} to aiperf`)
    expect(result.stdout).not.toContain(SENTINEL)
    expect(summaryOf(box)).toEqual(
      errorSummary({
        exit_code: 128 + number,
        aiperf_signal: number,
        forwarded_signal: number,
        error: `aiperf was killed by signal ${name} (${number})`
      })
    )
  })

  it("fails with exit 3 and a clear error when aiperf exits 0 without an export", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS)
    expect(result.code).toBe(3)
    expect(result.stdout).toBe(FAKE_STDOUT)
    const error = `aiperf exited 0 but wrote no ${EXPORT_NAME} under ${box.artifacts} (searched 3 levels deep)`
    expect(result.stderr).toContain(`aiperf-bench: error: ${error}`)
    expect(summaryOf(box)).toEqual(errorSummary({ exit_code: 3, aiperf_exit_code: 0, error }))
  })

  it("never prints an export that was there before the run", async () => {
    const box = sandbox()
    mkdirSync(box.artifacts, { recursive: true })
    writeFileSync(join(box.artifacts, EXPORT_NAME), readFileSync(WITH_TTFT))
    const result = await runEntrypoint(box, JOB_ARGS)
    expect(result.code).toBe(3)
    expect(result.stdout).not.toContain(SENTINEL)
    expect(result.stderr).toContain(`ignored exports older than this run: ${join(box.artifacts, EXPORT_NAME)}`)
    expect(summaryOf(box)).toMatchObject({ status: "error", exit_code: 3, output_token_throughput_avg: null })
  })

  it("fails with exit 3 when several new exports leave the result ambiguous", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: WITH_TTFT, FAKE_AIPERF_SUBDIR: "run_0001,run_0002" } })
    expect(result.code).toBe(3)
    expect(result.stdout).not.toContain(SENTINEL)
    expect(result.stderr).toContain("several AIPerf exports were written under")
  })

  it.each([
    ["not JSON", "{\"output_token_throughput\": ", "is not valid JSON"],
    ["JSON with NaN", "{\"output_token_throughput\": {\"avg\": NaN}}", "non-standard JSON constant NaN"],
    ["a JSON array", "[1, 2]", "is not a JSON object"]
  ])("fails with exit 4 when the export is %s", async (_label, content, message) => {
    const box = sandbox()
    const bad = join(box.root, "bad.json")
    writeFileSync(bad, content)
    const result = await runEntrypoint(box, JOB_ARGS, { env: { FAKE_AIPERF_EXPORT: bad } })
    expect(result.code).toBe(4)
    expect(result.stdout).not.toContain(SENTINEL)
    expect(result.stderr).toContain(message)
    expect(summaryOf(box)).toMatchObject({ status: "error", exit_code: 4, aiperf_exit_code: 0 })
  })

  it("exits 127 when aiperf is not on PATH", async () => {
    const box = sandbox({ fake: false })
    const result = await runEntrypoint(box, JOB_ARGS, { path: box.bin })
    expect(result.code).toBe(127)
    expect(result.stderr).toContain("aiperf was not found on PATH")
    expect(summaryOf(box)).toEqual(errorSummary({ exit_code: 127, error: "aiperf was not found on PATH" }))
  })

  it("exits 126 when aiperf cannot be executed", async () => {
    const box = sandbox()
    chmodSync(join(box.bin, "aiperf"), 0o644)
    const result = await runEntrypoint(box, JOB_ARGS, { path: box.bin })
    expect(result.code).toBe(126)
    expect(summaryOf(box)).toMatchObject({ status: "error", exit_code: 126 })
  })

  it("exits 2 with a usage line when given no aiperf arguments", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, [])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("usage: entrypoint.py [--] [profile] <aiperf profile flags...>")
    expect(existsSync(box.argvFile)).toBe(false)
    expect(summaryOf(box)).toEqual(errorSummary({ exit_code: 2, error: "no aiperf profile arguments were given" }))
  })

  it("exits 2 when AICR_RESULT_SENTINEL is not a single trimmed line", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, JOB_ARGS, { env: { AICR_RESULT_SENTINEL: " ===X===" } })
    expect(result.code).toBe(2)
    expect(existsSync(box.argvFile)).toBe(false)
  })

  it("hands --help to aiperf and writes no summary", async () => {
    const box = sandbox()
    const result = await runEntrypoint(box, ["--help"])
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("Usage: aiperf profile [OPTIONS]\n")
    expect(existsSync(box.terminationLog)).toBe(false)
  })
})

// ---------------------------------------------------------------------------------------------------------------
// The Dockerfile

interface Instruction {
  readonly keyword: string
  readonly args: string
  readonly line: number
}

interface Stage {
  readonly from: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

/** Instructions of a Dockerfile: comment lines dropped, `\` continuations joined. */
const instructionsOf = (text: string): Array<Instruction> => {
  const instructions: Array<Instruction> = []
  let buffer = ""
  let start = 0
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) return
    if (buffer === "") start = index + 1
    const continued = line.endsWith("\\")
    buffer += (buffer === "" ? "" : " ") + (continued ? line.slice(0, -1).trim() : line)
    if (continued) return
    const match = /^(\S+)\s*(.*)$/.exec(buffer)!
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: start })
    buffer = ""
  })
  if (buffer !== "") throw new Error("the Dockerfile ends inside a line continuation")
  return instructions
}

const dockerfile = () => {
  const instructions = instructionsOf(readFileSync(DOCKERFILE, "utf8"))
  const globalArgs = new Map<string, string>()
  const stages: Array<{ from: string; name: string | undefined; instructions: Array<Instruction> }> = []
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const [image, as, name] = instruction.args.split(/\s+/)
      stages.push({ from: image!, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] })
    } else if (stages.length === 0) {
      expect(instruction.keyword, `line ${instruction.line}: only ARG may precede FROM`).toBe("ARG")
      const [name, value] = instruction.args.split("=", 2)
      globalArgs.set(name!.trim(), value?.trim() ?? "")
    } else {
      stages.at(-1)!.instructions.push(instruction)
    }
  }
  const expand = (text: string) =>
    text.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => globalArgs.get(braced ?? bare ?? "") ?? whole)
  return { globalArgs, stages: stages as ReadonlyArray<Stage>, final: stages.at(-1)! as Stage, expand }
}

const of = (stage: Stage, keyword: string) => stage.instructions.filter((instruction) => instruction.keyword === keyword)

/** Whether a shell command line runs pip (as a command, or `python -m pip`/`ensurepip`). */
const invokesPip = (command: string): boolean =>
  command
    .split(/&&|\|\||;|\||\(|\)|\n/)
    .map((segment) => segment.trim().split(/\s+/).filter((word) => !/^\w+=/.test(word)))
    .some((words) => {
      const program = words[0] === "exec" || words[0] === "env" ? words[1] : words[0]
      if (program === undefined) return false
      const base = program.split("/").at(-1)!
      if (/^pip[\d.]*$/.test(base)) return true
      return /^python[\d.]*$/.test(base) && words.some((word, index) => word === "-m" && /^(pip|ensurepip)$/.test(words[index + 1] ?? ""))
    })

/** The env pairs of ENV instructions (`KEY=VALUE` forms). */
const envOf = (stage: Stage): Map<string, string> =>
  new Map(of(stage, "ENV").flatMap((instruction) => instruction.args.split(/\s+/).map((pair) => pair.split("=", 2) as [string, string])))

describe("aiperf-bench Dockerfile", () => {
  it("builds and runs on a python -slim image pinned by its full version tag, the same in every stage", () => {
    const { stages } = dockerfile()
    expect(stages.length).toBeGreaterThanOrEqual(2)
    for (const stage of stages) {
      expect(stage.from).toMatch(/^python:\d+\.\d+\.\d+-slim(-[a-z]+)?$/)
    }
    expect(new Set(stages.map((stage) => stage.from)).size).toBe(1)
  })

  it("runs as a numeric non-root user", () => {
    const { final } = dockerfile()
    const user = of(final, "USER").at(-1)
    expect(user, "the final stage sets USER").toBeDefined()
    const match = /^(\d+)(?::(\d+))?$/.exec(user!.args.trim())
    expect(match, `USER ${user!.args} is numeric uid[:gid]`).not.toBeNull()
    expect(Number(match![1])).toBeGreaterThan(0)
    if (match![2] !== undefined) expect(Number(match![2])).toBeGreaterThan(0)
  })

  it("pins aiperf with == to an exact version, installed in the build stage", () => {
    const { globalArgs, stages, final, expand } = dockerfile()
    const version = globalArgs.get("AIPERF_VERSION")
    expect(version).toMatch(/^\d+\.\d+\.\d+$/)
    const runs = stages.flatMap((stage) => of(stage, "RUN").map((run) => ({ stage, command: expand(run.args) })))
    const installs = runs.filter(({ command }) => /\baiperf[=<>~!]/.test(command))
    expect(installs.length).toBe(1)
    expect(installs[0]!.stage).not.toBe(final)
    expect(installs[0]!.command).toContain(`"aiperf==${version}"`)
    expect(installs[0]!.command).not.toMatch(/\baiperf(?!==)[=<>~!]/)
  })

  it("ships no pip: none is run in the final stage, the venv's is uninstalled and the base image's removed", () => {
    const { stages, final } = dockerfile()
    for (const run of of(final, "RUN")) expect(invokesPip(run.args), `final-stage RUN at line ${run.line}`).toBe(false)
    for (const instruction of [...of(final, "ENTRYPOINT"), ...of(final, "CMD")]) {
      expect(instruction.args).not.toMatch(/\bpip[\d.]*\b/)
    }
    const build = stages[0]!
    expect(of(build, "RUN").some((run) => /-m pip uninstall --yes pip\b/.test(run.args))).toBe(true)
    const removal = of(final, "RUN").find((run) => /^rm -rf /.test(run.args))
    expect(removal, "the final stage removes the base image's pip").toBeDefined()
    for (const path of ["/usr/local/bin/pip ", "/usr/local/bin/pip3 ", "site-packages/pip ", "site-packages/pip-*.dist-info", "/ensurepip"]) {
      expect(removal!.args).toContain(path)
    }
    // The invocation detector itself.
    expect(invokesPip("pip install x")).toBe(true)
    expect(invokesPip("apt-get update && /usr/local/bin/pip3 install x")).toBe(true)
    expect(invokesPip("X=1 python3 -m pip install x")).toBe(true)
    expect(invokesPip("python -m ensurepip")).toBe(true)
    expect(invokesPip("rm -rf /usr/local/bin/pip /usr/local/lib/python3.13/site-packages/pip")).toBe(false)
  })

  it("copies the entrypoint in and makes it the exec-form ENTRYPOINT, run by the venv's python", () => {
    const { final } = dockerfile()
    const copy = of(final, "COPY").find((instruction) => instruction.args.split(/\s+/)[0] === "images/aiperf-bench/entrypoint.py")
    expect(copy, "COPY images/aiperf-bench/entrypoint.py <dest>").toBeDefined()
    expect(existsSync(join(REPO, "images/aiperf-bench/entrypoint.py"))).toBe(true)
    const destination = copy!.args.split(/\s+/)[1]!
    expect(destination).toMatch(/^\/.*\.py$/)
    const entrypoints = of(final, "ENTRYPOINT")
    expect(entrypoints.length).toBe(1)
    const argv: unknown = JSON.parse(entrypoints[0]!.args)
    expect(argv).toEqual(["/opt/venv/bin/python", destination])
    expect(of(final, "CMD")).toEqual([])
    expect(of(final, "COPY").some((instruction) => instruction.args === "--from=build /opt/venv /opt/venv")).toBe(true)
  })

  it("sets the entrypoint's defaults: artifact dir /tmp/aiperf, termination log /dev/termination-log", () => {
    const { final } = dockerfile()
    const env = envOf(final)
    expect(env.get("AICR_TERMINATION_LOG")).toBe("/dev/termination-log")
    expect(env.get("AICR_AIPERF_ARTIFACT_DIR")).toBe("/tmp/aiperf")
    expect(env.get("PATH")).toMatch(/^\/opt\/venv\/bin:/)
    const source = readFileSync(ENTRYPOINT, "utf8")
    expect(source).toContain('DEFAULT_TERMINATION_LOG = "/dev/termination-log"')
    expect(source).toContain('DEFAULT_ARTIFACT_DIR = "/tmp/aiperf"')
    expect(source).toContain(`RESULT_SENTINEL = "${SENTINEL}"`)
  })

  it("keeps the entrypoint to the standard library", () => {
    const source = readFileSync(ENTRYPOINT, "utf8")
    const imported = [...source.matchAll(/^(?:from (\S+) import|import (\S+))/gm)].map((match) => match[1] ?? match[2])
    expect(imported.sort()).toEqual(["__future__", "json", "math", "os", "signal", "subprocess", "sys", "typing"])
  })
})
