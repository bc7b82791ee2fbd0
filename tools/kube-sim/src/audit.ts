/** The audit log: one record per request the server answered, with Kubernetes audit verbs. */
import type { RequestTarget } from "./types.ts"

/** One answered request. `verb` is the audit verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`). */
export interface AuditRecord extends RequestTarget {
  /** When the request arrived, RFC 3339 with milliseconds. */
  time: string
  user: string
  /** HTTP status code of the answer. */
  code: number
  method: string
  path: string
}

type Listener = (record: AuditRecord) => void

/** An in-memory audit log, bounded to the most recent `limit` records. */
export class Audit {
  private records: Array<AuditRecord> = []
  private readonly listeners = new Set<Listener>()
  private readonly limit: number

  constructor(limit = 100_000) {
    this.limit = limit
  }

  record(r: AuditRecord): void {
    const record = { ...r }
    this.records.push(record)
    if (this.records.length > this.limit) this.records.splice(0, this.records.length - this.limit)
    for (const listener of [...this.listeners]) listener(record)
  }

  all(): ReadonlyArray<AuditRecord> {
    return this.records
  }

  clear(): void {
    this.records = []
  }

  /** Records whose every given field equals the one asked for (`subresource: undefined` matches any). */
  filter(partial: Partial<AuditRecord>): AuditRecord[] {
    const wanted = Object.entries(partial).filter(([, value]) => value !== undefined) as Array<[keyof AuditRecord, unknown]>
    return this.records.filter((record) => wanted.every(([key, value]) => record[key] === value))
  }

  /** Calls `listener` for every record from now on; returns the unsubscribe function. */
  onRecord(listener: Listener): () => void {
    this.listeners.add(listener)
    return () => void this.listeners.delete(listener)
  }

  /**
   * The first record (already logged, else the next to come) that satisfies `predicate`; rejects with an `Error`
   * when none has come within `timeoutMs`.
   */
  waitFor(predicate: (record: AuditRecord) => boolean, timeoutMs = 5_000): Promise<AuditRecord> {
    const found = this.records.find(predicate)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe()
        reject(new Error(`no audit record matched within ${timeoutMs}ms`))
      }, timeoutMs)
      const unsubscribe = this.onRecord((record) => {
        if (!predicate(record)) return
        clearTimeout(timer)
        unsubscribe()
        resolve(record)
      })
    })
  }
}
