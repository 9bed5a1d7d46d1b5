// Builds swergio_nb/static/ (the package's JavaScript) with esbuild: each widget front end (js/*.js) and the client
// (js/src/index.js -> swergio.js) as one ES module each, dependencies bundled in, for browsers. Files of that folder
// that the build does not make are removed, so the folder is exactly the build's output.
//
//   npm --prefix js run build                 (writes swergio_nb/static/)
//   node js/build.mjs --outdir DIR            (writes DIR: tests compare it with the checked-in folder)
import { build } from "esbuild";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { outdir: { type: "string" } } });
const out = resolve(values.outdir ?? join(here, "..", "swergio_nb", "static"));

/** entry file -> output name */
const entries = Object.fromEntries(
  readdirSync(here)
    .filter((name) => name.endsWith(".js"))
    .sort()
    .map((name) => [join(here, name), name]),
);
entries[join(here, "src", "index.js")] = "swergio.js";

mkdirSync(out, { recursive: true });
const made = new Set();
for (const [entry, name] of Object.entries(entries)) {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: here, // the paths in the output's comments are relative to js/, wherever the build runs from
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    external: ["ws"], // Node 20's WebSocket; browsers have their own, so the import is never reached there
    legalComments: "eof",
    charset: "utf8",
    write: false,
    logLevel: "warning",
  });
  const text = `// Built by js/build.mjs from js/${entry.slice(here.length + 1)}: edit that file and run \`npm --prefix js run build\`.\n${result.outputFiles[0].text}`;
  writeFileSync(join(out, name), text);
  made.add(name);
  console.log(`js/${entry.slice(here.length + 1)} -> ${join(basename(dirname(out)), basename(out), name)}`);
}
for (const name of readdirSync(out)) {
  if (!made.has(name)) rmSync(join(out, name));
}
