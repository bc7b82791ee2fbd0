/**
 * The run ledger: an append-only, fsynced JSON-lines file per run recording every object before it is created and
 * after it is deleted, so `aicr cleanup` finds what a killed run left behind.
 *
 * Details: the directory is `$AICR_STATE_DIR`, else `$XDG_STATE_HOME/aicr/runs`, else `~/.local/state/aicr/runs`;
 * the file is `<runId>.jsonl`. Its first line is a `header` (run ID, pid, host, start time, aicr version); then
 * `intent` (fsynced before the object is created), `created` (with the uid), `deleted`, `release-failed` (with the
 * error text) and `finished`. Each append opens the file with `a`, writes the whole line in one `write`, `fsync`s
 * and closes; appends of one `Ledger` are serialized in call order and are uninterruptible. `parse` tolerates a
 * torn last line and reports corrupt lines as `file:line`; `outstanding` gives the objects still to delete, newest
 * first; `runs` tells, per run, whether it finished and whether its process is still alive.
 *
 * Gotchas: record the object with its namespace set — the ledger does not default it. A run written on another
 * host counts as alive (its pid cannot be probed from here), and a reused pid makes a dead run look alive: both
 * err on the side of not cleaning up. The first append to an existing file whose last line is torn first ends
 * that line, so the torn line is later reported as corrupt instead of swallowing the new record.
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Semaphore from "effect/Semaphore"
import { mkdir, mkdtemp, open, readdir, readFile, rm } from "node:fs/promises"
import { homedir, hostname, tmpdir } from "node:os"
import { isAbsolute, join } from "node:path"
import type { KubeObject, ObjectRef } from "./KubeClient.ts"
import type { Recorder } from "./RunContext.ts"

/** A ledger file or directory could not be read or written: which path, and the underlying error. */
export class LedgerError extends Data.TaggedError("LedgerError")<{
  readonly path: string
  readonly message: string
  readonly cause: unknown
}> {}

