// One TypeScript SDK client on the gateway's aggregate endpoint /mcp (or, for the
// direct sessions of the same test, on /<server>/mcp with PREFIX ""):
//   node ts_aggregate.mjs v1|v2 URL LABEL NONCE PREFIX
// v1 loads the TypeScript SDK 1.x from TS_SDK_DIR (@modelcontextprotocol/sdk),
// v2 the 2.x client package from TS_CLIENT2_DIR (@modelcontextprotocol/client).
// PREFIX is what the era fixture's names carry ("era__" on /mcp, "" on /era/mcp).
// It connects (handshake initialize) with sampling and elicitation handlers that answer
// with LABEL and record what they were asked, lists tools, prompts and resources,
// reads era://notes/readme and gets prompt PREFIX+greet, then prints
//   {"event":"ready","sessionId":...,"version":...}
// and waits for one line on stdin ("go"), so the test can start every client's calls
// at once. Then it calls PREFIX+count (3 progress steps), PREFIX+ask_model and
// PREFIX+ask_user with LABEL and NONCE, and, when PREFIX is "era__", everything__echo
// and everything__trigger-long-running-operation (3 progress steps), and prints
//   {"ok":true,"tools":[...],"prompts":[...],"resources":[...],"read":...,"prompt":...,
//    "count":...,"countProgress":[...],"model":...,"user":...,"echo":...,"long":...,
//    "longProgress":[...],"seen":{"sampling":[...],"elicitation":[...]},"notifications":[...]}
// or {"ok":false,"error":...,"seen":...}; then it waits for another line (or the end of
// stdin) and closes its session.
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";

const [flavour, url, label, nonce, prefix = ""] = process.argv.slice(2);
let Client, StreamableHTTPClientTransport, samplingMethod, elicitationMethod;
if (flavour === "v1") {
  const sdk = process.env.TS_SDK_DIR;
  const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
  ({ Client } = await load("client/index.js"));
  ({ StreamableHTTPClientTransport } = await load("client/streamableHttp.js"));
  const types = await load("types.js");
  samplingMethod = types.CreateMessageRequestSchema;
  elicitationMethod = types.ElicitRequestSchema;
} else if (flavour === "v2") {
  const pkg = process.env.TS_CLIENT2_DIR;
  ({ Client, StreamableHTTPClientTransport } = await import(
    pathToFileURL(`${pkg}/dist/index.mjs`).href
  ));
  samplingMethod = "sampling/createMessage";
  elicitationMethod = "elicitation/create";
} else {
  console.error(`usage: ts_aggregate.mjs v1|v2 URL LABEL NONCE PREFIX (got ${flavour})`);
  process.exit(2);
}

const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const text = (error) => (error instanceof Error ? error.message : String(error));
const firstText = (result) => result.content?.[0]?.text ?? null;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async () => (await lines.next()).value ?? null;

const client = new Client(
  { name: `ts-aggregate-${label}`, version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: { form: {} } } },
);
const seen = { sampling: [], elicitation: [] };
const notifications = [];
client.setRequestHandler(samplingMethod, async (request) => {
  const asked = request.params.messages[0].content.text;
  seen.sampling.push(asked);
  return {
    role: "assistant",
    model: `model-${label}`,
    content: { type: "text", text: `${label} answers ${asked}` },
  };
});
client.setRequestHandler(elicitationMethod, async (request) => {
  seen.elicitation.push(request.params.message);
  return { action: "accept", content: { answer: `${label} says ${request.params.message}` } };
});
client.fallbackNotificationHandler = async (n) => notifications.push(n.method);

async function call(name, args, progress) {
  const options = { timeout: 30000 };
  if (progress) options.onprogress = (p) => progress.push(p.progress);
  const params = { name, arguments: args };
  return flavour === "v1"
    ? client.callTool(params, undefined, options)
    : client.callTool(params, options);
}

const transport = new StreamableHTTPClientTransport(new URL(url));
try {
  await client.connect(transport);
  const tools = await client.listTools();
  const prompts = await client.listPrompts();
  const resources = await client.listResources();
  const read = await client.readResource({ uri: "era://notes/readme" });
  const prompt = await client.getPrompt({ name: `${prefix}greet`, arguments: { name: label } });
  say({
    event: "ready",
    sessionId: transport.sessionId ?? null,
    version: transport.protocolVersion ?? null,
  });
  await nextLine();
  const countProgress = [];
  const count = await call(`${prefix}count`, { steps: 3 }, countProgress);
  const model = await call(`${prefix}ask_model`, { label, nonce });
  const user = await call(`${prefix}ask_user`, { label, nonce });
  const extra = {};
  if (prefix === "era__") {
    extra.echo = firstText(await call("everything__echo", { message: `echo ${label}` }));
    extra.longProgress = [];
    extra.long = firstText(
      await call(
        "everything__trigger-long-running-operation",
        { duration: 1, steps: 3 },
        extra.longProgress,
      ),
    );
  }
  say({
    ok: true,
    tools: tools.tools.map((tool) => tool.name).sort(),
    prompts: prompts.prompts.map((p) => p.name).sort(),
    resources: resources.resources.map((r) => r.uri).sort(),
    read: read.contents[0]?.text ?? null,
    prompt: prompt.messages[0]?.content?.text ?? null,
    count: firstText(count),
    countProgress,
    model: firstText(model),
    user: firstText(user),
    ...extra,
    seen,
    notifications,
  });
} catch (error) {
  say({ ok: false, error: text(error), code: error?.code ?? null, seen });
}
await nextLine();
await client.close().catch(() => {});
process.exit(0);
