/** The pause image (`registry.k8s.io/pause`): it does nothing until the pod goes away, as the real one sleeps. */
import type { ContainerResult, Workload } from "../world.ts"

const PAUSE = /^(?:registry\.k8s\.io|k8s\.gcr\.io|gcr\.io\/google[-_]containers)\/pause(?::[^@]+)?(?:@sha256:[0-9a-f]{64})?$/

export const pauseWorkload = (): Workload => ({
  name: "pause",
  matches: (_pod, container) => PAUSE.test(container.image),
  run: (run) =>
    new Promise<ContainerResult>((resolve) => {
      if (run.signal.aborted) return resolve({ exitCode: 0 })
      run.signal.addEventListener("abort", () => resolve({ exitCode: 0 }), { once: true })
    })
})
