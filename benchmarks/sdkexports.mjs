// How the benchmarks' Node clients import an SDK installed by path
// (scripts/install-test-backends): through its package.json exports.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** The file URL of the package's export `subpath` (its "import" condition). */
export function resolveExport(dir, subpath) {
  const exportsMap = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).exports;
  let target = exportsMap[subpath];
  let rest = "";
  if (target === undefined) {
    for (const [key, value] of Object.entries(exportsMap)) {
      if (key.endsWith("*") && subpath.startsWith(key.slice(0, -1))) {
        target = value;
        rest = subpath.slice(key.length - 1);
        break;
      }
    }
  }
  if (target && typeof target === "object") target = target.import ?? target.default;
  if (typeof target !== "string") throw new Error(`${dir}: no export ${subpath}`);
  return pathToFileURL(join(dir, target.replace("*", rest))).href;
}
