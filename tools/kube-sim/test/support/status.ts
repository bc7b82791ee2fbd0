import { StatusError } from "../../src/errors.ts"

/** The StatusError `run` throws; fails the test when it throws something else or nothing. */
export const statusErrorOf = (run: () => unknown): StatusError => {
  try {
    run()
  } catch (error) {
    if (error instanceof StatusError) return error
    throw error
  }
  throw new Error("expected a StatusError")
}
