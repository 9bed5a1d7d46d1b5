// Copies every js/*.js widget module into ../swergio_nb/static/ (no bundling: the modules have no imports).
// Run with `npm run build` or `node build.mjs` from anywhere.
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "swergio_nb", "static");
mkdirSync(out, { recursive: true });
for (const name of readdirSync(here).filter((n) => n.endsWith(".js")).sort()) {
  copyFileSync(join(here, name), join(out, name));
  console.log(`copied js/${name} -> swergio_nb/static/${name}`);
}
