/**
 * Streamed answers of the Kubernetes API: pod logs (decoded as UTF-8 across chunk boundaries, cancellable while
 * following) and HTTP through the API server's service proxy (the body as a stream released with the scope).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { KubeError, LogOptions, ProxyRequest, ProxyResponse } from "../KubeClient.ts"
import { open, type Transport } from "./kube-http.ts"

const enc = encodeURIComponent

const DEFAULT_PROXY_TIMEOUT = Duration.seconds(30)

/** UTF-8 text of a byte stream; a character split across chunks is decoded whole. */
export const decodeUtf8 = <E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<string, E, R> =>
  bytes.pipe(Stream.decodeText, Stream.filter((text) => text !== ""))

const optional = (value: number | boolean | undefined): string | undefined => (value === undefined ? undefined : String(value))

/**
 * A pod's log as text chunks. Failures name the pod (and the container when one is given); cancelling the stream
 * aborts the request and never fails.
 */
export const logs = (
  transport: Transport,
  pod: { readonly namespace: string; readonly name: string },
  options: LogOptions = {}
): Stream.Stream<string, KubeError> => {
  const object = `Pod ${pod.namespace}/${pod.name}`
  const operation = `logs ${object}${options.container === undefined ? "" : ` container ${options.container}`}`
  return decodeUtf8(
    Stream.unwrap(
      Effect.map(
        open(transport, {
          method: "GET",
          path: `/api/v1/namespaces/${enc(pod.namespace)}/pods/${enc(pod.name)}/log`,
          query: {
            container: options.container,
            tailLines: optional(options.tailLines),
            limitBytes: optional(options.limitBytes),
            follow: options.follow === true ? "true" : undefined,
            previous: options.previous === true ? "true" : undefined
          },
          headers: { Accept: "text/plain, */*" },
          operation,
          object
        }, true),
        (response) => response.body
      )
    )
  )
}

const proxyPath = (request: ProxyRequest): string => {
  const path = request.path.startsWith("/") ? request.path : `/${request.path}`
  return `/api/v1/namespaces/${enc(request.namespace)}/services/${enc(request.service)}:${enc(String(request.port))}/proxy${path}`
}

/**
 * An HTTP request through the service proxy. The timeout bounds the wait for the response headers; any status is
 * returned, and the body is a stream of the answer as it arrives, aborted when the scope closes. Only a failure to
 * reach the API server (or no headers in time) is a `KubeError`. A GET is retried on connection errors; other
 * methods are sent once.
 */
export const proxy = (transport: Transport, request: ProxyRequest): Effect.Effect<ProxyResponse, KubeError, Scope.Scope> => {
  const method = request.method ?? "GET"
  const object = `Service ${request.namespace}/${request.service}`
  const timeout = request.timeout === undefined ? DEFAULT_PROXY_TIMEOUT : Duration.fromInputUnsafe(request.timeout)
  return Effect.map(
    open(transport, {
      method,
      path: proxyPath(request),
      body: request.json,
      headers: request.headers,
      timeout,
      keepErrors: true,
      operation: `proxy ${method} ${object}:${request.port}${request.path}`,
      object
    }, method === "GET"),
    (response): ProxyResponse => ({ status: response.status, headers: response.headers, body: response.body })
  )
}
