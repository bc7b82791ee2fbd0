/** The CLI's two streams; tests read them from the process. */
export const stdout = (text: string): void => void process.stdout.write(text)
export const stderr = (text: string): void => void process.stderr.write(text)
