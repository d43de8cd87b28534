#!/usr/bin/env bash
# Smoke test of the path a new user takes: `make run` with DATABASE_URL, REDIS_URL and
# SECRET_KEY unset (embedded PostgreSQL and Redis) in a fresh DATA_DIR, on a free PORT.
#   run 1: wait for /ready, register a user (201), /docs is Swagger UI, Ctrl-C;
#          no process may be left behind.
#   run 2: same DATA_DIR, log in as that user (200 + access_token), Ctrl-C; nothing left.
# Ctrl-C is SIGINT to the whole process group, as a terminal sends it.
# VENV (default .venv) is passed to make; SMOKE_RUN_CMD replaces `make run` (for testing
# this script); SMOKE_KEEP=1 keeps the temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
case $VENV in /*) ;; *) VENV=$ROOT/$VENV ;; esac

unset DATABASE_URL REDIS_URL SECRET_KEY DATA_DIR PORT HOST WORKER_METRICS_PORT
read -r -a RUN_CMD <<<"${SMOKE_RUN_CMD:-make VENV=$VENV run}"
if [ -z "${SMOKE_RUN_CMD:-}" ]; then
    make -s VENV="$VENV" "$VENV/.installed" || { echo "SMOKE FAIL: install (make $VENV/.installed)"; exit 1; }
fi
PY=$VENV/bin/python

SMOKE_DIR=$(mktemp -d /tmp/messenger-smoke.XXXXXX)
DATA=$SMOKE_DIR/data
LOG=$SMOKE_DIR/run.log
READY_TIMEOUT=90
STOP_TIMEOUT=60
RUN_PID=""
FAILED=""

say() { printf 'smoke: %s\n' "$*"; }
fail() { FAILED=$*; exit 1; }

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
APP_PORT=$(free_port)
METRICS_PORT=$(free_port)
BASE=http://127.0.0.1:$APP_PORT

# Every process tied to this run: its arguments name DATA (postgres, redis-server), its
# working directory is inside DATA (postgres' backends), or it was started with
# DATA_DIR=DATA in its environment (make, messenger dev, api, worker, migrate).
leftovers() {
    "$PY" - "$DATA" <<'PY'
import os, sys
import psutil
data = sys.argv[1]
skip = {os.getpid(), os.getppid()}
for p in psutil.process_iter(["pid", "cmdline", "cwd"]):
    if p.pid in skip:
        continue
    try:
        env = p.environ()
    except psutil.Error:
        env = {}
    cmdline = " ".join(p.info.get("cmdline") or [])
    cwd = p.info.get("cwd") or ""
    if data in cmdline or cwd == data or cwd.startswith(data + "/") or env.get("DATA_DIR") == data:
        print(p.pid, cmdline or "?")
PY
    pgrep -af -- "$DATA" || true
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_nothing_left() {
    local left
    left=$(leftovers | sort -u)
    if [ -n "$left" ]; then
        say "processes left behind:"
        printf '%s\n' "$left"
        fail "processes left after Ctrl-C ($1)"
    fi
    if port_open "$APP_PORT"; then fail "port $APP_PORT still open after Ctrl-C ($1)"; fi
    if [ -f "$DATA/redis/port" ] && port_open "$(cat "$DATA/redis/port")"; then
        fail "embedded Redis port still open after Ctrl-C ($1)"
    fi
    say "run $1: nothing left running"
}

start_stack() {  # start_stack N
    say "run $1: ${RUN_CMD[*]} (DATA_DIR=$DATA PORT=$APP_PORT)"
    echo "===== run $1 =====" >>"$LOG"
    DATA_DIR=$DATA PORT=$APP_PORT HOST=127.0.0.1 WORKER_METRICS_PORT=$METRICS_PORT \
        setsid "${RUN_CMD[@]}" >>"$LOG" 2>&1 </dev/null &
    RUN_PID=$!
    local pgid
    pgid=$(ps -o pgid= -p "$RUN_PID" | tr -d ' ') || true
    kill -0 "$RUN_PID" 2>/dev/null || fail "run $1: ${RUN_CMD[*]} exited at once"
    [ "$pgid" = "$RUN_PID" ] || fail "run $1: expected its own process group ($pgid != $RUN_PID)"
    local deadline=$((SECONDS + READY_TIMEOUT))
    until curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null; do
        kill -0 "$RUN_PID" 2>/dev/null || fail "run $1: exited before /ready answered"
        ((SECONDS < deadline)) || fail "run $1: /ready not 200 within ${READY_TIMEOUT}s"
        sleep 0.5
    done
    say "run $1: /ready is 200 after $((SECONDS + READY_TIMEOUT - deadline))s"
}

ctrl_c() {  # ctrl_c N: SIGINT to the process group, wait for the exit
    say "run $1: Ctrl-C (SIGINT to process group $RUN_PID)"
    kill -INT -- "-$RUN_PID"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$RUN_PID" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "run $1: still running ${STOP_TIMEOUT}s after Ctrl-C"
        sleep 0.2
    done
    local rc=0
    wait "$RUN_PID" || rc=$?
    RUN_PID=""
    # make re-raises SIGINT after its child has finished (130); `messenger dev` itself must
    # have finished cleanly.
    say "run $1: exited with $rc"
    [ "$(grep -c "messenger dev: stopped" "$LOG")" -ge "$1" ] ||
        fail "run $1: no clean 'stopped' from messenger dev"
}

post_json() {  # post_json PATH JSON OUTFILE -> prints HTTP status
    curl -sS -o "$3" -w '%{http_code}' -H 'Content-Type: application/json' -d "$2" "$BASE$1"
}

finish() {
    local rc=$?
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -INT -- "-$RUN_PID" 2>/dev/null || true
        for _ in $(seq 1 150); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL -- "-$RUN_PID" 2>/dev/null || true
    fi
    # whatever this run started and left, e.g. after a failure
    local pids
    pids=$(leftovers | awk '{print $1}' | sort -u)
    if [ -n "$pids" ]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        sleep 2
        # shellcheck disable=SC2086
        kill -KILL $pids 2>/dev/null || true
    fi
    if [ "$rc" -eq 0 ] && [ -z "$FAILED" ]; then
        [ -n "${SMOKE_KEEP:-}" ] || rm -rf "$SMOKE_DIR"
        echo "SMOKE PASS: ${RUN_CMD[*]} (embedded PostgreSQL + Redis): ready, register, docs, Ctrl-C, restart, login, Ctrl-C; no process left"
    else
        echo "----- last lines of $LOG -----"
        tail -n 80 "$LOG" 2>/dev/null || true
        echo "SMOKE FAIL: ${FAILED:-exit code $rc} (files kept in $SMOKE_DIR)"
        exit 1
    fi
}
trap finish EXIT

if [ -f .env ]; then say "note: .env exists here and may set what this test means to leave unset"; fi

# ---- run 1: fresh data dir
start_stack 1
USERNAME=smoke_$RANDOM$RANDOM
PASSWORD=smoke-pass-$RANDOM-$RANDOM
code=$(post_json /auth/register \
    "{\"username\":\"$USERNAME\",\"email\":\"$USERNAME@example.com\",\"password\":\"$PASSWORD\"}" \
    "$SMOKE_DIR/register.json") || true
[ "$code" = 201 ] || fail "POST /auth/register: expected 201, got $code: $(cat "$SMOKE_DIR/register.json" 2>/dev/null)"
say "run 1: registered $USERNAME (201)"
code=$(curl -sS -o "$SMOKE_DIR/docs.html" -w '%{http_code}' "$BASE/docs") || true
[ "$code" = 200 ] || fail "GET /docs: expected 200, got $code"
grep -qi swagger "$SMOKE_DIR/docs.html" || fail "GET /docs: no Swagger UI in the page"
say "run 1: /docs is 200 with Swagger UI"
[ -f "$DATA/secret_key" ] || fail "no generated $DATA/secret_key"
[ "$(stat -c %a "$DATA/secret_key")" = 600 ] || fail "$DATA/secret_key is not mode 0600"
SECRET_SUM=$(sha256sum "$DATA/secret_key")
ctrl_c 1
check_nothing_left 1

# ---- run 2: same data dir, the user is still there
start_stack 2
code=$(post_json /auth/login "{\"username\":\"$USERNAME\",\"password\":\"$PASSWORD\"}" \
    "$SMOKE_DIR/login.json") || true
[ "$code" = 200 ] || fail "POST /auth/login after restart: expected 200, got $code: $(cat "$SMOKE_DIR/login.json" 2>/dev/null)"
"$PY" -c 'import json, sys; t = json.load(open(sys.argv[1])).get("access_token"); sys.exit(not (isinstance(t, str) and t))' \
    "$SMOKE_DIR/login.json" || fail "POST /auth/login: no access_token in $(cat "$SMOKE_DIR/login.json")"
say "run 2: logged in as $USERNAME after restart (200, access_token)"
[ "$(sha256sum "$DATA/secret_key")" = "$SECRET_SUM" ] || fail "secret_key changed between runs"
ctrl_c 2
check_nothing_left 2