const ledgerError = (path: string, doing: string) => (cause: unknown): LedgerError =>
  new LedgerError({
    path,
    message: `cannot ${doing} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/** The object fields every object record carries. */
export interface ObjectFields {
  readonly apiVersion: string
  readonly kind: string
  readonly namespace?: string | undefined
  readonly name: string
}

/** One line of a ledger file. `at` and `startedAt` are ISO-8601 times from Effect's `Clock`. */
export type Entry =
  | {
    readonly _tag: "header"
    readonly format: 1
    readonly runId: string
    readonly pid: number
    readonly host: string
    readonly startedAt: string
    readonly aicrVersion?: string | undefined
  }
  | ObjectFields & { readonly _tag: "intent"; readonly at: string; readonly labels: Readonly<Record<string, string>> }
  | ObjectFields & { readonly _tag: "created"; readonly at: string; readonly uid?: string | undefined }
  | ObjectFields & { readonly _tag: "deleted"; readonly at: string }
  | ObjectFields & { readonly _tag: "release-failed"; readonly at: string; readonly error: string }
  | { readonly _tag: "finished"; readonly at: string }

/** A line of a ledger file that was skipped: a torn last line (the writer died mid-write) or a corrupt line. */
export interface Problem {
  readonly path: string
  readonly line: number
  readonly kind: "torn" | "corrupt"
  readonly message: string
}

/** A parsed ledger file: its entries in file order and the lines that were skipped. */
export interface RunLedger {
  readonly path: string
  readonly entries: ReadonlyArray<Entry>
  readonly problems: ReadonlyArray<Problem>
}

/** An object of a run that may still exist: it has an intent or created record and no deleted record. */
export interface Outstanding extends ObjectFields {
  readonly labels: Readonly<Record<string, string>>
  readonly uid?: string | undefined
  /** Whether a `created` record was written (else the run may have died before or during the create). */
  readonly created: boolean
  /** The error of the last failed release, if any. */
  readonly releaseError?: string | undefined
}

/** A run found in the ledger directory. */
export interface RunInfo {
  readonly runId: string
  readonly path: string
  /** From the header; undefined when the header is missing or corrupt. */
  readonly pid: number | undefined
  readonly host: string | undefined
  readonly startedAt: string | undefined
  /** Whether a `finished` record was written. */
  readonly finished: boolean
  /** Whether the run's process may still be running (see `isAlive`); false without a header. */
  readonly alive: boolean
  readonly problems: ReadonlyArray<Problem>
}

const RUN_ID = /^\d{8}-\d{6}-[0-9a-f]{16}$/
const FILE = /^(\d{8}-\d{6}-[0-9a-f]{16})\.jsonl$/

/** The ledger directory for an environment: `AICR_STATE_DIR`, else `XDG_STATE_HOME/aicr/runs` (absolute only), else `<home>/.local/state/aicr/runs`. */
export const directoryFrom = (env: {
  readonly AICR_STATE_DIR?: string | undefined
  readonly XDG_STATE_HOME?: string | undefined
}, home: string): string => {
  if (env.AICR_STATE_DIR !== undefined && env.AICR_STATE_DIR !== "") return env.AICR_STATE_DIR
  if (env.XDG_STATE_HOME !== undefined && isAbsolute(env.XDG_STATE_HOME)) return join(env.XDG_STATE_HOME, "aicr", "runs")
  return join(home, ".local", "state", "aicr", "runs")
}

/** The file of a run in `directory`. */
export const pathOf = (directory: string, runId: string): string => join(directory, `${runId}.jsonl`)

/** One entry as a ledger line, newline included. */
export const encode = (entry: Entry): string => `${JSON.stringify(entry)}\n`

/** Renders a problem as `file:line: message`. */
export const formatProblem = (problem: Problem): string => `${problem.path}:${problem.line}: ${problem.message}`

type Json = { readonly [key: string]: unknown }

const str = (json: Json, key: string): string => {
  const value = json[key]
  if (typeof value !== "string" || value === "") throw new Error(`field "${key}" must be a non-empty string`)
  return value
}

const optStr = (json: Json, key: string): string | undefined => {
  const value = json[key]
  if (value === undefined) return undefined
  if (typeof value !== "string") throw new Error(`field "${key}" must be a string`)
  return value
}

const objectFields = (json: Json): ObjectFields => {
  const namespace = optStr(json, "namespace")
  return {
    apiVersion: str(json, "apiVersion"),
    kind: str(json, "kind"),
    ...(namespace === undefined ? {} : { namespace }),
    name: str(json, "name")
  }
}

const labelsOf = (json: Json): Record<string, string> => {
  const value = json["labels"]
  if (value === undefined) return {}
  if (typeof value !== "object" || value === null || Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === "string")) {
    throw new Error(`field "labels" must be an object of strings`)
  }
  return { ...(value as Record<string, string>) }
}

const toEntry = (value: unknown): Entry => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object")
  const json = value as Json
  const tag = json["_tag"]
  switch (tag) {
    case "header": {
      if (json["format"] !== 1) throw new Error(`unsupported ledger format ${JSON.stringify(json["format"])} (expected 1)`)
      const runId = str(json, "runId")
      if (!RUN_ID.test(runId)) throw new Error(`field "runId" must be YYYYMMDD-HHMMSS-<16 hex>`)
      const pid = json["pid"]
      if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 0) throw new Error(`field "pid" must be a positive integer`)
      const aicrVersion = optStr(json, "aicrVersion")
      return {
        _tag: "header",
        format: 1,
        runId,
        pid,
        host: str(json, "host"),
        startedAt: str(json, "startedAt"),
        ...(aicrVersion === undefined ? {} : { aicrVersion })
      }
    }
    case "intent":
      return { _tag: "intent", at: str(json, "at"), ...objectFields(json), labels: labelsOf(json) }
    case "created": {
      const uid = optStr(json, "uid")
      return { _tag: "created", at: str(json, "at"), ...objectFields(json), ...(uid === undefined ? {} : { uid }) }
    }
    case "deleted":
      return { _tag: "deleted", at: str(json, "at"), ...objectFields(json) }
    case "release-failed":
      return { _tag: "release-failed", at: str(json, "at"), ...objectFields(json), error: str(json, "error") }
    case "finished":
      return { _tag: "finished", at: str(json, "at") }
    default:
      throw new Error(tag === undefined ? `no record type ("_tag")` : `unknown record type ${JSON.stringify(tag)}`)
  }
}

const decodeLine = (line: string): Entry | string => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return "not valid JSON"
  }
  try {
    return toEntry(value)
  } catch (error) {
    return (error as Error).message
  }
}

/**
 * Parses the text of the ledger file at `path`. Blank lines are skipped; a line that is not a valid record is a
 * `corrupt` problem; a last line without its newline is kept if it is a complete record, else a `torn` problem.
 */
export const parse = (path: string, text: string): RunLedger => {
  const lines = text.split("\n")
  const last = lines.pop() ?? ""
  const entries: Array<Entry> = []
  const problems: Array<Problem> = []
  lines.forEach((line, index) => {
    if (line.trim() === "") return
    const decoded = decodeLine(line)
    if (typeof decoded === "string") problems.push({ path, line: index + 1, kind: "corrupt", message: decoded })
    else entries.push(decoded)
  })
  if (last !== "") {
    const decoded = decodeLine(last)
    if (typeof decoded !== "string") entries.push(decoded)
    else {
      problems.push({
        path,
        line: lines.length + 1,
        kind: "torn",
        message: `incomplete last line (${Buffer.byteLength(last)} bytes, no newline): the writer stopped mid-write; ignored`
      })
    }
  }
  return { path, entries, problems }
}

const keyOf = (ref: ObjectFields): string => `${ref.apiVersion}|${ref.kind}|${ref.namespace ?? ""}|${ref.name}`

const refFields = (ref: ObjectFields): ObjectFields => ({
  apiVersion: ref.apiVersion,
  kind: ref.kind,
  ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }),
  name: ref.name
})

/**
 * The objects with an `intent` or `created` record and no later `deleted` record, newest intent first (the order
 * to delete them in). An object deleted and then recorded again is outstanding at its new position.
 */
export const outstanding = (entries: ReadonlyArray<Entry>): ReadonlyArray<Outstanding> => {
  const open = new Map<string, Outstanding>()
  for (const entry of entries) {
    switch (entry._tag) {
      case "intent": {
        const key = keyOf(entry)
        open.delete(key)
        open.set(key, { ...refFields(entry), labels: entry.labels, created: false })
        break
      }
      case "created": {
        const key = keyOf(entry)
        const known = open.get(key)
        const uid = entry.uid === undefined ? {} : { uid: entry.uid }
        open.set(key, known === undefined
          ? { ...refFields(entry), labels: {}, ...uid, created: true }
          : { ...known, ...uid, created: true })
        break
      }
      case "deleted":
        open.delete(keyOf(entry))
        break
      case "release-failed": {
        const known = open.get(keyOf(entry))
        if (known !== undefined) open.set(keyOf(entry), { ...known, releaseError: entry.error })
        break
      }
      default:
        break
    }
  }
  return [...open.values()].reverse()
}

/** Whether process `pid` exists: `kill(pid, 0)` succeeds or fails with EPERM (alive), ESRCH means dead. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH"
  }
}

/** Summarizes a parsed run: header fields, whether it finished, and liveness (`probe`) when on `host`. */
export const summarize = (
  runId: string,
  ledger: RunLedger,
  host: string,
  probe: (pid: number) => boolean = isAlive
): RunInfo => {
  const first = ledger.entries[0]
  const header = first?._tag === "header" ? first : undefined
  return {
    runId,
    path: ledger.path,
    pid: header?.pid,
    host: header?.host,
    startedAt: header?.startedAt,
    finished: ledger.entries.some((entry) => entry._tag === "finished"),
    alive: header === undefined ? false : header.host !== host ? true : probe(header.pid),
    problems: ledger.problems
  }
}

const checkRunId = (directory: string, runId: string): Effect.Effect<string, LedgerError> =>
  RUN_ID.test(runId)
    ? Effect.succeed(pathOf(directory, runId))
    : Effect.fail(
      new LedgerError({
        path: directory,
        message: `invalid run ID "${runId}": expected YYYYMMDD-HHMMSS-<16 hex>`,
        cause: undefined
      })
    )

const nowIso = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

/** Whether the file at `path` is missing, empty, or ends with a newline. */
const endsClean = (path: string): Effect.Effect<boolean, LedgerError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => open(path, "r"), catch: (cause) => cause }),
    (handle) =>
      Effect.tryPromise({
        try: () =>
          handle.stat().then((stat) =>
            stat.size === 0
              ? true
              : handle.read(Buffer.alloc(1), 0, 1, stat.size - 1).then(({ buffer }) => buffer[0] === 0x0a)
          ),
        catch: (cause) => cause
      }),
    (handle) => Effect.ignore(Effect.tryPromise(() => handle.close()))
  ).pipe(
    Effect.catch((cause) =>
      (cause as NodeJS.ErrnoException).code === "ENOENT" ? Effect.succeed(true) : Effect.fail(ledgerError(path, "read")(cause))
    )
  )

const writeAll = (
  handle: Awaited<ReturnType<typeof open>>,
  path: string,
  bytes: Buffer,
  offset: number
): Effect.Effect<void, LedgerError> =>
  Effect.flatMap(
    Effect.tryPromise({ try: () => handle.write(bytes, offset, bytes.length - offset), catch: ledgerError(path, "write") }),
    ({ bytesWritten }) =>
      offset + bytesWritten < bytes.length ? writeAll(handle, path, bytes, offset + bytesWritten) : Effect.void
  )

/** Appends `text` to `path`: open with `a`, one write, fsync, close. */
const appendDurably = (path: string, text: string): Effect.Effect<void, LedgerError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({ try: () => open(path, "a", 0o600), catch: ledgerError(path, "open") }),
    (handle) =>
      Effect.andThen(
        writeAll(handle, path, Buffer.from(text, "utf8"), 0),
        Effect.tryPromise({ try: () => handle.sync(), catch: ledgerError(path, "fsync") })
      ),
    (handle) => Effect.ignore(Effect.tryPromise(() => handle.close()))
  )

/** fsyncs a directory so a newly created file's entry survives a crash; platforms that refuse are ignored. */
const syncDirectory = (directory: string): Effect.Effect<void> =>
  Effect.ignore(
    Effect.acquireUseRelease(
      Effect.tryPromise(() => open(directory, "r")),
      (handle) => Effect.tryPromise(() => handle.sync()),
      (handle) => Effect.ignore(Effect.tryPromise(() => handle.close()))
    )
  )

/** The ledger service: one instance appends in call order. */
export interface Service {
  /** The ledger directory. */
  readonly directory: string
  /** Creates the directory (mode 700) and writes the run's header. */
  readonly begin: (runId: string, options?: { readonly aicrVersion?: string | undefined }) => Effect.Effect<void, LedgerError>
  /** Records that `object` is about to be created; durable when the effect succeeds. */
  readonly intent: (runId: string, object: KubeObject) => Effect.Effect<void, LedgerError>
  /** Records that `object` (as returned by the API server, with `metadata.uid`) was created. */
  readonly created: (runId: string, object: KubeObject) => Effect.Effect<void, LedgerError>
  /** Records that the object is gone (deleted, or found missing). */
  readonly deleted: (runId: string, ref: ObjectRef) => Effect.Effect<void, LedgerError>
  /** Records that releasing the object failed, with the error text. */
  readonly releaseFailed: (runId: string, ref: ObjectRef, error: string) => Effect.Effect<void, LedgerError>
  /** Records the end of the run. */
  readonly finish: (runId: string) => Effect.Effect<void, LedgerError>
  /** Reads and parses a run's file. */
  readonly read: (runId: string) => Effect.Effect<RunLedger, LedgerError>
  /** Every run in the directory, oldest first; an absent directory has none. */
  readonly runs: () => Effect.Effect<ReadonlyArray<RunInfo>, LedgerError>
}

/** Builds the service over `directory`. */
export const make = (directory: string): Effect.Effect<Service> =>
  Effect.gen(function*() {
    const lock = yield* Semaphore.make(1)
    const checked = new Set<string>()

    const append = (runId: string, entry: (at: string) => Entry): Effect.Effect<void, LedgerError> =>
      Effect.gen(function*() {
        const path = yield* checkRunId(directory, runId)
        const line = encode(entry(yield* nowIso))
        const clean = checked.has(path) ? true : yield* endsClean(path)
        yield* appendDurably(path, clean ? line : `\n${line}`)
        checked.add(path)
      }).pipe(lock.withPermit, Effect.uninterruptible)

    const begin = Effect.fn("Ledger.begin")(function*(runId: string, options?: { readonly aicrVersion?: string | undefined }) {
      yield* checkRunId(directory, runId)
      yield* Effect.tryPromise({
        try: () => mkdir(directory, { recursive: true, mode: 0o700 }),
        catch: ledgerError(directory, "create the ledger directory")
      })
      yield* append(runId, (at) => ({
        _tag: "header",
        format: 1,
        runId,
        pid: process.pid,
        host: hostname(),
        startedAt: at,
        ...(options?.aicrVersion === undefined ? {} : { aicrVersion: options.aicrVersion })
      }))
      yield* syncDirectory(directory)
    })

    const intent = Effect.fn("Ledger.intent")(function*(runId: string, object: KubeObject) {
      yield* append(runId, (at) => ({
        _tag: "intent",
        at,
        ...refFields({ ...object, ...object.metadata }),
        labels: { ...object.metadata.labels }
      }))
    })

    const created = Effect.fn("Ledger.created")(function*(runId: string, object: KubeObject) {
      const uid = object.metadata["uid"]
      yield* append(runId, (at) => ({
        _tag: "created",
        at,
        ...refFields({ ...object, ...object.metadata }),
        ...(typeof uid === "string" ? { uid } : {})
      }))
    })

    const deleted = Effect.fn("Ledger.deleted")(function*(runId: string, ref: ObjectRef) {
      yield* append(runId, (at) => ({ _tag: "deleted", at, ...refFields(ref) }))
    })

    const releaseFailed = Effect.fn("Ledger.releaseFailed")(function*(runId: string, ref: ObjectRef, error: string) {
      yield* append(runId, (at) => ({ _tag: "release-failed", at, ...refFields(ref), error }))
    })

    const finish = Effect.fn("Ledger.finish")(function*(runId: string) {
      yield* append(runId, (at) => ({ _tag: "finished", at }))
    })

    const read = Effect.fn("Ledger.read")(function*(runId: string) {
      const path = yield* checkRunId(directory, runId)
      const text = yield* Effect.tryPromise({ try: () => readFile(path, "utf8"), catch: ledgerError(path, "read") })
      return parse(path, text)
    })

    const runs = Effect.fn("Ledger.runs")(function*() {
      const names = yield* Effect.tryPromise({
        try: () => readdir(directory).catch((error: NodeJS.ErrnoException) => error.code === "ENOENT" ? [] : Promise.reject(error)),
        catch: ledgerError(directory, "list")
      })
      const ids = names.flatMap((name) => FILE.exec(name)?.[1] ?? []).sort()
      const host = hostname()
      return yield* Effect.forEach(ids, (runId) => Effect.map(read(runId), (ledger) => summarize(runId, ledger, host)))
    })

    return { directory, begin, intent, created, deleted, releaseFailed, finish, read, runs }
  })

/** The ledger of `runId` as a `RunContext.Recorder`, for `Acquire.acquire`. */
export const recorder = (ledger: Service, runId: string): Recorder => ({
  intent: (object) => ledger.intent(runId, object),
  created: (object) => ledger.created(runId, object),
  deleted: (ref) => ledger.deleted(runId, ref),
  releaseFailed: (ref, error) => ledger.releaseFailed(runId, ref, error)
})

/** The ledger directory from the environment (`AICR_STATE_DIR`, `XDG_STATE_HOME`, `HOME`), see `directoryFrom`. */
export const directoryConfig = Config.all({
  AICR_STATE_DIR: Config.option(Config.String("AICR_STATE_DIR")),
  XDG_STATE_HOME: Config.option(Config.String("XDG_STATE_HOME")),
  HOME: Config.option(Config.String("HOME"))
}).pipe(
  Config.map((env) =>
    directoryFrom(
      { AICR_STATE_DIR: Option.getOrUndefined(env.AICR_STATE_DIR), XDG_STATE_HOME: Option.getOrUndefined(env.XDG_STATE_HOME) },
      Option.getOrElse(env.HOME, homedir)
    )
  )
)

/** The run ledger service. */
export class Ledger extends Context.Service<Ledger, Service>()("@aicr/core/Ledger") {
  /** The ledger in the directory given by the environment (see `directoryConfig`). */
  static readonly layer = Layer.effect(Ledger, Effect.flatMap(directoryConfig, make))

  /** The ledger in `directory`. */
  static readonly layerAt = (directory: string) => Layer.effect(Ledger, make(directory))

  /** The ledger in a fresh temporary directory, removed when the layer's scope closes. */
  static readonly layerTest = Layer.effect(
    Ledger,
    Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "aicr-ledger-"))),
      (directory) => Effect.promise(() => rm(directory, { recursive: true, force: true }))
    ).pipe(Effect.flatMap(make))
  )
}
