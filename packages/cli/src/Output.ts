/** The CLI's two streams; tests read them from the process. */
export const stdout = (text: string): void => void process.stdout.write(text)
export const stderr = (text: string): void => void process.stderr.write(text)

// A reader that goes away (`aicr catalog list | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0)
    throw error
  })
}
