import { startSim, type Sim } from "@aicr/kube-sim"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import type { IncomingMessage } from "node:http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { decodeUtf8 } from "../src/internal/kube-stream.ts"
import type { KubeError } from "../src/KubeClient.ts"
import * as KubeClientLive from "../src/KubeClientLive.ts"
import { frontProxy, kubeconfigFor } from "./support/front-proxy.ts"

let sim: Sim

beforeAll(async () => {
  sim = await startSim()
})

afterAll(async () => {
  await sim.stop()
})

const api = (options: Omit<KubeClientLive.Options, "kubeconfig"> & { readonly kubeconfig?: string } = {}) =>
  Effect.flatMap(
    Effect.orDie(KubeClientLive.loadKubeConfig({ kubeconfig: options.kubeconfig ?? sim.kubeconfigPath })),
    (kc) => Effect.orDie(KubeClientLive.make(kc, options))
  )

const namespace = (name: string) => {
  sim.seed([{ apiVersion: "v1", kind: "Namespace", metadata: { name } }])
  return name
}

const pod = (ns: string, name: string, containers: ReadonlyArray<string> = ["main"]) => {
  sim.seed([{
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: { containers: containers.map((container) => ({ name: container, image: "busybox:1.37" })) }
  }])
  return { namespace: ns, name }
}

const service = (ns: string, name: string) => {
  sim.seed([{ apiVersion: "v1", kind: "Service", metadata: { name, namespace: ns }, spec: { ports: [{ name: "http", port: 8000 }] } }])
  return name
}

const text = <E>(stream: Stream.Stream<string, E>) => Effect.map(Stream.runCollect(stream), (chunks) => chunks.join(""))

const bytesText = <E>(stream: Stream.Stream<Uint8Array, E>) => text(decodeUtf8(stream))

const realSleep = (ms: number) => Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))

/** Polls `check` in real time (the test clock does not move) until it holds. */
const until = (check: () => boolean) =>
  Effect.promise(async () => {
    for (let waited = 0; !check(); waited += 5) {
      if (waited > 5_000) throw new Error("condition not met within 5 s")
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })

/** Collects unhandled rejections and uncaught exceptions for the rest of the test. */
const strayErrors = Effect.acquireRelease(
  Effect.sync(() => {
    const seen: Array<unknown> = []
    const record = (error: unknown) => void seen.push(error)
    process.on("unhandledRejection", record)
    process.on("uncaughtException", record)
    return { seen, record }
  }),
  ({ record }) =>
    Effect.sync(() => {
      process.off("unhandledRejection", record)
      process.off("uncaughtException", record)
    })
)

const readBody = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })

describe("decodeUtf8", () => {
  it.effect("decodes a character split across chunks whole", () =>
    Effect.gen(function*() {
      const bytes = Buffer.from("h€llo ✓\n", "utf8")
      const chunks = [bytes.subarray(0, 2), bytes.subarray(2, 3), bytes.subarray(3, 9), bytes.subarray(9)]
      expect(yield* Stream.runCollect(decodeUtf8(Stream.fromIterable(chunks)))).toEqual(["h", "€llo ", "✓\n"])
    }))
})

