// One TypeScript SDK 2.x client (@modelcontextprotocol/client, from TS_CLIENT2_DIR)
// running the dual-era scenario against tests/fixtures/era_server.py behind the gateway:
//   node ts_era2026.mjs URL MODE LABEL NONCE
// MODE: "legacy" (the default 2025 connect), "auto" (probe server/discover, fall back),
// "pin" (versionNegotiation {mode: {pin: "2026-07-28"}}: 2026 only).
// It lists tools, resources and prompts, reads era://notes/readme, gets prompt greet,
// calls count (with progress), ask_model and ask_user with its own LABEL and NONCE,
// answering sampling and elicitation with handlers that record what they were asked.
// Then it prints one JSON line:
//   {"ok":true,"era":...,"version":...,"sessionId":...,"tools":[...],"resources":[...],
//    "prompts":[...],"read":"...","prompt":"...","count":"...","progress":[...],
//    "model":"...","user":"...","seen":{"sampling":[...],"elicitation":[...]}}
// or {"ok":false,"error":"...","code":...,"seen":{...}}, and waits for a line on stdin
// (or its end) before it closes: the test checks the gateway while every client is
// still connected.
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [url, mode, label, nonce] = process.argv.slice(2);
const pkg = process.env.TS_CLIENT2_DIR;
const { Client, StreamableHTTPClientTransport } = await import(
  pathToFileURL(`${pkg}/dist/index.mjs`).href
);

const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const text = (error) => (error instanceof Error ? error.message : String(error));
const negotiation =
  mode === "pin"
    ? { versionNegotiation: { mode: { pin: "2026-07-28" } } }
    : mode === "auto"
      ? { versionNegotiation: { mode: "auto" } }
      : {};
const client = new Client(
  { name: `ts-${label}`, version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} } }, ...negotiation },
);
const seen = { sampling: [], elicitation: [] };
client.setRequestHandler("sampling/createMessage", async (request) => {
  const asked = request.params.messages[0].content.text;
  seen.sampling.push(asked);
  return {
    role: "assistant",
    model: `model-${label}`,
    content: { type: "text", text: `${label} answers ${asked}` },
  };
});
client.setRequestHandler("elicitation/create", async (request) => {
  seen.elicitation.push(request.params.message);
  return { action: "accept", content: { answer: `${label} says ${request.params.message}` } };
});

const firstText = (result) => result.content?.[0]?.text ?? null;
const transport = new StreamableHTTPClientTransport(new URL(url));
try {
  await client.connect(transport);
  const tools = await client.listTools();
  const resources = await client.listResources();
  const prompts = await client.listPrompts();
  const read = await client.readResource({ uri: "era://notes/readme" });
  const prompt = await client.getPrompt({ name: "greet", arguments: { name: label } });
  const progress = [];
  const count = await client.callTool(
    { name: "count", arguments: { steps: 3 } },
    { onprogress: (p) => progress.push(p.progress) },
  );
  const model = await client.callTool({ name: "ask_model", arguments: { label, nonce } });
  const user = await client.callTool({ name: "ask_user", arguments: { label, nonce } });
  say({
    ok: true,
    era: client.getProtocolEra?.() ?? null,
    version: client.getNegotiatedProtocolVersion?.() ?? null,
    sessionId: transport.sessionId ?? null,
    tools: tools.tools.map((tool) => tool.name).sort(),
    resources: resources.resources.map((resource) => resource.uri),
    prompts: prompts.prompts.map((p) => p.name),
    read: read.contents[0]?.text ?? null,
    prompt: prompt.messages[0]?.content?.text ?? null,
    count: firstText(count),
    progress,
    model: firstText(model),
    user: firstText(user),
    seen,
  });
} catch (error) {
  say({ ok: false, error: text(error), code: error?.code ?? null, seen });
}

const input = createInterface({ input: process.stdin });
await new Promise((resolve) => {
  input.once("line", resolve);
  input.once("close", resolve);
});
await client.close().catch(() => {});
process.exit(0);
