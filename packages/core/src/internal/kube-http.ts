/**
 * Raw requests to the Kubernetes API through a `KubeConfig`'s credentials and TLS: one attempt, a per-request
 * timeout on Effect's `Clock`, failures as `KubeError`s, and the retry loop for idempotent verbs. `send` reads a
 * JSON answer whole; `open` hands the body over as a stream whose request is aborted when the scope closes.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { type Dispatcher, fetch, type Response as FetchResponse } from "undici"
import { KubeError, type Reason, reasonFromStatus } from "../KubeClient.ts"

/** Retry bounds for idempotent verbs. */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly baseDelay: Duration.Input
  readonly maxDelay: Duration.Input
  /** No retry starts when it would end later than this after the first attempt began. */
  readonly maxElapsed: Duration.Input
}

export const defaultRetryPolicy: RetryPolicy = {
  maxAttempts: 5,
  baseDelay: "200 millis",
  maxDelay: "10 seconds",
  maxElapsed: "60 seconds"
}

/** What the client reports before sleeping for a retry. */
export interface RetryEvent {
  readonly operation: string
  /** The attempt that failed, from 1. */
  readonly attempt: number
  readonly delay: Duration.Duration
  readonly error: KubeError
}

export interface Transport {
  readonly server: string
  readonly dispatcher: Dispatcher | undefined
  readonly headers: () => Promise<Record<string, string>>
  readonly requestTimeout: Duration.Duration
  readonly retry: RetryPolicy
  readonly onRetry: (event: RetryEvent) => Effect.Effect<void>
}

/** A failed attempt: the error to report, whether an idempotent request may retry it, and the server's Retry-After. */
class AttemptFailure extends Data.TaggedError("AttemptFailure")<{
  readonly error: KubeError
  readonly retryable: boolean
  readonly retryAfter: Duration.Duration | undefined
}> {}

interface StatusBody {
  readonly kind?: string
  readonly reason?: string
  readonly message?: string
  readonly details?: { readonly causes?: ReadonlyArray<{ readonly field?: string; readonly message?: string; readonly reason?: string }> }
}

const asStatus = (body: unknown): StatusBody | undefined =>
  body !== null && typeof body === "object" && (body as StatusBody).kind === "Status" ? (body as StatusBody) : undefined

/** The reason of an error answer: the HTTP status, refined by the Status `reason` where the status is ambiguous. */
export const reasonOf = (status: number, body: unknown): Reason => {
  const reason = asStatus(body)?.reason
  if (status === 409 && reason === "AlreadyExists") return "AlreadyExists"
  return reasonFromStatus(status)
}

const causesText = (status: StatusBody): string => {
  const causes = status.details?.causes ?? []
  if (causes.length === 0) return ""
  const lines = causes.map((cause) => (cause.field === undefined || cause.field === "" ? `${cause.message ?? cause.reason ?? ""}` : `${cause.field}: ${cause.message ?? cause.reason ?? ""}`))
  const message = status.message ?? ""
  const missing = lines.filter((line) => !message.includes(line))
  return missing.length === 0 ? "" : ` (${missing.join("; ")})`
}

/** The message of an error answer: the Status message (with the causes of a 422), else the HTTP status and body text. */
export const messageOf = (status: number, body: unknown, text: string): string => {
  const parsed = asStatus(body)
  if (parsed?.message !== undefined && parsed.message !== "") return status === 422 ? `${parsed.message}${causesText(parsed)}` : parsed.message
  const trimmed = text.trim()
  return `HTTP ${status}${trimmed === "" ? "" : `: ${trimmed.slice(0, 500)}`}`
}

const connectionCode = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && current !== null && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const errorText = (error: unknown): string => {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined
  return cause ?? (error instanceof Error ? error.message : String(error))
}

export interface Request {
  readonly method: "GET" | "POST" | "DELETE" | "PUT" | "PATCH"
  readonly path: string
  readonly query?: Readonly<Record<string, string | undefined>> | undefined
  readonly body?: unknown
  /** `op Kind ns/name`, the prefix of every message. */
  readonly operation: string
  readonly object?: string | undefined
}

export interface Response {
  readonly status: number
  readonly body: unknown
}

const urlOf = (server: string, request: Request): string => {
  const url = new URL(server.replace(/\/+$/, "") + request.path)
  for (const [key, value] of Object.entries(request.query ?? {})) if (value !== undefined) url.searchParams.set(key, value)
  return url.toString()
}

const jsonOption = Option.liftThrowable((text: string): unknown => JSON.parse(text))

