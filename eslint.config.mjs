import nx from "@nx/eslint-plugin"
import tseslint from "typescript-eslint"

/** Who may import whom: validators → core only; kube-sim → nothing of ours; cli → core, validators, kube-sim. */
export const depConstraints = [
  { sourceTag: "type:core", onlyDependOnLibsWithTags: [] },
  { sourceTag: "type:validator", onlyDependOnLibsWithTags: ["type:core"] },
  { sourceTag: "type:kube-sim", onlyDependOnLibsWithTags: [] },
  { sourceTag: "type:cli", onlyDependOnLibsWithTags: ["type:core", "type:validator", "type:kube-sim"] },
  { sourceTag: "type:tool", onlyDependOnLibsWithTags: ["type:core", "type:validator", "type:cli", "type:kube-sim"] }
]

export default tseslint.config(
  { ignores: ["**/node_modules/**", "**/dist/**", "**/.nx/**", "**/.test-results/**", "**/test/fixtures/**"] },
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mts", "**/*.mjs"],
    plugins: { "@nx": nx },
    rules: {
      "@nx/enforce-module-boundaries": ["error", { allow: [], depConstraints, enforceBuildableLibDependency: false }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": ["error", {
        selector: "ImportDeclaration[source.value='effect']",
        message: "Import effect modules one by one (effect/Effect, effect/Layer…): the barrel costs start-up time."
      }]
    }
  },
  {
    files: ["**/vitest.config.ts"],
    rules: { "@nx/enforce-module-boundaries": "off" }
  },
  {
    files: ["**/test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off", "@typescript-eslint/no-non-null-assertion": "off" }
  },
  {
    // Tests of core and the validators run against the simulated cluster; their sources may not import it.
    files: ["packages/*/test/**/*.ts"],
    rules: {
      "@nx/enforce-module-boundaries": ["error", {
        allow: [],
        depConstraints: depConstraints.map((constraint) =>
          constraint.sourceTag === "type:core" || constraint.sourceTag === "type:validator"
            ? { ...constraint, onlyDependOnLibsWithTags: [...constraint.onlyDependOnLibsWithTags, "type:kube-sim"] }
            : constraint
        ),
        // The CLI loads the simulator lazily (only for --simulate); its tests may import it directly.
        checkDynamicDependenciesExceptions: ["@aicr/kube-sim"],
        enforceBuildableLibDependency: false
      }]
    }
  }
)