describe("KubeClientLive.logs against kube-sim", () => {
  it.effect("reads the last lines with tailLines", () =>
    Effect.gen(function*() {
      const target = pod(namespace("logs-tail"), "p")
      sim.logs.append(target.namespace, "p", "main", "one\ntwo\nthree\n")
      const client = yield* api()
      expect(yield* text(client.logs(target, { tailLines: 2 }))).toBe("two\nthree\n")
      expect(yield* text(client.logs(target))).toBe("one\ntwo\nthree\n")
    }))

  it.effect("cuts the log at limitBytes", () =>
    Effect.gen(function*() {
      const target = pod(namespace("logs-limit"), "p")
      sim.logs.append(target.namespace, "p", "main", "one\ntwo\nthree\n")
      const client = yield* api()
      expect(yield* text(client.logs(target, { limitBytes: 6 }))).toBe("one\ntw")
    }))

  it.effect("reads a chosen container, and the previous container's log", () =>
    Effect.gen(function*() {
      const target = pod(namespace("logs-containers"), "p", ["main", "side"])
      sim.logs.append(target.namespace, "p", "side", "first run\n")
      sim.logs.restart(target.namespace, "p", "side")
      sim.logs.append(target.namespace, "p", "side", "second run\n")
      const client = yield* api()
      expect(yield* text(client.logs(target, { container: "side" }))).toBe("second run\n")
      expect(yield* text(client.logs(target, { container: "side", previous: true }))).toBe("first run\n")
      const unnamed = yield* Effect.flip(text(client.logs(target)))
      expect(unnamed.reason).toBe("Invalid")
      expect(unnamed.message).toBe(`logs Pod ${target.namespace}/p: a container name must be specified for pod p, choose one of: [main side]`)
    }))

  it.effect("follows: new output arrives as it is written and the stream ends with the container", () =>
    Effect.gen(function*() {
      const target = pod(namespace("logs-follow"), "p")
      sim.logs.append(target.namespace, "p", "main", "one\n")
      const client = yield* api()
      const received: Array<string> = []
      const fiber = yield* Effect.forkChild(Stream.runForEach(client.logs(target, { follow: true }), (chunk) => Effect.sync(() => void received.push(chunk))))
      yield* until(() => received.join("") === "one\n")
      sim.logs.append(target.namespace, "p", "main", "two\n")
      yield* until(() => received.join("") === "one\ntwo\n")
      sim.logs.append(target.namespace, "p", "main", "three\n")
      sim.logs.end(target.namespace, "p", "main")
      yield* Fiber.join(fiber)
      expect(received.join("")).toBe("one\ntwo\nthree\n")
    }))

  it.live("cancelling a followed stream (take, interrupt) neither fails nor leaves a rejection behind", () =>
    Effect.gen(function*() {
      const stray = yield* strayErrors
      const target = pod(namespace("logs-cancel"), "p")
      sim.logs.append(target.namespace, "p", "main", "one\n")
      const client = yield* api()
      const first = yield* Stream.runCollect(client.logs(target, { follow: true }).pipe(Stream.take(1)))
      expect(first).toEqual(["one\n"])
      const received: Array<string> = []
      const fiber = yield* Effect.forkChild(Stream.runForEach(client.logs(target, { follow: true }), (chunk) => Effect.sync(() => void received.push(chunk))))
      yield* until(() => received.length > 0)
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)).toBe(true)
      sim.logs.append(target.namespace, "p", "main", "after the reader left\n")
      yield* Effect.sleep("100 millis")
      expect(stray.seen).toEqual([])
      expect(sim.audit.filter({ resource: "pods", subresource: "log", namespace: target.namespace }).map((record) => record.code)).toEqual([200, 200])
    }))

  it.effect("decodes UTF-8 split across network chunks", () =>
    Effect.gen(function*() {
      const ns = namespace("logs-utf8")
      const bytes = Buffer.from("naïve €5\n", "utf8")
      const front = yield* frontProxy(sim, (url) =>
        url.pathname.endsWith("/log")
          ? (_request, response) => {
            response.writeHead(200, { "Content-Type": "text/plain" })
            response.write(bytes.subarray(0, 3))
            setTimeout(() => {
              response.write(bytes.subarray(3, 7))
              setTimeout(() => response.end(bytes.subarray(7)), 10)
            }, 10)
          }
          : undefined)
      const client = yield* api({ kubeconfig: kubeconfigFor(sim, front.url) })
      const chunks = yield* Stream.runCollect(client.logs({ namespace: ns, name: "p" }))
      expect(chunks.join("")).toBe("naïve €5\n")
      expect(chunks.some((chunk) => chunk.includes("\uFFFD"))).toBe(false)
    }))

  it.effect("a missing pod is NotFound naming the pod", () =>
    Effect.gen(function*() {
      const ns = namespace("logs-missing")
      const client = yield* api()
      const error = yield* Effect.flip(text(client.logs({ namespace: ns, name: "ghost" })))
      expect(error.reason).toBe("NotFound")
      expect(error.object).toBe(`Pod ${ns}/ghost`)
      expect(error.message).toBe(`logs Pod ${ns}/ghost: pods "ghost" not found`)
    }))

  it.effect("an unknown container is Invalid naming the container", () =>
    Effect.gen(function*() {
      const target = pod(namespace("logs-bad-container"), "p")
      const client = yield* api()
      const error = yield* Effect.flip(text(client.logs(target, { container: "nope" })))
      expect(error.reason).toBe("Invalid")
      expect(error.message).toBe(`logs Pod ${target.namespace}/p container nope: container nope is not valid for pod p`)
    }))
})

