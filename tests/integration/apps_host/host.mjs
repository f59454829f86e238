// A minimal MCP Apps host for the gateway's browser test: one MCP client
// (Streamable HTTP, declaring the io.modelcontextprotocol/ui extension) and,
// per rendered app, an AppBridge to a sandboxed iframe whose CSP is built from
// the resource's forwarded _meta.ui, as the extension's specification says.
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import {
  AppBridge,
  PostMessageTransport,
  getToolUiResourceUri,
} from "@modelcontextprotocol/ext-apps/app-bridge";

const EXTENSION = "io.modelcontextprotocol/ui";
const MIME = "text/html;profile=mcp-app";
const HOST = { name: "mcpgateway-apps-host", version: "1.0.0" };

function domains(list) {
  return Array.isArray(list) && list.length ? " " + list.join(" ") : "";
}

// The specification's CSP construction from _meta.ui.csp.
export function buildCsp(csp) {
  const resources = domains(csp?.resourceDomains);
  return [
    "default-src 'none'",
    `script-src 'self' 'unsafe-inline'${resources}`,
    `style-src 'self' 'unsafe-inline'${resources}`,
    `connect-src 'self'${domains(csp?.connectDomains)}`,
    `img-src 'self' data:${resources}`,
    `font-src 'self'${resources}`,
    `media-src 'self' data:${resources}`,
    `frame-src ${csp?.frameDomains?.length ? csp.frameDomains.join(" ") : "'none'"}`,
    "object-src 'none'",
    `base-uri ${csp?.baseUriDomains?.length ? csp.baseUriDomains.join(" ") : "'self'"}`,
  ].join("; ");
}

function withCsp(html, csp) {
  const tag = `<meta http-equiv="Content-Security-Policy" content="${csp.replace(/"/g, "&quot;")}">`;
  const head = html.search(/<head[^>]*>/i);
  if (head < 0) return tag + html;
  const end = html.indexOf(">", head) + 1;
  return html.slice(0, end) + tag + html.slice(end);
}

const state = { client: null, tools: [], frames: 0, log: [] };

async function connect(url) {
  const client = new Client(HOST, {
    capabilities: { extensions: { [EXTENSION]: { mimeTypes: [MIME] } } },
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url, location.href)));
  state.client = client;
  state.tools = (await client.listTools()).tools;
  return state.tools;
}

// Render the app at uri for a call of toolName with args that gave result.
async function mount(uri, toolName, args, result) {
  const client = state.client;
  const read = await client.readResource({ uri });
  const content = read.contents[0];
  const listed = (await client.listResources()).resources.find((r) => r.uri === uri);
  const ui = content._meta?.ui ?? listed?._meta?.ui;
  const csp = buildCsp(ui?.csp);
  const html = typeof content.text === "string" ? content.text : atob(content.blob);
  const frame = document.createElement("iframe");
  frame.id = `app-${++state.frames}`;
  frame.setAttribute("sandbox", "allow-scripts");
  frame.style.width = "600px";
  frame.style.height = "400px";
  frame.srcdoc = withCsp(html, csp);
  const bridge = new AppBridge(client, HOST, {
    serverTools: {},
    serverResources: {},
    logging: {},
  });
  const initialized = new Promise((resolve) => {
    bridge.oninitialized = resolve;
  });
  bridge.onloggingmessage = (params) => state.log.push(params);
  document.body.append(frame);
  await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
  await initialized;
  await bridge.sendToolInput({ arguments: args });
  await bridge.sendToolResult(result);
  return {
    frame: frame.id,
    tool: toolName,
    uri,
    mimeType: content.mimeType,
    meta: content._meta ?? null,
    csp,
    result,
  };
}

// A host's usual way: the tool's definition names its app; call it, render it.
async function render(toolName, args = {}) {
  const tool = state.tools.find((t) => t.name === toolName);
  if (!tool) throw new Error(`no tool ${toolName}`);
  const result = await state.client.callTool({ name: toolName, arguments: args });
  return mount(getToolUiResourceUri(tool), toolName, args, result);
}

// Search mode: the tool is called through invoke, whose result names its app.
async function renderInvoked(toolName, args = {}) {
  const result = await state.client.callTool({
    name: "invoke",
    arguments: { name: toolName, arguments: args },
  });
  const uri = result._meta?.ui?.resourceUri;
  if (!uri) throw new Error(`invoke of ${toolName} named no app`);
  return mount(uri, toolName, args, result);
}

window.mcpHost = { connect, render, renderInvoked, buildCsp, state };
