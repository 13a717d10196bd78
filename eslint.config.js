import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".xlir-tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // the web UI of `xlir serve`: plain ES modules for the browser
    files: ["src/serve/ui/**/*.js"],
    languageOptions: {
      globals: Object.fromEntries(
        [
          "document",
          "window",
          "location",
          "history",
          "localStorage",
          "fetch",
          "URLSearchParams",
          "Node",
          "getComputedStyle",
          "setTimeout",
        ].map((g) => [g, "readonly"]),
      ),
    },
  },
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
    },
  },
);