describe("KubeClientLive.proxy against kube-sim", () => {
  it.effect("a JSON POST round trip: method, path, query, headers and body reach the service; status and headers come back", () =>
    Effect.gen(function*() {
      const ns = namespace("proxy-post")
      const svc = service(ns, "api")
      sim.registerProxy(ns, svc, 8000, (request, response, path) => {
        void readBody(request).then((body) => {
          response.writeHead(201, { "Content-Type": "application/json", "X-Served-By": "echo" })
          response.end(JSON.stringify({
            method: request.method,
            path,
            query: new URL(request.url ?? "/", "http://x").search,
            contentType: request.headers["content-type"],
            custom: request.headers["x-request-id"],
            body: JSON.parse(body)
          }))
        })
      })
      const client = yield* api()
      const response = yield* client.proxy({
        namespace: ns,
        service: svc,
        port: 8000,
        path: "/v1/chat/completions?stream=false",
        method: "POST",
        json: { model: "m", messages: [{ role: "user", content: "hi" }] },
        headers: { "X-Request-Id": "r-1" }
      })
      expect(response.status).toBe(201)
      expect(response.headers["x-served-by"]).toBe("echo")
      expect(response.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(yield* bytesText(response.body))).toEqual({
        method: "POST",
        path: "/v1/chat/completions",
        query: "?stream=false",
        contentType: "application/json",
        custom: "r-1",
        body: { model: "m", messages: [{ role: "user", content: "hi" }] }
      })
      const [record] = sim.audit.filter({ resource: "services", subresource: "proxy", namespace: ns })
      expect(record?.path).toBe(`/api/v1/namespaces/${ns}/services/api:8000/proxy/v1/chat/completions`)
    }))

  it.effect("a named port and a GET", () =>
    Effect.gen(function*() {
      const ns = namespace("proxy-named-port")
      const svc = service(ns, "web")
      sim.registerProxy(ns, svc, "http", (request, response, path) => {
        response.writeHead(200, { "Content-Type": "text/plain" })
        response.end(`${request.method} ${path}`)
      })
      const client = yield* api()
      const response = yield* client.proxy({ namespace: ns, service: svc, port: "http", path: "/health" })
      expect(response.status).toBe(200)
      expect(yield* bytesText(response.body)).toBe("GET /health")
    }))

  it.effect("the body streams: the first chunk is read before the service writes the second", () =>
    Effect.gen(function*() {
      const ns = namespace("proxy-stream")
      const svc = service(ns, "events")
      let release = () => {}
      const gate = new Promise<void>((resolve) => (release = resolve))
      sim.registerProxy(ns, svc, 8000, (_request, response) => {
        response.writeHead(200, { "Content-Type": "text/event-stream" })
        response.write("data: first\n\n")
        void gate.then(() => response.end("data: second\n\n"))
      })
      const client = yield* api()
      const response = yield* client.proxy({ namespace: ns, service: svc, port: 8000, path: "/stream" })
      const received: Array<string> = []
      yield* decodeUtf8(response.body).pipe(
        Stream.runForEach((chunk) =>
          Effect.sync(() => {
            received.push(chunk)
            if (received.length === 1) release()
          })
        )
      )
      expect(received).toEqual(["data: first\n\n", "data: second\n\n"])
    }))

  it.effect("no response headers within the per-request timeout is a KubeError Timeout (TestClock), and the request is aborted", () =>
    Effect.gen(function*() {
      const ns = namespace("proxy-timeout")
      const svc = service(ns, "slow")
      let arrived = false
      let aborted = false
      sim.registerProxy(ns, svc, 8000, (request) => {
        arrived = true
        request.on("close", () => void (aborted = true))
      })
      const client = yield* api()
      const fiber = yield* Effect.forkChild(Effect.flip(Effect.scoped(client.proxy({ namespace: ns, service: svc, port: 8000, path: "/hang", timeout: "3 seconds" }))))
      yield* until(() => arrived)
      yield* TestClock.adjust("2999 millis")
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const error: KubeError = yield* Fiber.join(fiber)
      expect(error.reason).toBe("Timeout")
      expect(error.object).toBe(`Service ${ns}/slow`)
      expect(error.message).toBe(`proxy GET Service ${ns}/slow:8000/hang: no answer from the API server within 3s`)
      yield* until(() => aborted)
      expect(sim.audit.filter({ resource: "services", subresource: "proxy", namespace: ns })).toHaveLength(1)
    }))

  it.effect("non-2xx answers are returned: the service's 500 and 302 (not followed), no endpoints (503) and a missing service (404)", () =>
    Effect.gen(function*() {
      const ns = namespace("proxy-errors")
      const svc = service(ns, "broken")
      sim.registerProxy(ns, svc, 8000, (_request, response, path) => {
        if (path === "/moved") {
          response.writeHead(302, { Location: "http://127.0.0.1:1/elsewhere" })
          return void response.end()
        }
        response.writeHead(500, { "Content-Type": "text/plain" })
        response.end("model crashed")
      })
      service(ns, "idle")
      const client = yield* api()
      const broken = yield* client.proxy({ namespace: ns, service: svc, port: 8000, path: "/v1/models" })
      expect(broken.status).toBe(500)
      expect(yield* bytesText(broken.body)).toBe("model crashed")
      const moved = yield* client.proxy({ namespace: ns, service: svc, port: 8000, path: "/moved" })
      expect(moved.status).toBe(302)
      expect(moved.headers["location"]).toBe("http://127.0.0.1:1/elsewhere")
      const idle = yield* client.proxy({ namespace: ns, service: "idle", port: 8000, path: "/" })
      expect(idle.status).toBe(503)
      expect(JSON.parse(yield* bytesText(idle.body))).toMatchObject({ kind: "Status", code: 503, message: `no endpoints available for service "idle"` })
      const missing = yield* client.proxy({ namespace: ns, service: "ghost", port: 8000, path: "/" })
      expect(missing.status).toBe(404)
      expect(JSON.parse(yield* bytesText(missing.body))).toMatchObject({ kind: "Status", code: 404, reason: "NotFound" })
    }))

  it.effect("closing the scope releases an unfinished body (the service sees the connection close)", () =>
    Effect.gen(function*() {
      const ns = namespace("proxy-release")
      const svc = service(ns, "endless")
      let closed = false
      sim.registerProxy(ns, svc, 8000, (_request, response) => {
        response.writeHead(200, { "Content-Type": "text/plain" })
        response.write("tick\n")
        response.on("close", () => void (closed = true))
      })
      const client = yield* api()
      const first = yield* Effect.scoped(
        Effect.flatMap(client.proxy({ namespace: ns, service: svc, port: 8000, path: "/ticks" }), (response) =>
          Stream.runCollect(decodeUtf8(response.body).pipe(Stream.take(1))))
      )
      expect(first).toEqual(["tick\n"])
      yield* until(() => closed)
      expect(closed).toBe(true)
    }))

  it.effect("an API server that cannot be reached is a KubeError Unavailable", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const server = createServer()
          server.listen(0, "127.0.0.1", () => {
            const free = (server.address() as AddressInfo).port
            server.close(() => resolve(free))
          })
        })
      )
      const client = yield* api({ kubeconfig: kubeconfigFor(sim, `http://127.0.0.1:${port}`), retry: { maxAttempts: 1 } })
      const error = yield* Effect.flip(Effect.scoped(client.proxy({ namespace: "default", service: "svc", port: 80, path: "/", method: "POST", json: {} })))
      expect(error.reason).toBe("Unavailable")
      expect(error.message).toBe(`proxy POST Service default/svc:80/: cannot reach the API server http://127.0.0.1:${port}: ECONNREFUSED connect ECONNREFUSED 127.0.0.1:${port}`)
    }))
})

describe("real time", () => {
  it.live("a followed log keeps delivering while idle", () =>
    Effect.gen(function*() {
      const target = pod(namespace("logs-idle"), "p")
      const client = yield* api()
      const received: Array<string> = []
      const fiber = yield* Effect.forkChild(Stream.runForEach(client.logs(target, { follow: true }), (chunk) => Effect.sync(() => void received.push(chunk))))
      yield* realSleep(100)
      sim.logs.append(target.namespace, "p", "main", "late line\n")
      yield* until(() => received.length > 0)
      yield* Fiber.interrupt(fiber)
      expect(received).toEqual(["late line\n"])
    }))
})
