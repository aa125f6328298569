import * as esbuild from "esbuild";
for (const lib of ["uplot", "echarts"]) {
  await esbuild.build({ entryPoints: [`src/${lib}_entry.js`], bundle: true, minify: true, format: "esm", target: "es2020",
    outfile: `dist/${lib}.js`, loader: { ".css": "text" }, legalComments: "none" });
}