/** The JSON value of `text`, or undefined when it is empty or not JSON. */
export const parseJson = (text: string): unknown => (text === "" ? undefined : Option.getOrUndefined(jsonOption(text)))

const retryAfterOf = (header: string | null): Duration.Duration | undefined => {
  if (header === null) return undefined
  const seconds = Number(header)
  return Number.isFinite(seconds) && seconds >= 0 ? Duration.seconds(seconds) : undefined
}

/** One attempt: the JSON answer of a 2xx, else an `AttemptFailure` (retryable for 429, 503 and connection errors). */
const attempt = (transport: Transport, request: Request): Effect.Effect<Response, AttemptFailure> => {
  const fail = (reason: Reason, message: string, retryable: boolean, retryAfter?: Duration.Duration) =>
    new AttemptFailure({
      error: new KubeError({ reason, message: `${request.operation}: ${message}`, object: request.object }),
      retryable,
      retryAfter
    })
  return Effect.tryPromise({
    try: async (signal) => {
      const headers: Record<string, string> = { ...(await transport.headers()), Accept: "application/json" }
      if (request.body !== undefined) headers["Content-Type"] = "application/json"
      const response = await fetch(urlOf(transport.server, request), {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        dispatcher: transport.dispatcher,
        signal
      })
      const text = await response.text()
      return { status: response.status, text, retryAfter: response.headers.get("retry-after") }
    },
    catch: (error) => {
      const code = connectionCode(error)
      return fail("Unavailable", `cannot reach the API server ${transport.server}: ${code === undefined ? "" : `${code} `}${errorText(error)}`.trimEnd(), true)
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: transport.requestTimeout,
      orElse: () => Effect.fail(fail("Timeout", `no answer from the API server within ${Duration.format(transport.requestTimeout)}`, false))
    }),
    Effect.flatMap(({ status, text, retryAfter }) => {
      const body = parseJson(text)
      if (status >= 200 && status < 300) {
        if (body === undefined && text !== "") return Effect.fail(fail("Unknown", `the API server answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`, false))
        return Effect.succeed({ status, body })
      }
      return Effect.fail(fail(reasonOf(status, body), messageOf(status, body, text), status === 429 || status === 503, retryAfterOf(retryAfter)))
    })
  )
}

const backoff = (policy: RetryPolicy, failed: number): Effect.Effect<Duration.Duration> =>
  Effect.map(Random.next, (random) => {
    const cap = Duration.toMillis(policy.maxDelay)
    const exponential = Math.min(cap, Duration.toMillis(policy.baseDelay) * 2 ** (failed - 1))
    return Duration.millis(Math.round(exponential / 2 + (random * exponential) / 2))
  })

/**
 * Runs `attempt` once, or, when `idempotent`, again after 429 (its Retry-After), 503 and connection errors with
 * capped exponential backoff and jitter, within `maxAttempts` and `maxElapsed`.
 */
const retrying = <A, R>(transport: Transport, operation: string, idempotent: boolean, attempt: Effect.Effect<A, AttemptFailure, R>): Effect.Effect<A, KubeError, R> =>
  Effect.gen(function*() {
    const policy = transport.retry
    const started = yield* Clock.currentTimeMillis
    for (let failed = 1; ; failed++) {
      const result = yield* Effect.result(attempt)
      if (result._tag === "Success") return result.success
      const failure = result.failure
      if (!idempotent || !failure.retryable || failed >= policy.maxAttempts) return yield* failure.error
      const cap = Duration.toMillis(policy.maxDelay)
      const delay = failure.retryAfter !== undefined
        ? Duration.millis(Math.min(cap, Duration.toMillis(failure.retryAfter)))
        : yield* backoff(policy, failed)
      const now = yield* Clock.currentTimeMillis
      if (now - started + Duration.toMillis(delay) > Duration.toMillis(policy.maxElapsed)) return yield* failure.error
      yield* transport.onRetry({ operation, attempt: failed, delay, error: failure.error })
      yield* Effect.sleep(delay)
    }
  })

/**
 * Sends `request`; when `idempotent`, retries 429 (after its Retry-After), 503 and connection errors with capped
 * exponential backoff and jitter, within `maxAttempts` and `maxElapsed`. A non-idempotent request is sent once.
 */
export const send = (transport: Transport, request: Request, idempotent: boolean): Effect.Effect<Response, KubeError> =>
  retrying(transport, request.operation, idempotent, attempt(transport, request))

