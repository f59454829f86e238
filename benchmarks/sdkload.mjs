#!/usr/bin/env node
// Load as the official TypeScript MCP SDK's client makes it: a `Client` over a
// `StreamableHTTPClientTransport` per MCP session (Node's global fetch, the
// transport's GET stream), `connect` (initialize, initialized) and `listTools`
// once, then sequential `callTool({name: "echo", arguments: {message}})`.
//
//   node benchmarks/sdkload.mjs sdk-ts --url URL [--sessions C] [--first K]
//       [--calls R] [--warmup W] [--max-seconds S] [--grace G] [--nonce N]
//       [--wait-go] [--sdk-dir DIR]
//
// The options and the JSON lines it prints are `mcpload.py load`'s (and
// `libload.py`'s), so that `bench.runLevel` drives it like the others: C
// sessions open (32 at a time, each within 15 s), make W warm-up calls each, `{"event":"ready"}`,
// a `GO` line on stdin (`--wait-go`), R calls each until the bound of S
// seconds, the sessions closed (`terminateSession`: a DELETE), then
// `{"event":"result"}` with start and end on CLOCK_MONOTONIC (Python's
// `time.monotonic()`). Every message is `<nonce>-s<session>-<n>`: an answer
// with another text is misrouted, a call unanswered by the bound plus G seconds
// (or whose connection failed) is lost, a JSON-RPC error, an `isError` result
// or an HTTP error status is an error. The SDK picks its JSON-RPC ids.
//
// The SDK is imported by absolute path from --sdk-dir (default: $TS_SDK_DIR,
// which scripts/install-test-backends writes into <cache>/paths.env), through
// its package.json exports.

import { createInterface } from "node:readline";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";

const OPEN_AT_ONCE = 32;
const OPEN_MS = 15000; // at most this long for initialize, and for tools/list
const CLOSE_MS = 10000;

/** The file URL of the package's export `subpath` (its "import" condition). */
function resolveExport(dir, subpath) {
  const exportsMap = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).exports;
  let target = exportsMap[subpath];
  let rest = "";
  if (target === undefined) {
    for (const [key, value] of Object.entries(exportsMap)) {
      if (key.endsWith("*") && subpath.startsWith(key.slice(0, -1))) {
        target = value;
        rest = subpath.slice(key.length - 1);
        break;
      }
    }
  }
  if (target && typeof target === "object") target = target.import ?? target.default;
  if (typeof target !== "string") throw new Error(`${dir}: no export ${subpath}`);
  return pathToFileURL(join(dir, target.replace("*", rest))).href;
}

function out(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + "\n");
}

function mono() {
  return Number(process.hrtime.bigint()) / 1e9; // CLOCK_MONOTONIC, as time.monotonic()
}

function options() {
  const { values } = parseArgs({
    args: process.argv.slice(3),
    options: {
      url: { type: "string" },
      sessions: { type: "string", default: "1" },
      first: { type: "string", default: "0" },
      calls: { type: "string", default: "100" },
      warmup: { type: "string", default: "5" },
      "max-seconds": { type: "string", default: "30" },
      grace: { type: "string", default: "10" },
      nonce: { type: "string", default: "" },
      "wait-go": { type: "boolean", default: false },
      "sdk-dir": { type: "string", default: process.env.TS_SDK_DIR ?? "" },
    },
  });
  if (process.argv[2] !== "sdk-ts" || !values.url) {
    throw new Error("usage: sdkload.mjs sdk-ts --url URL [options]");
  }
  if (!values["sdk-dir"]) throw new Error("no --sdk-dir and no TS_SDK_DIR");
  return {
    url: values.url,
    sessions: Number(values.sessions),
    first: Number(values.first),
    calls: Number(values.calls),
    warmup: Number(values.warmup),
    maxSeconds: Number(values["max-seconds"]),
    grace: Number(values.grace),
    nonce: values.nonce || randomBytes(4).toString("hex"),
    waitGo: values["wait-go"],
    sdkDir: values["sdk-dir"],
  };
}

function newTally() {
  return {
    ok: 0,
    errors: 0,
    misrouted: 0,
    lost: 0,
    sent: 0,
    notifications: 0,
    samples: [],
    latUs: [],
  };
}

function count(tally, verdict, why, micros) {
  tally[verdict] += 1;
  if (verdict === "ok") tally.latUs.push(micros);
  else if (tally.samples.length < 5) tally.samples.push(String(why).slice(0, 300));
}

