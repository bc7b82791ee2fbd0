/** Kubernetes `Status` failures, shaped like a real API server's answers. */
import type { ResourceType } from "./types.ts"

export interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

export interface StatusBody {
  kind: "Status"
  apiVersion: "v1"
  metadata: Record<string, never>
  status: "Failure"
  message: string
  reason: string
  details?: { name?: string; group?: string; kind?: string; causes?: Array<StatusCause>; retryAfterSeconds?: number; uid?: string }
  code: number
}

/** A failure the server answers with a `Status` body and HTTP `code`. */
export class StatusError extends Error {
  readonly code: number
  readonly reason: string
  readonly details: StatusBody["details"]
  readonly headers: Record<string, string>

  constructor(code: number, reason: string, message: string, details?: StatusBody["details"], headers: Record<string, string> = {}) {
    super(message)
    this.code = code
    this.reason = reason
    this.details = details
    this.headers = headers
  }

  get body(): StatusBody {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details === undefined ? {} : { details: this.details }),
      code: this.code
    }
  }
}

type Named = Pick<ResourceType, "group" | "resource">

/** `configmaps` or `jobs.batch`: how a real server names a resource in messages. */
export const qualified = (type: Named): string => (type.group === "" ? type.resource : `${type.resource}.${type.group}`)

const details = (type: Named, name: string | undefined) => ({
  ...(name === undefined || name === "" ? {} : { name }),
  ...(type.group === "" ? {} : { group: type.group }),
  kind: type.resource
})

export const notFound = (type: Named, name: string) =>
  new StatusError(404, "NotFound", `${qualified(type)} "${name}" not found`, details(type, name))

export const alreadyExists = (type: Named, name: string) =>
  new StatusError(409, "AlreadyExists", `${qualified(type)} "${name}" already exists`, details(type, name))

export const conflict = (type: Named, name: string) =>
  new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    details(type, name)
  )

export const conflictWith = (type: Named, name: string, why: string) =>
  new StatusError(409, "Conflict", `Operation cannot be fulfilled on ${qualified(type)} "${name}": ${why}`, details(type, name))

/** 422 Invalid: `Kind "name" is invalid: field: message` with one cause per field. */
export const invalid = (type: Pick<ResourceType, "group" | "kind">, name: string, causes: ReadonlyArray<{ field: string; message: string; reason?: string }>) =>
  new StatusError(
    422,
    "Invalid",
    `${type.kind}${type.group === "" ? "" : `.${type.group}`} "${name}" is invalid: ${
      causes.length === 1 ? `${causes[0]!.field}: ${causes[0]!.message}` : `[${causes.map((cause) => `${cause.field}: ${cause.message}`).join(", ")}]`
    }`,
    {
      ...(name === "" ? {} : { name }),
      ...(type.group === "" ? {} : { group: type.group }),
      kind: type.kind,
      causes: causes.map((cause) => ({ reason: cause.reason ?? "FieldValueInvalid", message: cause.message, field: cause.field }))
    }
  )

export const forbidden = (type: Named, name: string | undefined, why: string) =>
  new StatusError(403, "Forbidden", `${qualified(type)}${name === undefined || name === "" ? "" : ` "${name}"`} is forbidden: ${why}`, details(type, name))

export const namespaceTerminating = (type: Named, name: string, namespace: string) =>
  new StatusError(
    403,
    "Forbidden",
    `${qualified(type)} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
    { ...details(type, name), causes: [{ reason: "NamespaceTerminating", message: `namespace ${namespace} is being terminated`, field: "metadata.namespace" }] }
  )

export const badRequest = (message: string) => new StatusError(400, "BadRequest", message)

export const methodNotAllowed = (message = "the server does not allow this method on the requested resource") =>
  new StatusError(405, "MethodNotAllowed", message, {})

export const unsupportedMediaType = (contentType: string) =>
  new StatusError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${contentType})`)

export const notFoundPath = () => new StatusError(404, "NotFound", "the server could not find the requested resource", {})

export const expiredContinue = () =>
  new StatusError(
    410,
    "Expired",
    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
  )

export const tooOldResourceVersion = (requested: number, oldest: number) =>
  new StatusError(410, "Expired", `too old resource version: ${requested} (${oldest})`)

export const tooManyRequests = (retryAfterSeconds: number) =>
  new StatusError(429, "TooManyRequests", "Too many requests, please try again later.", { retryAfterSeconds }, { "Retry-After": String(retryAfterSeconds) })

export const internalError = (message: string) =>
  new StatusError(500, "InternalError", `Internal error occurred: ${message}`, { causes: [{ message }] })

export const serviceUnavailable = (message = "the server is currently unable to handle the request") =>
  new StatusError(503, "ServiceUnavailable", message)

export const unauthorized = () => new StatusError(401, "Unauthorized", "Unauthorized")
