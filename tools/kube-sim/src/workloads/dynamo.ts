/**
 * The Dynamo serving stack of a DynamoGraphDeployment: vLLM workers that load their model and turn Ready, and a
 * frontend serving the OpenAI-compatible API behind `services/<dgd>-frontend:8000/proxy`, answering 503 until
 * every worker is Ready and warm.
 *
 * Error bodies follow the Dynamo frontend (ai-dynamo/dynamo `lib/llm/src/http/service/openai.rs`, `ErrorMessage`:
 * `{"message", "type", "code"}`; `Service is not ready` with 503, `Model not found` with 404).
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import type { ProxyHandler } from "../server.ts"
import type { KubeObject } from "../types.ts"
import type { Random, Workload, World } from "../world.ts"
import { commandText, commandWords } from "./shell.ts"
import { containerEnv, containersOf, isReady, labelsOf, podsIn, simulatedSleep, specOf, untilAborted } from "./pods.ts"

export const DGD_LABEL = "nvidia.com/dynamo-graph-deployment-name"
export const COMPONENT_TYPE_LABEL = "nvidia.com/dynamo-component-type"
export const FRONTEND_PORT = 8000

const DGD_KEY = "nvidia.com/dynamographdeployments"
const WORKER_TYPES: ReadonlySet<string> = new Set(["worker", "decode", "prefill"])
const FRONTEND_COMMAND = /dynamo\.frontend/

type Json = Record<string, unknown>
const record = (value: unknown): Json | undefined => (value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : undefined)

// ---------------------------------------------------------------------------------------------------------------
// State of a deployment

export interface DynamoStatus {
  /** Some frontend pod of the deployment is Ready. */
  readonly frontendReady: boolean
  readonly readyWorkers: number
  /** Worker replicas the DGD asks for (or the worker pods there are, if more). */
  readonly expectedWorkers: number
  /**
   * Completions are served: once every worker has been Ready for `warmupSeconds`, for as long as one stays Ready
   * (no frontend running: whenever a worker is Ready); never while `faults.neverWarm` holds the deployment.
   */
  readonly warm: boolean
  /** The model name the workers serve, when it can be read from their command lines or the frontend's env. */
  readonly model?: string | undefined
}

const replicas = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) ? value : 1)

/** Worker replicas of a DGD: `spec.services` (v1alpha1, `componentType`) or `spec.components` (v1beta1, `type`). */
const expectedFromSpec = (dgd: KubeObject | undefined): number => {
  const spec = specOf(dgd)
  let total = 0
  for (const service of Object.values(record(spec["services"]) ?? {})) {
    const entry = record(service)
    if (WORKER_TYPES.has(String(entry?.["componentType"] ?? ""))) total += replicas(entry?.["replicas"])
  }
  for (const component of Array.isArray(spec["components"]) ? spec["components"] : []) {
    const entry = record(component)
    if (WORKER_TYPES.has(String(entry?.["type"] ?? ""))) total += replicas(entry?.["replicas"])
  }
  return total
}

const flagValue = (words: ReadonlyArray<string>, flag: string): string | undefined => {
  for (let index = 0; index < words.length; index++) {
    if (words[index] === flag) return words[index + 1]
    if (words[index]!.startsWith(`${flag}=`)) return words[index]!.slice(flag.length + 1)
  }
  return undefined
}

/** The model a worker container serves: `--served-model-name`, else `--model`. */
export const workerModel = (world: World, pod: KubeObject, container: { name: string; image: string; command?: Array<string>; args?: Array<string> }): string | undefined => {
  const words = commandWords(container, containerEnv(world, pod, container.name))
  return flagValue(words, "--served-model-name") ?? flagValue(words, "--model")
}

const podsOf = (world: World, namespace: string, dgd: string): Array<KubeObject> =>
  podsIn(world, namespace).filter((pod) => labelsOf(pod)[DGD_LABEL] === dgd && pod.metadata.deletionTimestamp === undefined)

