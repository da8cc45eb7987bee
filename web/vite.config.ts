// Builds the web client into the Python package (roomchat/web/static), which
// `roomchat serve` serves at / (index.html) and /web/ (everything else).
import { defineConfig } from "vite";

export default defineConfig({
  base: "/web/",
  build: {
    outDir: "../roomchat/web/static",
    emptyOutDir: true,
    // The page's Content-Security-Policy forbids inline scripts and styles, and
    // allows data: only for images: nothing may be inlined into index.html.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    target: "es2020",
  },
});
