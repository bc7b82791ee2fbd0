/**
 * The exit codes of `aicr` and how results and errors map to them.
 *
 * Details: 0 all checks passed or were skipped; 2 invalid input or usage (nothing was changed on the cluster);
 * 3–7 a top-level error before checks ran (3 not found, 4 unauthorized, 5 timeout, 6 unavailable, 7 rate
 * limited — the codes upstream aicr uses for the same errors); 8 at least one check failed; 9 no check failed
 * but at least one was inconclusive; 130/143 interrupted by SIGINT/SIGTERM, after cleanup.
 */
import type * as Ctrf from "./Ctrf.ts"
import type { Reason } from "./KubeClient.ts"

export const Success = 0
export const InvalidInput = 2
export const NotFound = 3
export const Unauthorized = 4
export const Timeout = 5
export const Unavailable = 6
export const RateLimited = 7
export const ChecksFailed = 8
export const Inconclusive = 9
/** 128 + SIGINT (2). */
export const Interrupted = 130
/** 128 + SIGTERM (15). */
export const Terminated = 143

/** One documented exit code. */
export interface Entry {
  readonly code: number
  readonly name: string
  readonly meaning: string
}

const TABLE: ReadonlyArray<Entry> = [
  { code: Success, name: "Success", meaning: "all checks passed or were skipped" },
  { code: InvalidInput, name: "InvalidInput", meaning: "invalid input or usage; nothing was changed on the cluster" },
  { code: NotFound, name: "NotFound", meaning: "a required object or file was not found before checks ran" },
  { code: Unauthorized, name: "Unauthorized", meaning: "the cluster refused the credentials or the permission (401/403)" },
  { code: Timeout, name: "Timeout", meaning: "a step before the checks timed out" },
  { code: Unavailable, name: "Unavailable", meaning: "the cluster or a service was unavailable or answered an unexpected error" },
  { code: RateLimited, name: "RateLimited", meaning: "the cluster rate-limited the requests (429)" },
  { code: ChecksFailed, name: "ChecksFailed", meaning: "at least one check failed" },
  { code: Inconclusive, name: "Inconclusive", meaning: "no check failed, but at least one could not determine a verdict" },
  { code: Interrupted, name: "Interrupted", meaning: "interrupted by SIGINT, after cleanup" },
  { code: Terminated, name: "Terminated", meaning: "terminated by SIGTERM, after cleanup" }
]

/** Every exit code with its name and meaning, in ascending order, for `--help` and the docs. */
export const describe = (): ReadonlyArray<Entry> => TABLE

/**
 * The exit code for a finished run's report: {@link ChecksFailed} if any test failed, else {@link Inconclusive}
 * if any was inconclusive (`other`), else {@link Success}.
 *
 * *Gotchas*: reads the summary counters; `pending` tests count as neither failed nor inconclusive.
 */
export const fromReport = (report: Ctrf.Report): number => {
  const { failed, other } = report.results.summary
  if (failed > 0) return ChecksFailed
  if (other > 0) return Inconclusive
  return Success
}

/**
 * The exit code for a Kubernetes error that stopped the run before its checks.
 *
 * Details: `NotFound` → 3; `Unauthorized` and `Forbidden` → 4; `Timeout` → 5; `TooManyRequests` → 7;
 * `Invalid` (the API server rejected an object derived from the input) → 2; `Unavailable` and everything else
 * (`Unknown`, `Conflict`, `AlreadyExists`, `Gone`, unrecognised reasons) → 6, the cluster could not serve the run.
 */
export const fromKubeReason = (reason: Reason | (string & {})): number => {
  switch (reason) {
    case "NotFound":
      return NotFound
    case "Unauthorized":
    case "Forbidden":
      return Unauthorized
    case "Timeout":
      return Timeout
    case "TooManyRequests":
      return RateLimited
    case "Invalid":
      return InvalidInput
    default:
      return Unavailable
  }
}

/** The exit code after cleanup for the signal that interrupted the run. */
export const fromSignal = (signal: "SIGINT" | "SIGTERM"): number => (signal === "SIGINT" ? Interrupted : Terminated)
