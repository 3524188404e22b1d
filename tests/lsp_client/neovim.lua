-- Drives `director lsp` from Neovim's own LSP client (headless), and writes what
-- the server answered as JSON.  Settings come from the environment:
-- DIRECTOR_PYTHON, DIRECTOR_SCRIPT (the .shot file), DIRECTOR_OUT (the JSON),
-- DIRECTOR_CAMERA_LINE / DIRECTOR_CAMERA_COLUMN (0-based, just after `camera:`).
local script = vim.env.DIRECTOR_SCRIPT
local results = {}

local function finish()
  local file = io.open(vim.env.DIRECTOR_OUT, "w")
  file:write(vim.fn.json_encode(results))
  file:close()
  vim.cmd("qa!")
end

vim.cmd("edit " .. vim.fn.fnameescape(script))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({
  name = "director",
  cmd = { vim.env.DIRECTOR_PYTHON, "-m", "director", "lsp" },
  root_dir = vim.fn.fnamemodify(script, ":h"),
})
vim.lsp.buf_attach_client(buf, id)
results.started = vim.wait(30000, function()
  local client = vim.lsp.get_client_by_id(id)
  return client ~= nil and client.initialized == true
end, 50)
if not results.started then
  finish()
end

local uri = vim.uri_from_bufnr(buf)
local function request(method, params)
  local answers, err = vim.lsp.buf_request_sync(buf, method, params, 30000)
  if answers == nil then
    return { failed = tostring(err) }
  end
  for _, answer in pairs(answers) do
    if answer.err then
      return { failed = vim.inspect(answer.err) }
    end
    return answer.result or vim.NIL
  end
  return vim.NIL
end

local camera = {
  line = tonumber(vim.env.DIRECTOR_CAMERA_LINE),
  character = tonumber(vim.env.DIRECTOR_CAMERA_COLUMN),
}
results.completion = request("textDocument/completion", {
  textDocument = { uri = uri },
  position = camera,
})

-- The completion chosen, as a user would: `camera: static`.  The script then
-- parses, and the checker says the rest.
vim.api.nvim_buf_set_lines(buf, camera.line, camera.line + 1, false,
  { vim.api.nvim_buf_get_lines(buf, camera.line, camera.line + 1, false)[1] .. " static" })
results.symbols = request("textDocument/documentSymbol", { textDocument = { uri = uri } })

-- Diagnostics arrive by notification; the quick fix is asked for with them.
local function suggestions()
  local found = {}
  for _, diagnostic in ipairs(vim.diagnostic.get(buf)) do
    if diagnostic.message:find("did you mean", 1, true) then
      -- Back to the protocol's form, as Neovim's own code-action request does
      -- (columns are bytes here and UTF-16 units there: the script is ASCII).
      table.insert(found, {
        range = {
          start = { line = diagnostic.lnum, character = diagnostic.col },
          ["end"] = { line = diagnostic.end_lnum, character = diagnostic.end_col },
        },
        message = diagnostic.message,
        severity = diagnostic.severity,
        source = diagnostic.source,
        code = diagnostic.user_data.lsp.code,
      })
    end
  end
  return found
end
results.diagnosed = vim.wait(30000, function()
  return #suggestions() > 0
end, 50)
local diagnostics = suggestions()
results.diagnostics = diagnostics
if #diagnostics > 0 then
  local actions = request("textDocument/codeAction", {
    textDocument = { uri = uri },
    range = diagnostics[1].range,
    context = { diagnostics = diagnostics },
  })
  results.actions = actions
  if type(actions) == "table" and actions[1] and actions[1].edit then
    vim.lsp.util.apply_workspace_edit(actions[1].edit, "utf-16")
    results.after_fix = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  end
end

-- Formatting, applied by the client as an editor applies it.
local edits = request("textDocument/formatting", {
  textDocument = { uri = uri },
  options = { tabSize = 2, insertSpaces = true },
})
results.formatting = edits
if type(edits) == "table" and edits[1] then
  vim.lsp.util.apply_text_edits(edits, buf, "utf-16")
  results.after_format = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
end
finish()
