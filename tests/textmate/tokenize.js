// Tokenizes lines with VS Code's own TextMate engine (vscode-textmate over the
// Oniguruma WebAssembly build, installed by `npm install` in editors/vscode).
// Usage: node tokenize.js GRAMMAR.json < lines.json  ->  [[[text, [scopes]], ...], ...]
// Each line is tokenized as a document of its own.
"use strict";
const fs = require("fs");
const path = require("path");

const modules = path.resolve(__dirname, "..", "..", "editors", "vscode", "node_modules");
const textmate = require(path.join(modules, "vscode-textmate"));
const oniguruma = require(path.join(modules, "vscode-oniguruma"));

async function main() {
  const grammarPath = process.argv[2];
  const wasm = fs.readFileSync(path.join(modules, "vscode-oniguruma", "release", "onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (text) => new oniguruma.OnigString(text),
    }),
    loadGrammar: async () =>
      textmate.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath),
  });
  const grammar = await registry.loadGrammar("source.shot");
  const lines = JSON.parse(fs.readFileSync(0, "utf8"));
  const out = lines.map((line) => {
    const { tokens } = grammar.tokenizeLine(line, textmate.INITIAL);
    return tokens.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes]);
  });
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error));
  process.exit(1);
});
