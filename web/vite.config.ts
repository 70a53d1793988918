import { defineConfig } from 'vite';

// The CMake build runs `vite build --outDir <build>/web/dist` and compiles the result into the
// binary (cmake/embed_web_assets.cmake), so coinrelay serves the dashboard with no CDN and no
// files next to it. Everything under assets/ carries a content hash in its name, which is what
// lets the binary mark those files immutable.
//
// For work on the page itself, `npx vite` serves it with hot reload and forwards the API to a
// running coinrelay (COINRELAY_URL, default http://127.0.0.1:8080).
const api = process.env.COINRELAY_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: {
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2020',
    // Small enough to inline would be a data: URL inside the JS; keep files separate instead.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/v1': api, '/healthz': api, '/api': api },
  },
});
