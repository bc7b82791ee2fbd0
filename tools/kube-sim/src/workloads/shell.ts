/**
 * Reading container command lines the way a container runtime and a POSIX shell would, far enough to find the
 * flags of the benchmark commands the validators run (`mpirun … all_reduce_perf -b 1K …`, `aiperf profile …`).
 */
import type { ContainerRun } from "../world.ts"

/** Words that separate simple commands in a shell script; kept as tokens of their own. */
export const SEPARATORS: ReadonlySet<string> = new Set([";", "&&", "||", "|", "&", "\n"])

const NAME_START = /[A-Za-z_]/
const NAME_CHAR = /[A-Za-z0-9_]/

/**
 * Splits a shell script into words: quotes removed, `$NAME` and `${NAME}` expanded from `env` (an unset variable
 * expands to nothing, as in a shell; positional and special parameters and `$(…)` stay literal), backslash-newline
 * continuations joined, `#` comments dropped, and the separators `;`, `&&`, `||`, `|`, `&` and newlines kept as
 * words of their own.
 */
export const splitShell = (script: string, env: ReadonlyMap<string, string> = new Map()): Array<string> => {
  const words: Array<string> = []
  let word: string | undefined
  const end = () => {
    if (word !== undefined) words.push(word)
    word = undefined
  }
  const expand = (at: number): [string, number] => {
    const next = script[at + 1]
    if (next === "{") {
      const close = script.indexOf("}", at + 2)
      if (close === -1) return ["${", at + 2]
      const name = script.slice(at + 2, close)
      const bare = /^[A-Za-z_][A-Za-z0-9_]*/.exec(name)?.[0] ?? ""
      return [bare === "" ? `\${${name}}` : (env.get(bare) ?? ""), close + 1]
    }
    if (next !== undefined && NAME_START.test(next)) {
      let stop = at + 1
      while (stop < script.length && NAME_CHAR.test(script[stop]!)) stop++
      return [env.get(script.slice(at + 1, stop)) ?? "", stop]
    }
    return ["$", at + 1]
  }
  let index = 0
  while (index < script.length) {
    const char = script[index]!
    if (char === " " || char === "\t" || char === "\r") {
      end()
      index++
    } else if (char === "\n") {
      end()
      words.push("\n")
      index++
    } else if (char === "#" && word === undefined) {
      while (index < script.length && script[index] !== "\n") index++
    } else if (char === "\\") {
      if (script[index + 1] === "\n") {
        index += 2
      } else {
        word = (word ?? "") + (script[index + 1] ?? "")
        index += 2
      }
    } else if (char === "'") {
      const close = script.indexOf("'", index + 1)
      const stop = close === -1 ? script.length : close
      word = (word ?? "") + script.slice(index + 1, stop)
      index = stop + 1
    } else if (char === "\"") {
      word ??= ""
      index++
      while (index < script.length && script[index] !== "\"") {
        const inner = script[index]!
        if (inner === "\\" && ["$", "\"", "\\", "`", "\n"].includes(script[index + 1] ?? "")) {
          if (script[index + 1] !== "\n") word += script[index + 1]
          index += 2
        } else if (inner === "$") {
          const [value, next] = expand(index)
          word += value
          index = next
        } else {
          word += inner
          index++
        }
      }
      index++
    } else if (char === "$") {
      const [value, next] = expand(index)
      word = (word ?? "") + value
      index = next
    } else if (char === ";" || char === "&" || char === "|") {
      end()
      const pair = script.slice(index, index + 2)
      const separator = pair === "&&" || pair === "||" ? pair : char
      words.push(separator)
      index += separator.length
    } else {
      word = (word ?? "") + char
      index++
    }
  }
  end()
  return words
}

/** Kubernetes' `$(VAR)` expansion of a container's command and args (`$$` escapes; unknown references stay). */
export const expandReferences = (text: string, env: ReadonlyMap<string, string>): string =>
  text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (match === "$$") return "$"
    return env.get(name!) ?? match
  })

const SHELLS = new Set(["sh", "bash", "dash", "ash", "zsh", "ksh"])

/**
 * The words a container runs: its command and args after `$(VAR)` expansion, and when that is `sh -c SCRIPT` (or
 * `bash -ec SCRIPT` and the like), the words of the script instead.
 */
export const commandWords = (container: ContainerRun["container"], env: ReadonlyMap<string, string>): Array<string> => {
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((part) => expandReferences(part, env))
  const program = argv[0]?.split("/").pop() ?? ""
  if (SHELLS.has(program)) {
    const flag = argv.findIndex((part, index) => index > 0 && /^-[a-z]*c[a-z]*$/.test(part))
    const script = flag === -1 ? undefined : argv[flag + 1]
    if (script !== undefined) return splitShell(script, env)
  }
  return argv
}

/** The command and args joined with spaces: what emulators match on. */
export const commandText = (container: ContainerRun["container"]): string => [...(container.command ?? []), ...(container.args ?? [])].join(" ")

/** The words up to the next separator, starting at `start`. */
export const simpleCommand = (words: ReadonlyArray<string>, start: number): Array<string> => {
  const out: Array<string> = []
  for (let index = start; index < words.length && !SEPARATORS.has(words[index]!); index++) out.push(words[index]!)
  return out
}
