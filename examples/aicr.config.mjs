// Plugins beyond the bundled ones, by module specifier (resolved relative to this file) or as objects.
export default {
  plugins: ["./plugins/gpu-nodes-labelled.mjs"]
}
