#!/usr/bin/env bash
# moto's AWS emulator for the ECS tests (tests/ecs.rs), on 127.0.0.1 only.
#
#   .ci/moto.sh start   # venv .ci/moto-venv (moto[server] pinned), server in the
#                       # background, waits until it answers; prints the endpoint
#   .ci/moto.sh stop    # stops the server this script started (by its pid file)
#
# Port: TWIP_MOTO_PORT (default 5637). Log: .ci/moto-venv/server.log.
set -euo pipefail
cd "$(dirname "$0")"
MOTO_VERSION=5.2.5
VENV=moto-venv
PORT=${TWIP_MOTO_PORT:-5637}
PIDFILE=$VENV/server.pid

start() {
    if [ ! -x "$VENV/bin/moto_server" ] || ! "$VENV/bin/python" -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
    fi
    if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
        echo "moto already running (pid $(cat "$PIDFILE"))" >&2
    else
        "$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$VENV/server.log" 2>&1 &
        echo $! >"$PIDFILE"
    fi
    for _ in $(seq 1 150); do
        if curl -fs -o /dev/null "http://127.0.0.1:$PORT/moto-api/"; then
            echo "http://127.0.0.1:$PORT"
            return 0
        fi
        if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            echo "moto_server exited; its log:" >&2
            cat "$VENV/server.log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "moto_server did not answer on 127.0.0.1:$PORT within 30 s; its log:" >&2
    cat "$VENV/server.log" >&2
    return 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        kill "$(cat "$PIDFILE")" 2>/dev/null || true
        rm -f "$PIDFILE"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 1 ;;
esac
