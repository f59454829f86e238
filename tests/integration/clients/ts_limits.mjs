// A TypeScript SDK client against a rate-limited gateway:
//   node ts_limits.mjs URL CALLS
// connects, calls `echo` CALLS times in a row, and on the first error prints
// what the SDK surfaced (code, message, data), waits the retryAfterMs it was
// given, calls once more; prints one JSON object. TS_SDK_DIR names the SDK.
import { pathToFileURL } from "node:url";

const sdk = process.env.TS_SDK_DIR;
const load = (rel) => import(pathToFileURL(`${sdk}/dist/esm/${rel}`).href);
const { Client } = await load("client/index.js");
const { StreamableHTTPClientTransport } = await load("client/streamableHttp.js");

const [url, calls] = process.argv.slice(2);
const client = new Client({ name: "ts-limits", version: "1.0.0" });
await client.connect(new StreamableHTTPClientTransport(new URL(url)));
const out = { answers: [], error: null, retried: null };
for (let i = 0; i < Number(calls); i++) {
  try {
    const result = await client.callTool({ name: "echo", arguments: { message: `m${i}` } });
    out.answers.push(result.content[0].text);
  } catch (e) {
    out.error = { name: e?.constructor?.name, code: e?.code, message: String(e?.message), data: e?.data ?? null };
    break;
  }
}
if (out.error) {
  // The SDK gives an HTTP 429's body as text: read the JSON-RPC error's data from it.
  const text = out.error.message;
  const body = text.includes("{") ? JSON.parse(text.slice(text.indexOf("{"))) : null;
  const wait = out.error.data?.retryAfterMs ?? body?.error?.data?.retryAfterMs ?? 1000;
  await new Promise((resolve) => setTimeout(resolve, wait + 50));
  const result = await client.callTool({ name: "echo", arguments: { message: "again" } });
  out.retried = result.content[0].text;
}
console.log(JSON.stringify(out));
await client.close();
