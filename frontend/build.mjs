// Bundles src/index.ts into ../tensorboard_plugin_detloss/static/index.js: one minified ES
// module (TensorBoard's plugin iframe allows same-origin module scripts only), with uPlot's CSS
// inlined as a string. Deterministic: no timestamps, no absolute paths, same bytes every build.
//
//   node build.mjs           build the bundle
//   node build.mjs --test    bundle test/*.test.ts into a temporary directory and run them
//                            with node's test runner

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outfile = join(here, "..", "tensorboard_plugin_detloss", "static", "index.js");

function uplotBanner() {
  const pkg = JSON.parse(readFileSync(join(here, "node_modules", "uplot", "package.json"), "utf8"));
  const license = readFileSync(join(here, "node_modules", "uplot", "LICENSE"), "utf8").trim();
  return [
    "/*! tensorboard-plugin-detloss: the Loss Breakdown tab (built from frontend/). */",
    `/*! Bundles uPlot ${pkg.version} (https://github.com/leeoniya/uPlot):`,
    ...license.split(/\r?\n/).map((line) => ` * ${line}`.trimEnd()),
    " */",
  ].join("\n");
}

/** Our CSS files, minified by esbuild and bundled as strings (injected as <style> at render()). */
const cssAsMinifiedText = {
  name: "css-as-minified-text",
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, async (args) => {
      const css = readFileSync(args.path, "utf8");
      const { code } = await esbuild.transform(css, { loader: "css", minify: true, charset: "utf8" });
      return { contents: code.trim(), loader: "text" };
    });
  },
};

const common = {
  absWorkingDir: here,
  bundle: true,
  format: "esm",
  target: "es2020",
  platform: "browser",
  charset: "utf8",
  legalComments: "none",
  plugins: [cssAsMinifiedText],
  logLevel: "warning",
};

async function build() {
  await esbuild.build({
    ...common,
    entryPoints: ["src/index.ts"],
    outfile,
    minify: true,
    sourcemap: false,
    banner: { js: uplotBanner() },
  });
}

async function test() {
  const dir = mkdtempSync(join(tmpdir(), "detloss-frontend-test-"));
  try {
    const entryPoints = readdirSync(join(here, "test"))
      .filter((f) => f.endsWith(".test.ts"))
      .map((f) => join("test", f));
    await esbuild.build({ ...common, entryPoints, outdir: dir, platform: "node", outExtension: { ".js": ".mjs" } });
    const files = readdirSync(dir).map((f) => join(dir, f));
    const r = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await (process.argv.includes("--test") ? test() : build());
