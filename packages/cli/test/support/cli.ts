import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The CLI entry point the tests run, as a user's shell would. */
export const binPath = fileURLToPath(new URL("../../bin/aicr.js", import.meta.url))

/** The fixtures directory of the CLI tests. */
export const fixturesDir = fileURLToPath(new URL("../fixtures/", import.meta.url))

/** A path under the fixtures directory. */
export const fixture = (...parts: ReadonlyArray<string>): string => join(fixturesDir, ...parts)

/** The commit the tests pin (`AICR_COMMIT`), so dev image tags are `sha-<COMMIT>` whatever the checkout is. */
export const COMMIT = "0123456789abcdef0123456789abcdef01234567"

export interface CliOptions {
  /** Working directory; default the fixtures directory (which has no aicr.config). */
  readonly cwd?: string | undefined
  /** Added to the environment; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

export interface CliResult {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * The environment of a CLI run: this process's, without inherited `AICR_*` variables (they steer images and
 * plugins) and without colour (Nx forces it), with the pinned commit, then `env`.
 */
const environment = (env: CliOptions["env"]): NodeJS.ProcessEnv => {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("AICR_") && key !== "FORCE_COLOR" && key !== "KUBECONFIG")
  )
  return { ...inherited, NO_COLOR: "1", AICR_COMMIT: COMMIT, ...cluster, ...env }
}

let cluster: Readonly<Record<string, string>> = {}

/**
 * Points every later CLI run at a cluster and a ledger directory (`KUBECONFIG`, `AICR_STATE_DIR`); the user's own
 * `KUBECONFIG` is never inherited.
 */
export const useCluster = (kubeconfig: string, stateDir: string): void => {
  cluster = { KUBECONFIG: kubeconfig, AICR_STATE_DIR: stateDir }
}

/** Runs `aicr ...args` to completion with the Node that runs the tests (Node 24) and returns its exit and output. */
export const runCliSync = (args: ReadonlyArray<string>, options: CliOptions = {}): CliResult => {
  const result = spawnSync(process.execPath, [binPath, ...args], {
    cwd: options.cwd ?? fixturesDir,
    env: environment(options.env),
    encoding: "utf8"
  })
  if (result.error !== undefined) throw result.error
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

/** A CLI process still running: its child, its output so far, and its result when it exits. */
export interface RunningCli {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves when stderr contains `text`; rejects after `timeoutMs` or when the process exits first. */
  readonly waitForStderr: (text: string, timeoutMs?: number) => Promise<void>
  readonly signal: (signal: NodeJS.Signals) => void
  readonly result: Promise<CliResult>
}

/** Starts `aicr ...args` without waiting, so a test can watch its output and send it a signal. */
export const startCli = (args: ReadonlyArray<string>, options: CliOptions = {}): RunningCli => {
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: options.cwd ?? fixturesDir,
    env: environment(options.env),
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const listeners = new Set<() => void>()
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk
    for (const listener of listeners) listener()
  })
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (status, signal) => {
      for (const listener of listeners) listener()
      resolve({ status, signal, stdout, stderr })
    })
  })
  const waitForStderr = (text: string, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        listeners.delete(check)
        clearTimeout(timer)
        if (error === undefined) resolve()
        else reject(error)
      }
      const check = () => {
        if (stderr.includes(text)) done()
        else if (child.exitCode !== null || child.signalCode !== null) {
          done(new Error(`aicr exited (${child.exitCode ?? child.signalCode}) before stderr showed ${JSON.stringify(text)}:\n${stderr}`))
        }
      }
      const timer = setTimeout(() => done(new Error(`stderr did not show ${JSON.stringify(text)} within ${timeoutMs} ms:\n${stderr}`)), timeoutMs)
      listeners.add(check)
      check()
    })
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForStderr,
    signal: (signal) => void child.kill(signal),
    result
  }
}

/** Runs `aicr ...args` to completion without blocking the test process (tests of a concurrent block share it). */
export const runCli = (args: ReadonlyArray<string>, options: CliOptions = {}): Promise<CliResult> =>
  startCli(args, options).result
