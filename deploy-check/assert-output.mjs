// Asserts on what `vercel build` left in .vercel/output, and on the files a
// source deploy (`vercel deploy`) would upload. Run from the project root:
//   node deploy-check/assert-output.mjs
// Prints one line per check; exits 1 when any check fails.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const root = process.cwd();
const out = join(root, ".vercel", "output");
const posix = (p) => p.split(sep).join("/");

let passed = 0;
let failed = 0;
function check(name, fn) {
  try {
    const detail = fn();
    passed++;
    console.log(`ok    ${name}${detail ? `: ${detail}` : ""}`);
  } catch (e) {
    failed++;
    console.log(`FAIL  ${name}\n      ${String(e.message).split("\n").join("\n      ")}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function sameSet(got, want, what) {
  const g = new Set(got);
  const w = new Set(want);
  const missing = [...w].filter((x) => !g.has(x));
  const extra = [...g].filter((x) => !w.has(x));
  assert(
    missing.length === 0 && extra.length === 0,
    `${what}: missing [${missing.join(", ")}], unexpected [${extra.join(", ")}]`,
  );
}
const readJson = (p) => JSON.parse(readFileSync(p, "utf8"));

/** Files under dir (relative, posix), recursively. */
function walk(dir, base = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p, base) : [posix(relative(base, p))];
  });
}
/** Folders named *.func under dir (relative, posix). */
function funcDirs(dir, base = dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (!e.isDirectory()) return [];
    const p = join(dir, e.name);
    return e.name.endsWith(".func") ? [posix(relative(base, p))] : funcDirs(p, base);
  });
}
const sha = (p) => createHash("sha256").update(readFileSync(p)).digest("hex");

// What the project says should be deployed.
const apiFiles = walk(join(root, "api"))
  .filter((f) => f.endsWith(".rs"))
  .map((f) => `api/${f}`)
  .sort();
const publicFiles = walk(join(root, "public")).sort();
const meta = JSON.parse(
  spawnSync("cargo", ["metadata", "--format-version", "1", "--no-deps"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  }).stdout,
);
const binBySrc = new Map();
for (const pkg of meta.packages) {
  for (const t of pkg.targets) {
    if (t.kind.includes("bin")) binBySrc.set(posix(relative(root, t.src_path)), t.name);
  }
}
const vercelJson = readJson(join(root, "vercel.json"));

console.log(`api files: ${apiFiles.join(", ")}; public files: ${publicFiles.join(", ")}`);

check("the build output exists", () => {
  assert(existsSync(join(out, "config.json")), `${posix(relative(root, out))}/config.json is missing: run vercel build first`);
});

check("every api/**/*.rs is a [[bin]] of Cargo.toml", () => {
  const notBins = apiFiles.filter((f) => !binBySrc.has(f));
  assert(notBins.length === 0, `not a [[bin]]: ${notBins.join(", ")}`);
  return apiFiles.map((f) => `${f} -> ${binBySrc.get(f)}`).join(", ");
});

check("exactly one function per api/**/*.rs", () => {
  const got = funcDirs(join(out, "functions")).sort();
  const want = apiFiles.map((f) => `${f.slice(0, -".rs".length)}.func`);
  sameSet(got, want, "functions");
  return got.join(", ");
});

check("the dev server and other binaries are not functions", () => {
  const funcs = funcDirs(join(out, "functions"));
  const others = [...binBySrc].filter(([src]) => !apiFiles.includes(src)).map(([, name]) => name);
  for (const f of funcs) {
    const cfg = readJson(join(out, "functions", f, ".vc-config.json"));
    const exe = cfg.filePathMap?.[cfg.handler] ?? "";
    const bin = exe.split("/").pop();
    assert(!others.includes(bin), `${f} runs ${exe}, which is not an api/ binary`);
  }
  return `not deployed: ${others.join(", ") || "(none)"}`;
});

check("each function runs its release binary with the Rust runtime", () => {
  const seen = [];
  for (const api of apiFiles) {
    const func = `${api.slice(0, -".rs".length)}.func`;
    const dir = join(out, "functions", func);
    const cfg = readJson(join(dir, ".vc-config.json"));
    const bin = binBySrc.get(api);
    assert(cfg.runtime === "executable", `${func}: runtime ${cfg.runtime}`);
    assert(cfg.runtimeLanguage === "rust", `${func}: runtimeLanguage ${cfg.runtimeLanguage}`);
    assert(cfg.handler === "executable", `${func}: handler ${cfg.handler}`);
    const exe = cfg.filePathMap?.executable;
    assert(exe === `target/release/${bin}`, `${func}: executable is ${exe}, expected target/release/${bin}`);
    const abs = join(root, exe);
    assert(existsSync(abs), `${func}: ${exe} does not exist`);
    assert((statSync(abs).mode & 0o111) !== 0, `${func}: ${exe} is not executable`);
    const magic = readFileSync(abs).subarray(0, 4).toString("latin1");
    assert(magic === "\x7fELF", `${func}: ${exe} is not an ELF binary`);
    const extra = walk(dir).filter((f) => f !== ".vc-config.json" && f !== "executable");
    assert(extra.length === 0, `${func} also holds ${extra.join(", ")}`);
    seen.push(`${func} -> ${exe} (${cfg.architecture})`);
  }
  return seen.join(", ");
});

check("builds.json: @vercel/rust for each api file, @vercel/static for public/, nothing else", () => {
  const builds = readJson(join(out, "builds.json")).builds;
  const rust = builds.filter((b) => b.use === "@vercel/rust").map((b) => b.src).sort();
  sameSet(rust, apiFiles, "@vercel/rust builds");
  const other = builds.filter((b) => b.use !== "@vercel/rust");
  assert(
    other.length === 1 && other[0].use === "@vercel/static" && other[0].src === "public/**/*",
    `other builds: ${JSON.stringify(other.map((b) => [b.use, b.src]))}`,
  );
  return builds.map((b) => `${b.use} ${b.src}`).join(", ");
});

// Vercel's router, reduced to what rewrites do: after the filesystem, the
// first route whose `src` matches gives the destination.
const routes = readJson(join(out, "config.json")).routes;
function rewrite(path) {
  const fsIdx = routes.findIndex((r) => r.handle === "filesystem");
  for (const r of routes.slice(fsIdx + 1)) {
    if (r.handle) break;
    const m = new RegExp(r.src).exec(path);
    if (!m) continue;
    if (r.status && !r.dest) return `status ${r.status}`;
    return r.dest.replace(/\$(\d+)/g, (_, n) => m[Number(n)] ?? "");
  }
  return "no route";
}

check("every rewrite of vercel.json is a route, in order", () => {
  const rewrites = vercelJson.rewrites ?? [];
  const pathOf = (dest) => dest.split("?")[0];
  const got = routes.filter((r) => r.check && r.dest).map((r) => pathOf(r.dest));
  let i = 0;
  for (const r of rewrites) {
    while (i < got.length && got[i] !== pathOf(r.destination)) i++;
    assert(i < got.length, `no route (in order) for ${r.source} -> ${r.destination}; route destinations: ${JSON.stringify(got)}`);
    i++;
  }
  return rewrites.map((r) => `${r.source} -> ${r.destination}`).join(", ");
});

check("the users rewrite and the /api catch-alls route as vercel.json says", () => {
  const cases = [
    ["/api/users/abc123", "/api/users?id=abc123"],
    ["/api/users/a%20b", "/api/users?id=a%20b"],
    ["/api/nope", "/api/geo"],
    ["/api/geo/extra", "/api/geo"],
    ["/api/users/a/b", "/api/geo"],
    ["/api", "/api/geo"],
    ["/api/", "/api/geo"],
    ["/api/users/", "/api/geo"],
    ["/api/users/abc123/", "/api/geo"],
  ];
  const wrong = cases
    .map(([path, want]) => [path, want, rewrite(path)])
    .filter(([, want, got]) => got.split("?path=")[0].replace(/\?$/, "") !== want);
  assert(wrong.length === 0, wrong.map(([p, w, g]) => `${p}: ${g}, expected ${w}`).join("\n"));
  return cases.map(([p]) => `${p} -> ${rewrite(p)}`).join(", ");
});

check("every file of public/ is in the static output, byte for byte, and nothing else", () => {
  const got = walk(join(out, "static")).sort();
  sameSet(got, publicFiles, "static files");
  const differ = publicFiles.filter((f) => sha(join(root, "public", f)) !== sha(join(out, "static", f)));
  assert(differ.length === 0, `content differs: ${differ.join(", ")}`);
  return got.join(", ");
});

check("the output holds nothing but functions, static files and metadata", () => {
  const top = readdirSync(out).sort();
  const allowed = ["builds.json", "config.json", "diagnostics", "functions", "static"];
  const extra = top.filter((e) => !allowed.includes(e));
  assert(extra.length === 0, `unexpected in .vercel/output: ${extra.join(", ")}`);
  return top.join(", ");
});

// What `vercel deploy` would upload for a remote build, computed by the CLI's
// own file walker (the one that reads .vercelignore).
async function uploadList() {
  const chunks = join(root, "deploy-check", "node_modules", "vercel", "dist", "chunks");
  const file = readdirSync(chunks)
    .filter((f) => f.endsWith(".js"))
    .find((f) => {
      const text = readFileSync(join(chunks, f), "utf8");
      return text.includes("buildFileTree:()=>") && /require_dist\d* as require_dist\}/.test(text);
    });
  assert(file, "the Vercel CLI's file walker (buildFileTree) was not found in its dist/chunks");
  const client = (await import(pathToFileURL(join(chunks, file)).href)).require_dist();
  const { fileList } = await client.buildFileTree(root, { isDirectory: true }, () => {});
  return fileList.map((f) => posix(relative(root, f))).sort();
}

let uploads = null;
try {
  uploads = await uploadList();
} catch (e) {
  check("the upload list can be computed", () => {
    throw e;
  });
}
if (uploads) {
  check("a source deploy uploads no tooling, build products or secrets", () => {
    const banned = /(^|\/)(deploy-check|bench|node_modules|target|\.vercel|\.git|\.env|\.env\..*)(\/|$)/;
    const bad = uploads.filter((f) => banned.test(f));
    assert(bad.length === 0, `would upload: ${bad.slice(0, 20).join(", ")}${bad.length > 20 ? ", ..." : ""}`);
    return `${uploads.length} files`;
  });
  check("a source deploy uploads everything the remote build needs", () => {
    const needed = [
      "Cargo.toml",
      "Cargo.lock",
      "vercel.json",
      ...apiFiles,
      ...publicFiles.map((f) => `public/${f}`),
      ...walk(join(root, "src")).map((f) => `src/${f}`),
      ...walk(join(root, "data")).map((f) => `data/${f}`),
    ];
    const missing = needed.filter((f) => !uploads.includes(f));
    assert(missing.length === 0, `not uploaded: ${missing.join(", ")}`);
    return uploads.join(", ");
  });
}

console.log(`build-output: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
