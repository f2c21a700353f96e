#!/usr/bin/env bash
# The browser test: the page of public/ in headless Chromium (Debian's
# package, no browser download) against our dev server (target/debug/dev).
# Screenshots go to target/browser/.
#
# Usage: deploy-check/browser.sh (from anywhere; CI runs it as root with CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy-check/lib.sh
source deploy-check/lib.sh

LOGS=target/deploy-check
SHOTS=target/browser
TOTAL_START=$SECONDS
mkdir -p "$LOGS" "$SHOTS"
trap stop_all_bg EXIT
trap 'exit 130' INT TERM

# fonts-noto-color-emoji: the country's flag is an emoji.
step "install Chromium (apt)" apt_install chromium fonts-noto-color-emoji
/usr/bin/chromium --version
step "install playwright-core (npm ci)" npm_install deploy-check/browser
step "cargo build --bin dev" cargo build --locked --bin dev

unset REDIS_URL KV_URL CORS_ALLOW_ORIGINS
# The token the form test types in; writes go to the embedded store.
export API_TOKEN=browser-token BROWSER_API_TOKEN=browser-token
run_browser_test() {
  local port pid
  port=$(free_port)
  start_bg "our dev server" "$LOGS/browser-dev-server.log" env PORT="$port" target/debug/dev
  pid=$LAST_PID
  wait_http "http://127.0.0.1:$port/" "$pid" "$LOGS/browser-dev-server.log" 60
  rm -f "$SHOTS"/*.png
  BASE_URL="http://127.0.0.1:$port" SCREENSHOT_DIR="$SHOTS" \
    node --test --test-reporter=spec deploy-check/browser/page.test.mjs
  stop_bg "$pid"
  echo "screenshots: $(ls "$SHOTS"/*.png | tr '\n' ' ')"
}
step "browser test (headless Chromium)" run_browser_test

summary
echo "browser test passed in $((SECONDS - TOTAL_START)) s"
