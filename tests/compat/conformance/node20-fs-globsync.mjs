// Preload for Node 20 (`node --import ./node20-fs-globsync.mjs ...`): the conformance bundle
// imports `globSync` from "fs", which Node added in 22; Debian's Node here is 20. A builtin's
// ES-module exports are fixed, so a resolve hook hands the bundle's "fs" imports to
// fs-with-globsync.mjs ("node:fs" plus a minimal globSync) instead. Nothing else is touched,
// and on Node 22+ the real fs.globSync is used.
import { register } from "node:module";

register("./fs-hooks.mjs", import.meta.url);
