#!/usr/bin/env bash
# The deploy check: proves the deploy with the real Vercel CLI, offline.
#
#   1. installs the pinned Vercel CLI (deploy-check/package-lock.json);
#   2. builds the function binaries (release) and the debug binaries that
#      `vercel dev` runs;
#   3. `vercel dev --local`: the whole contract (tests/contract.json) against
#      it and against our dev server, plus probes beyond the contract; every
#      difference must be a known one (deploy-check/vercel-dev.mjs);
#   4. `vercel build`, then asserts on .vercel/output and on the upload list
#      (deploy-check/assert-output.mjs);
#   5. the contract against the release binaries the build output points at.
#
# Usage: deploy-check/run.sh (from anywhere; CI runs it as root with CI=true).
# Leaves .vercel/output for inspection; logs go to target/deploy-check/.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy-check/lib.sh
source deploy-check/lib.sh

VERCEL=deploy-check/node_modules/.bin/vercel
LOGS=target/deploy-check
TOTAL_START=$SECONDS
mkdir -p "$LOGS"

# The contract's environment (tests/api/contract.rs), for every server here.
export API_TOKEN=contract-token CORS_ALLOW_ORIGINS=https://app.example.com
unset REDIS_URL KV_URL

# vercel dev reads .env and lets it override the process environment: a
# developer's .env would silently change the token the contract relies on.
if [[ -e .env ]]; then
  fail ".env exists: vercel dev gives it precedence over API_TOKEN/CORS_ALLOW_ORIGINS of the environment. Move it aside (mv .env .env.off) and run again."
fi

# `vercel build` and `vercel dev --local` need .vercel/project.json with a
# `settings` object and without projectId/orgId. Keep a linked project's file
# and put it back afterwards.
PROJECT_JSON=.vercel/project.json
PROJECT_BACKUP=
mkdir -p .vercel
if [[ -f $PROJECT_JSON ]] && grep -q '"projectId"\|"orgId"' "$PROJECT_JSON"; then
  PROJECT_BACKUP=$(mktemp)
  cp "$PROJECT_JSON" "$PROJECT_BACKUP"
  echo "keeping your linked $PROJECT_JSON aside until the check is done"
fi
echo '{"settings":{}}' >"$PROJECT_JSON"

cleanup() {
  stop_all_bg
  if [[ -n $PROJECT_BACKUP ]]; then
    cp "$PROJECT_BACKUP" "$PROJECT_JSON"
    rm -f "$PROJECT_BACKUP"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "install the pinned Vercel CLI (npm ci)" npm_install deploy-check
echo "$($VERCEL --version 2>/dev/null | tail -n 1) at $VERCEL"

# Function binaries: every api/**/*.rs is a [[bin]]; its name is what cargo
# metadata says.
mapfile -t FUNCTION_BINS < <(cargo metadata --format-version 1 --no-deps --locked | node -e '
  const path = require("path");
  const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const root = m.workspace_root;
  for (const p of m.packages) for (const t of p.targets)
    if (t.kind.includes("bin") && path.relative(root, t.src_path).startsWith("api" + path.sep)) console.log(t.name);')
((${#FUNCTION_BINS[@]} > 0)) || fail "no [[bin]] under api/ in Cargo.toml"
BIN_ARGS=()
for b in "${FUNCTION_BINS[@]}"; do BIN_ARGS+=(--bin "$b"); done
echo "function binaries: ${FUNCTION_BINS[*]}"

# Built here with --locked, so that the `cargo build` calls of vercel build
# (release) and vercel dev (debug, per request) find everything up to date.
step "cargo build --release (the function binaries)" cargo build --release --locked "${BIN_ARGS[@]}"
step "cargo build (debug binaries for vercel dev and our dev server)" cargo build --locked --bins
step "cargo test --no-run (the contract test binary)" cargo test --locked --test api --no-run

vercel_dev_check() {
  local vport oport vpid opid
  vport=$(free_port)
  start_bg "vercel dev --local" "$LOGS/vercel-dev.log" "$VERCEL" dev --local --yes --listen "127.0.0.1:$vport"
  vpid=$LAST_PID
  oport=$(free_port)
  start_bg "our dev server" "$LOGS/dev-server.log" env PORT="$oport" target/debug/dev
  opid=$LAST_PID
  wait_http "http://127.0.0.1:$oport/api/geo" "$opid" "$LOGS/dev-server.log" 60
  # The first request makes vercel dev build the function (cargo, debug).
  wait_http "http://127.0.0.1:$vport/api/geo" "$vpid" "$LOGS/vercel-dev.log" 300
  OURS="http://127.0.0.1:$oport" VERCEL_DEV="http://127.0.0.1:$vport" node deploy-check/vercel-dev.mjs
  stop_bg "$vpid"
  stop_bg "$opid"
}
step "vercel dev --local vs our dev server (contract + probes)" vercel_dev_check

# vercel dev deleted .vercel/output; build it now and leave it for people to see.
step "vercel build" env VERCEL_BUILD_IMAGE=1 "$VERCEL" build --yes
step "assert on .vercel/output and the upload list" node deploy-check/assert-output.mjs

# The output's functions run target/release/<bin> (checked above): the same
# contract cases against exactly those binaries.
step "contract against the release binaries" \
  env CONTRACT_BIN_DIR=target/release cargo test --locked --test api contract_holds_for_the_function_binaries -- --nocapture

summary
echo "deploy check passed in $((SECONDS - TOTAL_START)) s"
echo "deploy-check: ${#TIMINGS[@]} passed, 0 failed"
