import * as k8s from "@kubernetes/client-node"
import { startSim, type Sim, type SimOptions } from "../../src/index.ts"

export interface Harness {
  readonly sim: Sim
  readonly kc: k8s.KubeConfig
  readonly core: k8s.CoreV1Api
  readonly batch: k8s.BatchV1Api
  readonly objects: k8s.KubernetesObjectApi
}

/** Starts a simulator and client-node clients from the kubeconfig it wrote. */
export const harness = async (options: SimOptions = {}): Promise<Harness> => {
  const sim = await startSim(options)
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(sim.kubeconfigPath)
  return {
    sim,
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    batch: kc.makeApiClient(k8s.BatchV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc)
  }
}

/** The ApiException a client-node call fails with. */
export const failure = async (promise: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> => {
  try {
    await promise
  } catch (error) {
    if (error instanceof k8s.ApiException) {
      const body = typeof error.body === "string" ? JSON.parse(error.body) : error.body
      return { code: error.code, body }
    }
    throw error
  }
  throw new Error("expected the call to fail")
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export const eventually = async <A>(check: () => Promise<A | undefined> | A | undefined, timeoutMs = 5000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
