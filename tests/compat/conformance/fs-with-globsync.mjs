// "node:fs" with globSync for Node 20. The bundle only calls globSync("**/checks.json", { cwd }),
// so this handles "**/" (any directories), "*" and "?" within one name, and returns paths
// relative to cwd, as Node 22's does.
import fs from "node:fs";
import path from "node:path";

export * from "node:fs";
export default fs;

function toRegExp(pattern) {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    if (pattern.startsWith("**/", i)) {
      out += "(?:.*/)?";
      i += 2;
    } else if (pattern.startsWith("**", i)) {
      out += ".*";
      i += 1;
    } else if (pattern[i] === "*") out += "[^/]*";
    else if (pattern[i] === "?") out += "[^/]";
    else out += pattern[i].replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}$`);
}

function polyfill(pattern, options = {}) {
  const cwd = options.cwd ? String(options.cwd) : process.cwd();
  const matchers = (Array.isArray(pattern) ? pattern : [pattern]).map(toRegExp);
  const found = [];
  const walk = (dir, rel) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const relative = rel ? `${rel}/${entry.name}` : entry.name;
      if (matchers.some((m) => m.test(relative))) found.push(relative.split("/").join(path.sep));
      if (entry.isDirectory()) walk(path.join(dir, entry.name), relative);
    }
  };
  walk(cwd, "");
  return found;
}

export const globSync = fs.globSync ?? polyfill;
