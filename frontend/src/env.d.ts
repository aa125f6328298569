// CSS files are bundled as strings (esbuild's "text" loader) and injected at render().
declare module "*.css" {
  const text: string;
  export default text;
}