/** The verdict on a failed call: [verdict, fatal]. */
function failure(sdk, error) {
  if (error instanceof sdk.McpError) {
    const gone = [sdk.ErrorCode.RequestTimeout, sdk.ErrorCode.ConnectionClosed];
    return gone.includes(error.code) ? ["lost", true] : ["errors", false];
  }
  if (error instanceof sdk.StreamableHTTPError) return ["errors", false]; // an HTTP status
  return ["lost", true]; // fetch failed: the connection is gone
}

async function runPhase(sdk, s, calls, deadline, grace, tally) {
  for (let k = 0; k < calls; k++) {
    if (mono() >= deadline) return;
    if (s.gone) {
      count(tally, "lost", "the session was gone before this phase", 0);
      return;
    }
    s.n += 1;
    const message = `${s.prefix}${s.n}`;
    tally.sent += 1;
    const timeout = Math.max(1, Math.round((deadline + grace - mono()) * 1000));
    const t0 = process.hrtime.bigint();
    try {
      const result = await s.client.callTool(
        { name: "echo", arguments: { message } },
        undefined,
        { timeout },
      );
      const micros = Number((process.hrtime.bigint() - t0) / 1000n);
      const text = result.content?.[0]?.text;
      if (result.isError) count(tally, "errors", `isError: ${text}`, micros);
      else if (text === `Echo: ${message}`) count(tally, "ok", "", micros);
      else count(tally, "misrouted", `not mine (${message}): ${text}`, micros);
    } catch (error) {
      const [verdict, fatal] = failure(sdk, error);
      count(tally, verdict, `${error?.name}: ${error?.message}`, 0);
      if (fatal) {
        s.gone = true;
        return;
      }
    }
  }
}

async function phase(sdk, sessions, calls, args) {
  const tally = newTally();
  const deadline = mono() + args.maxSeconds;
  await Promise.all(sessions.map((s) => runPhase(sdk, s, calls, deadline, args.grace, tally)));
  return tally;
}

async function openAll(sdk, args) {
  const sessions = [];
  const problems = [];
  let next = 0;
  async function worker() {
    while (next < args.sessions) {
      const index = args.first + next++;
      const client = new sdk.Client({ name: "sdkload", version: "1" });
      const transport = new sdk.StreamableHTTPClientTransport(new URL(args.url));
      try {
        await client.connect(transport, { timeout: OPEN_MS });
        await client.listTools(undefined, { timeout: OPEN_MS }); // as a client does first
        sessions.push({ client, transport, prefix: `${args.nonce}-s${index}-`, n: 0, gone: false });
      } catch (error) {
        problems.push(`${error?.name}: ${error?.message}`);
        await client.close().catch(() => {});
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(OPEN_AT_ONCE, args.sessions) }, worker));
  return { sessions, problems };
}

async function closeAll(sessions) {
  const closing = Promise.all(
    sessions.map(async (s) => {
      await s.transport.terminateSession().catch(() => {});
      await s.client.close().catch(() => {});
    }),
  );
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, CLOSE_MS))]);
}

async function main() {
  const args = options();
  const sdk = {
    ...(await import(resolveExport(args.sdkDir, "./client"))),
    ...(await import(resolveExport(args.sdkDir, "./client/streamableHttp.js"))),
    ...(await import(resolveExport(args.sdkDir, "./types.js"))),
  };
  const lines = createInterface({ input: process.stdin });
  const t = mono();
  const { sessions, problems } = await openAll(sdk, args);
  if (problems.length) {
    out("failed", { error: `opening sessions: ${problems.length} failed, e.g. ${problems[0]}` });
    await closeAll(sessions);
    return;
  }
  const setupSeconds = mono() - t;
  if (args.warmup) await phase(sdk, sessions, args.warmup, args);
  out("ready", { sessions: sessions.length, setupSeconds: Math.round(setupSeconds * 1e4) / 1e4 });
  if (args.waitGo) await once(lines, "line");
  const cpu0 = process.cpuUsage();
  const start = mono();
  const tally = await phase(sdk, sessions, args.calls, args);
  const end = mono();
  const cpu = process.cpuUsage(cpu0);
  out("measured", {}); // the measured calls are done: closing the sessions is not theirs
  await closeAll(sessions);
  out("result", {
    ok: tally.ok,
    errors: tally.errors,
    misrouted: tally.misrouted,
    lost: tally.lost,
    sent: tally.sent,
    jsonResponses: 0,
    sseResponses: 0,
    notifications: tally.notifications,
    samples: tally.samples,
    start,
    end,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 100) / 1e4,
    latUs: tally.latUs,
    loop: `node ${process.version}`,
  });
}

main()
  .catch((error) => out("failed", { error: `${error?.name}: ${error?.message}` }))
  .finally(() => process.stdout.write("", () => process.exit(0)));
