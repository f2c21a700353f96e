# Shared helpers of deploy-check/run.sh and deploy-check/browser.sh (sourced).
# Each helper prints what it does; nothing here depends on the machine.

export VERCEL_TELEMETRY_DISABLED=1 NO_UPDATE_NOTIFIER=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
export CARGO_TERM_COLOR=never

# step NAME CMD...: runs CMD and prints its duration; the timings are
# collected and printed again at the end by `summary`.
TIMINGS=()
step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "::: $name"
  "$@"
  local took=$((SECONDS - start))
  echo "::: $name took ${took} s"
  TIMINGS+=("$(printf '%5d s  %s' "$took" "$name")")
}

summary() {
  echo "::: timings"
  printf '%s\n' "${TIMINGS[@]}"
}

fail() {
  echo "deploy-check: FAILED: $*" >&2
  exit 1
}

# npm_install DIR: `npm ci` from DIR's committed lockfile, skipped when
# DIR/node_modules was installed from the very same lockfile.
npm_install() {
  local dir=$1 stamp want
  stamp=$dir/node_modules/.deploy-check-lock.sha256
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    echo "$dir/node_modules is up to date with its package-lock.json"
    return
  fi
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

# apt_install PKG...: installs the Debian packages that are missing (root only).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    echo "already installed: $*"
    return
  fi
  [[ $(id -u) == 0 ]] || fail "need root to install ${missing[*]} (apt-get install -y ${missing[*]})"
  echo "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_bg NAME LOG CMD...: starts CMD in a session of its own (so that it and
# every child it spawns can be stopped together), records its pid in BG_PIDS.
BG_PIDS=()
start_bg() {
  local name=$1 log=$2 pidfile
  shift 2
  pidfile=$(mktemp)
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 50); do
    [[ -s $pidfile ]] && break
    sleep 0.1
  done
  local pid
  pid=$(cat "$pidfile")
  rm -f "$pidfile"
  [[ -n $pid ]] || fail "could not start $name"
  BG_PIDS+=("$pid")
  echo "started $name (pid $pid, log $log)"
  LAST_PID=$pid
}

# stop_bg PID: SIGTERM to the process group PID leads, then SIGKILL after 10 s.
stop_bg() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

stop_all_bg() {
  local pid
  for pid in "${BG_PIDS[@]}"; do
    stop_bg "$pid"
  done
  BG_PIDS=()
}

# wait_http URL PID LOG SECONDS: waits for URL to answer 200 while PID lives.
wait_http() {
  local url=$1 pid=$2 log=$3 limit=$4 start=$SECONDS
  while ((SECONDS - start < limit)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2
      fail "the server behind $url exited (log above)"
    fi
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$url" || true) == 200 ]]; then
      echo "$url answers 200 after $((SECONDS - start)) s"
      return
    fi
    sleep 1
  done
  tail -n 40 "$log" >&2
  fail "$url did not answer 200 within $limit s (log above)"
}
