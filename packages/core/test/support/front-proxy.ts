import type { Sim } from "@aicr/kube-sim"
import * as Effect from "effect/Effect"
import { writeFileSync } from "node:fs"
import { createServer, type IncomingMessage, request as httpRequest, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** What the front proxy does with a request itself: a JSON answer, or a handler that writes the response. */
export type Answer =
  | { readonly status: number; readonly body: unknown }
  | ((request: IncomingMessage, response: ServerResponse) => void)

/**
 * A loopback HTTP proxy in front of a plain-HTTP sim: requests `answer` picks are answered here (a forced 410, a
 * body cut into chosen chunks), the rest pass through, streams included.
 */
export const frontProxy = (sim: Sim, answer: (url: URL, request: IncomingMessage) => Answer | undefined) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly server: Server; readonly url: string }>((resolve) => {
        const target = new URL(sim.url)
        const server = createServer((req, res) => {
          const own = answer(new URL(req.url ?? "/", "http://front"), req)
          if (typeof own === "function") return own(req, res)
          if (own !== undefined) {
            res.writeHead(own.status, { "Content-Type": "application/json" })
            return void res.end(JSON.stringify(own.body))
          }
          const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (reply) => {
            res.writeHead(reply.statusCode ?? 502, reply.headers)
            reply.pipe(res)
          })
          res.on("close", () => upstream.destroy())
          req.pipe(upstream)
        })
        server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }))
      })
    ),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  )

/** A copy of the sim's kubeconfig (admin token, plain HTTP) that points at `server`. */
export const kubeconfigFor = (sim: Sim, server: string): string => {
  const path = `${sim.kubeconfigPath}-${new URL(server).port}`
  writeFileSync(path, sim.kubeconfig.replace(sim.url, server))
  return path
}
