/** Container logs of pods, fed through the library API and read through `pods/log` (including `follow`). */

interface Stream {
  text: string
  ended: boolean
  previous?: string | undefined
  readonly listeners: Set<(chunk: string | null) => void>
}

const key = (namespace: string, pod: string, container: string) => `${namespace}/${pod}/${container}`

export class Logs {
  private readonly streams = new Map<string, Stream>()

  private stream(namespace: string, pod: string, container: string): Stream {
    const id = key(namespace, pod, container)
    let stream = this.streams.get(id)
    if (stream === undefined) {
      stream = { text: "", ended: false, listeners: new Set() }
      this.streams.set(id, stream)
    }
    return stream
  }

  /** Appends output of a container (a follower sees it at once). */
  append(namespace: string, pod: string, container: string, text: string): void {
    const stream = this.stream(namespace, pod, container)
    stream.text += text
    for (const listener of stream.listeners) listener(text)
  }

  /** The container terminated: followers' streams end. */
  end(namespace: string, pod: string, container: string): void {
    const stream = this.stream(namespace, pod, container)
    stream.ended = true
    for (const listener of stream.listeners) listener(null)
  }

  /** The container restarted: its current log becomes `previous` and a new one starts. */
  restart(namespace: string, pod: string, container: string): void {
    const stream = this.stream(namespace, pod, container)
    stream.previous = stream.text
    stream.text = ""
    stream.ended = false
  }

  read(namespace: string, pod: string, container: string, previous = false): { text: string; ended: boolean } | undefined {
    const stream = this.streams.get(key(namespace, pod, container))
    if (previous) return stream?.previous === undefined ? undefined : { text: stream.previous, ended: true }
    return { text: stream?.text ?? "", ended: stream?.ended ?? false }
  }

  follow(namespace: string, pod: string, container: string, listener: (chunk: string | null) => void): () => void {
    const stream = this.stream(namespace, pod, container)
    stream.listeners.add(listener)
    return () => void stream.listeners.delete(listener)
  }

  /** Forgets a pod's logs (the pod was deleted); followers end. */
  forget(namespace: string, pod: string): void {
    for (const [id, stream] of this.streams) {
      if (id.startsWith(`${namespace}/${pod}/`)) {
        for (const listener of stream.listeners) listener(null)
        this.streams.delete(id)
      }
    }
  }
}

/** Applies `tailLines` and `limitBytes` as the kubelet does. */
export const shape = (text: string, options: { tailLines?: number | undefined; limitBytes?: number | undefined }): string => {
  let out = text
  if (options.tailLines !== undefined) {
    const lines = out.split(/(?<=\n)/)
    out = options.tailLines <= 0 ? "" : lines.slice(-options.tailLines).join("")
  }
  if (options.limitBytes !== undefined) out = Buffer.from(out).subarray(0, options.limitBytes).toString()
  return out
}
