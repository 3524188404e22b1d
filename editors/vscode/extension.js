// Starts `director lsp` for .shot files. Highlighting needs none of this:
// the grammar in syntaxes/ works on its own.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace
    .getConfiguration("shotDirector")
    .get("command", ["director", "lsp"]);
  client = new LanguageClient(
    "shotDirector",
    "shot-director",
    { command, args },
    { documentSelector: [{ scheme: "file", language: "shot" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