const servedModel = (world: World, pods: ReadonlyArray<KubeObject>): string | undefined => {
  for (const pod of pods) {
    if (!WORKER_TYPES.has(labelsOf(pod)[COMPONENT_TYPE_LABEL] ?? "")) continue
    for (const container of containersOf(pod)) {
      const model = workerModel(world, pod, container as { name: string; image: string; command?: Array<string>; args?: Array<string> })
      if (model !== undefined) return model
    }
  }
  for (const pod of pods) {
    if (labelsOf(pod)[COMPONENT_TYPE_LABEL] !== "frontend") continue
    for (const container of containersOf(pod)) {
      const model = containerEnv(world, pod, String(container["name"])).get("SERVED_MODEL_NAME")
      if (model !== undefined && model !== "") return model
    }
  }
  return undefined
}

interface Counts {
  readonly frontendReady: boolean
  readonly readyWorkers: number
  readonly expectedWorkers: number
}

const counts = (world: World, namespace: string, dgd: string, pods = podsOf(world, namespace, dgd)): Counts => {
  const workers = pods.filter((pod) => WORKER_TYPES.has(labelsOf(pod)[COMPONENT_TYPE_LABEL] ?? ""))
  return {
    frontendReady: pods.some((pod) => labelsOf(pod)[COMPONENT_TYPE_LABEL] === "frontend" && isReady(pod)),
    readyWorkers: workers.filter(isReady).length,
    expectedWorkers: Math.max(expectedFromSpec(world.cluster.store.get(DGD_KEY, namespace, dgd)), workers.length)
  }
}

const allReady = (state: Counts): boolean => state.expectedWorkers > 0 && state.readyWorkers >= state.expectedWorkers

// ---------------------------------------------------------------------------------------------------------------
// Frontends: one warm-up tracker and proxy registration per deployment, shared by its frontend replicas

interface Frontend {
  users: number
  warm: boolean
  cancelWarmup: (() => void) | undefined
  readonly stop: () => void
}

const frontends = new WeakMap<World, Map<string, Frontend>>()

const frontendOf = (world: World, namespace: string, dgd: string): Frontend | undefined => frontends.get(world)?.get(`${namespace}/${dgd}`)

/** The state of deployment `dgd` in `namespace` as a client of its frontend would find it. */
export const dynamoStatus = (world: World, namespace: string, dgd: string): DynamoStatus => {
  const pods = podsOf(world, namespace, dgd)
  const state = counts(world, namespace, dgd, pods)
  const frontend = frontendOf(world, namespace, dgd)
  const warm = !world.faults.neverWarm.has(`${namespace}/${dgd}`) && state.readyWorkers > 0 && (frontend === undefined || frontend.warm)
  return { ...state, warm, model: servedModel(world, pods) }
}

const attachFrontend = (world: World, namespace: string, dgd: string): (() => void) => {
  let registry = frontends.get(world)
  if (registry === undefined) {
    registry = new Map()
    frontends.set(world, registry)
  }
  const key = `${namespace}/${dgd}`
  let frontend = registry.get(key)
  if (frontend === undefined) {
    let scheduled = false
    const recompute = () => {
      scheduled = false
      const current = registry!.get(key)
      if (current === undefined) return
      const state = counts(world, namespace, dgd)
      if (state.readyWorkers === 0 || (!current.warm && !allReady(state))) {
        current.cancelWarmup?.()
        current.cancelWarmup = undefined
        current.warm = false
      } else if (!current.warm && current.cancelWarmup === undefined) {
        current.cancelWarmup = world.clock.after(world.profile.performance.inference.warmupSeconds * 1000, () => {
          current.cancelWarmup = undefined
          current.warm = true
        })
      }
    }
    const unsubscribe = world.cluster.store.subscribe((change) => {
      if (change.namespace !== namespace || (change.key !== "/pods" && change.key !== DGD_KEY) || scheduled) return
      scheduled = true
      queueMicrotask(recompute)
    })
    const service = `${dgd}-frontend`
    const handler = openAiHandler(world, namespace, dgd)
    const unregister = [world.registerProxy(namespace, service, FRONTEND_PORT, handler), world.registerProxy(namespace, service, undefined, handler)]
    const created: Frontend = {
      users: 0,
      warm: false,
      cancelWarmup: undefined,
      stop: () => {
        unsubscribe()
        created.cancelWarmup?.()
        for (const release of unregister) release()
      }
    }
    frontend = created
    registry.set(key, created)
    recompute()
  }
  frontend.users++
  const attached = frontend
  return () => {
    attached.users--
    if (attached.users === 0 && registry.get(key) === attached) {
      registry.delete(key)
      attached.stop()
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The OpenAI-compatible API

const WORDS = [
  "the", "cluster", "answers", "with", "tokens", "from", "a", "simulated", "GPU", "worker", "that", "streams",
  "text", "quickly", "and", "deterministically", "so", "every", "run", "sees", "same", "words", "in", "order",
  "while", "bandwidth", "stays", "high", "across", "nodes", "model", "serving", "is", "ready", "now", "hello"
]

const sendJson = (response: ServerResponse, code: number, body: unknown): void => {
  const text = JSON.stringify(body)
  response.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) })
  response.end(text)
}

