// The TypeScript SDK 2.x host side of the Skills extension (SEP-2640): the SDK's Client
// (TS_CLIENT2_DIR) with its SkillsClient (dist/ext/skills), which lists a server's
// skills, gets one, and reads each file, verifying it against the entry: listed, its
// size, its SHA-256 digest and (for SKILL.md) its frontmatter.
//   node ts_skills.mjs URL pin|handshake
// pin: the client pinned to 2026-07-28 (no session); handshake: the SDK's default,
// initialize and a session. Prints one JSON line: {"ok":true,"supported":...,
// "directoryRead":...,"skills":[uri...],"verified":[uri...],"dynamic":[uri...],
// "got":uri,"children":[uri...],"ttlMs":...,"cacheScope":...} or {"ok":false,"error":...}.
import { pathToFileURL } from "node:url";

const [url, mode] = process.argv.slice(2);
const load = (rel) => import(pathToFileURL(`${process.env.TS_CLIENT2_DIR}/${rel}`).href);
const { Client, StreamableHTTPClientTransport } = await load("dist/index.mjs");
const { SkillsClient } = await load("dist/ext/skills/index.mjs");

const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");
setTimeout(() => {
  say({ ok: false, error: "no outcome within 60 s" });
  process.exit(1);
}, 60_000).unref();

const negotiation = mode === "pin" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {};
const client = new Client({ name: "ts-skills", version: "1.0.0" }, { ...negotiation });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  const skills = new SkillsClient(client);
  const listing = await skills.list();
  const verified = [];
  const dynamic = [];
  for (const skill of listing.skills) {
    if (skill.resources === "dynamic") {
      const file = await skills.read(skill);
      dynamic.push(file.uri);
      continue;
    }
    for (const resource of skill.resources) {
      const file = await skills.read(skill, resource.uri);
      if (!file.verified) throw new Error(`${resource.uri} was not verified`);
      verified.push(file.uri);
    }
  }
  const first = listing.skills[0];
  const got = await skills.get(first.uri);
  const root = first.uri.slice(0, -"/SKILL.md".length);
  const children = skills.directoryRead ? (await skills.readDirectory(root)).resources : [];
  say({
    ok: true,
    supported: skills.supported,
    directoryRead: skills.directoryRead,
    skills: listing.skills.map((skill) => skill.uri),
    invalid: listing.invalid,
    verified,
    dynamic,
    got: got.skill.uri,
    children: children.map((child) => child.uri),
    ttlMs: listing.ttlMs ?? null,
    cacheScope: listing.cacheScope ?? null,
  });
  await client.close();
  process.exit(0);
} catch (error) {
  say({ ok: false, error: error instanceof Error ? error.message : String(error), stack: error?.stack ?? null });
  process.exit(1);
}
