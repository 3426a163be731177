// Bootstrap's CSS cut down to the rules the portal's pages use (`make css`; the results are
// committed, so running the portal needs no Node).
//
// Two bundles from static/vendor/bootstrap/bootstrap.min.css (the full file, kept as the source):
//   bootstrap.portal.min.css   every template, every script and the Python code (form widgets
//                              and views may name classes);
//   bootstrap.lite.min.css     the pages built on counter_base.html (the clerk's phone) or
//                              auth_base.html (sign-in, errors) and what they include, so that
//                              the counter's first visit stays small.
// Selectors survive when every class in them appears as a word in those files, or is on the
// safelist below: classes that Bootstrap's JavaScript adds, and classes that templates compose
// from a prefix and a value (`alert-{{ category }}`, `text-bg-{{ cls }}`).
// tests/test_assets.py checks that every Bootstrap class written in a template is still here.
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { PurgeCSS } from "purgecss";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const TEMPLATES = join(ROOT, "templates");
const BOOTSTRAP = join(ROOT, "static/vendor/bootstrap");
const COLORS = "primary|secondary|success|danger|warning|info|light|dark";

const safelist = {
  standard: [
    // Added by Bootstrap's JavaScript (collapse, alert, and the components that open layers).
    "show", "showing", "hiding", "collapse", "collapsing", "collapsed", "fade", "active", "disabled",
    "modal-backdrop", "modal-open", "offcanvas-backdrop", "dropdown-menu", "was-validated",
    // Composed in templates: flash categories and review badges.
    new RegExp(`^alert-(${COLORS})$`), new RegExp(`^text-bg-(${COLORS})$`),
  ],
};

function walk(dir, keep) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "vendor" || entry.name === "__pycache__" ? [] : walk(path, keep);
    return keep(entry.name) ? [path] : [];
  });
}

// The lite pages: the templates that extend one of LITE_BASES, and everything they include,
// import or extend, followed to the end.
const LITE_BASES = ["counter_base.html", "auth_base.html"];
function liteTemplates() {
  const name = (path) => relative(TEMPLATES, path).split("\\").join("/");
  const all = new Map(walk(TEMPLATES, (f) => f.endsWith(".html")).map((p) => [name(p), readFileSync(p, "utf8")]));
  const uses = (text) => [...text.matchAll(/\{%-?\s*(?:extends|include|import|from)\s+["']([^"']+)["']/g)].map((m) => m[1]);
  const todo = [...all].filter(([, text]) => uses(text).some((used) => LITE_BASES.includes(used))).map(([n]) => n);
  const seen = new Set();
  while (todo.length) {
    const next = todo.pop();
    if (seen.has(next) || !all.has(next)) continue;
    seen.add(next);
    todo.push(...uses(all.get(next)));
  }
  return [...seen].sort().map((n) => join(TEMPLATES, n));
}

const scripts = walk(join(ROOT, "static/js"), (f) => f.endsWith(".js"));
const bundles = {
  "bootstrap.portal.min.css": [
    ...walk(TEMPLATES, (f) => f.endsWith(".html")), ...scripts, ...walk(join(ROOT, "portal"), (f) => f.endsWith(".py")),
  ],
  "bootstrap.lite.min.css": [...liteTemplates(), ...scripts],
};

for (const [output, content] of Object.entries(bundles)) {
  const [result] = await new PurgeCSS().purge({
    css: [join(BOOTSTRAP, "bootstrap.min.css")],
    content,
    safelist,
    variables: true,
    keyframes: true,
    fontFace: true,
  });
  // Keep the licence banner once; the rest as PurgeCSS printed it.
  writeFileSync(join(BOOTSTRAP, output), result.css.trimEnd() + "\n");
  console.log(`${output}: ${result.css.length} bytes from ${content.length} files`);
}
