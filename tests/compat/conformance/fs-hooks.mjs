// Module resolve hook (registered by node20-fs-globsync.mjs).
const SHIM = new URL("./fs-with-globsync.mjs", import.meta.url).href;

export async function resolve(specifier, context, next) {
  const fromBundle = (context.parentURL || "").includes("/@modelcontextprotocol/conformance/");
  if (fromBundle && (specifier === "fs" || specifier === "node:fs")) {
    return { url: SHIM, shortCircuit: true };
  }
  return next(specifier, context);
}
