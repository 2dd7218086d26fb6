/** `import path from 'swagger-ui-dist/<file>' with { type: 'file' }` gives the file's path (embedded in compiled binaries). */
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const path: string;
  export default path;
}
declare module 'swagger-ui-dist/swagger-ui.css' {
  const path: string;
  export default path;
}