const errorBody = (code: number, type: string, message: string) => ({ message, type, code })

const readBody = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    if (request.readableEnded) return resolve("")
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    request.on("error", reject)
  })

const hex = (random: Random, length: number): string => Array.from({ length }, () => random.int(16).toString(16)).join("")

const promptTokens = (messages: ReadonlyArray<unknown>): number => {
  let words = 0
  for (const message of messages) {
    const content = record(message)?.["content"]
    const text = typeof content === "string" ? content : JSON.stringify(content ?? "")
    words += text.split(/\s+/).filter((word) => word !== "").length
  }
  return Math.ceil(words * 1.3) + 9
}

const completion = async (world: World, namespace: string, dgd: string, request: IncomingMessage, response: ServerResponse): Promise<void> => {
  let body: Json | undefined
  try {
    body = record(JSON.parse(await readBody(request)))
  } catch (error) {
    return sendJson(response, 400, errorBody(400, "Bad Request", `Failed to parse the request body as JSON: ${(error as Error).message}`))
  }
  const messages = body?.["messages"]
  if (body === undefined || !Array.isArray(messages) || messages.length === 0) {
    return sendJson(response, 400, errorBody(400, "Bad Request", "Validation: messages must be a non-empty array"))
  }
  const status = dynamoStatus(world, namespace, dgd)
  if (!status.warm) return sendJson(response, 503, errorBody(503, "Service Unavailable", "Service is not ready"))
  const model = typeof body["model"] === "string" ? body["model"] : ""
  if (status.model !== undefined && model !== status.model) return sendJson(response, 404, errorBody(404, "Not Found", "Model not found"))
  const limit = [body["max_completion_tokens"], body["max_tokens"]].find((value): value is number => typeof value === "number" && value > 0) ?? 64
  const random = world.random(`dynamo-frontend:${namespace}/${dgd}`)
  const length = Math.max(1, Math.min(limit, 8 + random.int(56)))
  const tokens = Array.from({ length }, (_, index) => {
    const word = WORDS[random.int(WORDS.length)]!
    return index === 0 ? word[0]!.toUpperCase() + word.slice(1) : ` ${word}`
  })
  const finishReason = length >= limit ? "length" : "stop"
  const id = `chatcmpl-${hex(random, 8)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 12)}`
  const created = Math.floor(Date.now() / 1000)
  const usage = { prompt_tokens: promptTokens(messages), completion_tokens: length, total_tokens: promptTokens(messages) + length }
  if (body["stream"] === true) {
    response.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" })
    const chunk = (choices: Array<unknown>, extra: Json = {}) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra })}\n\n`
    for (const [index, token] of tokens.entries()) {
      response.write(chunk([{ index: 0, delta: index === 0 ? { role: "assistant", content: token } : { content: token }, finish_reason: null, logprobs: null }]))
    }
    response.write(chunk([{ index: 0, delta: {}, finish_reason: finishReason, logprobs: null }]))
    if (record(body["stream_options"])?.["include_usage"] === true) response.write(chunk([], { usage }))
    response.end("data: [DONE]\n\n")
    return
  }
  sendJson(response, 200, {
    id,
    object: "chat.completion",
    created,
    model,
    choices: [{ index: 0, message: { role: "assistant", content: tokens.join("") }, finish_reason: finishReason, logprobs: null }],
    usage
  })
}

/** The frontend's HTTP API for deployment `dgd`: `/health`, `/v1/models` and `/v1/chat/completions`. */
export const openAiHandler = (world: World, namespace: string, dgd: string): ProxyHandler => (request, response, path) => {
  const route = path.replace(/\/+$/, "") || "/"
  const method = (request.method ?? "GET").toUpperCase()
  const allow = (expected: string): boolean => {
    if (method === expected) return true
    response.writeHead(405, { Allow: expected, "Content-Length": 0 })
    response.end()
    return false
  }
  if (route === "/health" || route === "/live") {
    if (allow("GET")) sendJson(response, 200, { status: "healthy", endpoints: [], instances: [] })
    return
  }
  if (route === "/v1/models") {
    if (!allow("GET")) return
    const status = dynamoStatus(world, namespace, dgd)
    const created = Math.floor(Date.now() / 1000)
    const model = status.model ?? world.profile.performance.inference.anchor.model
    sendJson(response, 200, { object: "list", data: status.readyWorkers > 0 ? [{ id: model, object: "model", created, owned_by: "nvidia" }] : [] })
    return
  }
  if (route === "/v1/chat/completions") {
    if (!allow("POST")) return
    completion(world, namespace, dgd, request, response).catch((error: unknown) => {
      if (!response.headersSent) sendJson(response, 500, errorBody(500, "Internal Server Error", (error as Error).message))
      else response.end()
    })
    return
  }
  response.writeHead(404, { "Content-Length": 0 })
  response.end()
}

// ---------------------------------------------------------------------------------------------------------------
// Workloads

/**
 * A Dynamo worker (a container of a pod labelled `nvidia.com/dynamo-component-type` worker, decode or prefill):
 * loads its model for `modelLoadSeconds` simulated, turns Ready, and serves until deleted.
 */
export const dynamoWorker = (): Workload => ({
  name: "dynamo-worker",
  matches: (pod, container) => WORKER_TYPES.has(labelsOf(pod)[COMPONENT_TYPE_LABEL] ?? "") && !FRONTEND_COMMAND.test(commandText(container)),
  run: async (run) => {
    const { world, pod, container, signal } = run
    const inference = world.profile.performance.inference
    const model = workerModel(world, pod, container) ?? inference.anchor.model
    run.log(`INFO dynamo.vllm: Initializing vLLM engine for ${model}\nINFO worker: Loading model weights took a while; capturing CUDA graphs\n`)
    if (!(await simulatedSleep(world, inference.modelLoadSeconds, signal))) return { exitCode: 0 }
    run.log(`INFO dynamo.vllm: Model ${model} loaded; registered endpoint ${labelsOf(pod)[DGD_LABEL] ?? "dynamo"}.backend.generate\n`)
    run.setReady(true)
    await untilAborted(signal)
    return { exitCode: 0 }
  }
})

/**
 * A Dynamo frontend (component type `frontend`, or a container running `dynamo.frontend`): Ready once started; a
 * frontend pod of a DGD serves the OpenAI API through `world.registerProxy(namespace, "<dgd>-frontend", 8000, …)`
 * until deleted, answering completions with 503 until every worker of the DGD has been Ready for `warmupSeconds`
 * (and again once no worker is Ready).
 */
export const dynamoFrontend = (): Workload => ({
  name: "dynamo-frontend",
  matches: (pod, container) => labelsOf(pod)[COMPONENT_TYPE_LABEL] === "frontend" || FRONTEND_COMMAND.test(commandText(container)),
  run: async (run) => {
    const { world, pod, signal } = run
    const labels = labelsOf(pod)
    const dgd = labels[DGD_LABEL]
    run.log(`INFO dynamo.frontend: Starting HTTP server on 0.0.0.0:${FRONTEND_PORT}\n`)
    run.setReady(true)
    const release = labels[COMPONENT_TYPE_LABEL] === "frontend" && dgd !== undefined ? attachFrontend(world, pod.metadata.namespace ?? "default", dgd) : undefined
    await untilAborted(signal)
    release?.()
    return { exitCode: 0 }
  }
})