/** A request whose answer is read as a stream. */
export interface StreamRequest extends Request {
  /** Headers sent besides the credentials (which win over them). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Time allowed until the response headers arrive (default: the transport's request timeout). */
  readonly timeout?: Duration.Duration | undefined
  /** Return non-2xx answers instead of failing with them (the service proxy). */
  readonly keepErrors?: boolean | undefined
}

/** An answer whose body is read as it arrives. */
export interface StreamResponse {
  readonly status: number
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>
  /** Readable once, while the scope of `open` is open. */
  readonly body: Stream.Stream<Uint8Array, KubeError>
}

const bodyStream = (response: FetchResponse, request: Request, server: string): Stream.Stream<Uint8Array, KubeError> => {
  const body = response.body
  if (body === null) return Stream.empty
  return Stream.fromReadableStream<Uint8Array, KubeError>({
    evaluate: () => body as ReadableStream<Uint8Array>,
    onError: (error) => {
      const code = connectionCode(error)
      return new KubeError({
        reason: "Unavailable",
        message: `${request.operation}: the connection to the API server ${server} broke while reading the answer: ${code === undefined ? "" : `${code} `}${errorText(error)}`.trimEnd(),
        object: request.object
      })
    }
  })
}

/** The request's headers with the credentials over any of the same name, and a JSON content type for a body that names none. */
const mergeHeaders = (request: StreamRequest, credentials: Readonly<Record<string, string>>): Record<string, string> => {
  const own = new Set(Object.keys(credentials).map((name) => name.toLowerCase()))
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers ?? {})) if (!own.has(name.toLowerCase())) headers[name] = value
  if (request.body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === "content-type")) headers["Content-Type"] = "application/json"
  return { ...headers, ...credentials }
}

/** One attempt at opening a streamed answer; the request is aborted when the scope closes. */
const openAttempt = (transport: Transport, request: StreamRequest): Effect.Effect<StreamResponse, AttemptFailure, Scope.Scope> =>
  Effect.gen(function*() {
    const fail = (reason: Reason, message: string, retryable: boolean, retryAfter?: Duration.Duration) =>
      new AttemptFailure({
        error: new KubeError({ reason, message: `${request.operation}: ${message}`, object: request.object }),
        retryable,
        retryAfter
      })
    const unreachable = (error: unknown) => {
      const code = connectionCode(error)
      return fail("Unavailable", `cannot reach the API server ${transport.server}: ${code === undefined ? "" : `${code} `}${errorText(error)}`.trimEnd(), true)
    }
    const timeout = request.timeout ?? transport.requestTimeout
    const controller = yield* Effect.acquireRelease(
      Effect.sync(() => new AbortController()),
      (controller) => Effect.sync(() => controller.abort())
    )
    const response = yield* Effect.tryPromise({
      try: (signal) => {
        signal.addEventListener("abort", () => controller.abort(), { once: true })
        return transport.headers().then((credentials) =>
          fetch(urlOf(transport.server, request), {
            method: request.method,
            headers: mergeHeaders(request, credentials),
            body: request.body === undefined ? undefined : JSON.stringify(request.body),
            redirect: "manual",
            dispatcher: transport.dispatcher,
            signal: controller.signal
          })
        )
      },
      catch: unreachable
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(fail("Timeout", `no answer from the API server within ${Duration.format(timeout)}`, false))
      })
    )
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value
    })
    if ((response.status >= 200 && response.status < 300) || request.keepErrors === true) {
      return { status: response.status, headers, body: bodyStream(response, request, transport.server) }
    }
    const text = yield* Effect.tryPromise({ try: () => response.text(), catch: unreachable }).pipe(
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(fail("Timeout", `no answer from the API server within ${Duration.format(timeout)}`, false))
      })
    )
    const body = parseJson(text)
    return yield* fail(
      reasonOf(response.status, body),
      messageOf(response.status, body, text),
      response.status === 429 || response.status === 503,
      retryAfterOf(response.headers.get("retry-after"))
    )
  })

/**
 * Opens `request` and hands its body over as a stream once the headers arrive (within the request timeout); the
 * request is aborted when the scope closes, so cancelling a reader never leaves a rejected promise behind. Non-2xx
 * answers fail as `KubeError`s unless `keepErrors`; `idempotent` requests are retried as `send` retries them.
 */
export const open = (transport: Transport, request: StreamRequest, idempotent: boolean): Effect.Effect<StreamResponse, KubeError, Scope.Scope> =>
  retrying(transport, request.operation, idempotent, openAttempt(transport, request))
