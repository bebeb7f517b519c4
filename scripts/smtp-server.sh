#!/usr/bin/env bash
# Starts or stops an SMTP server (aiosmtpd) on 127.0.0.1 for tests, which
# stores every message it receives in a maildir, installing aiosmtpd from
# PyPI first if it is missing.
#
#   scripts/smtp-server.sh start DIR PORT   # prints the maildir's path
#   scripts/smtp-server.sh stop DIR
#
# aiosmtpd's Mailbox handler adds X-MailFrom and X-RcptTo headers to each
# stored message, so tests can check the envelope as well as the headers.
set -euo pipefail

install_aiosmtpd() {
  if ! python3 -c 'import aiosmtpd' > /dev/null 2>&1; then
    echo "installing aiosmtpd from PyPI (once per machine)" >&2
    # A Python that marks itself externally managed refuses --user installs
    # unless told that the user site is meant.
    python3 -m pip install --user --quiet aiosmtpd >&2 \
      || python3 -m pip install --user --quiet --break-system-packages aiosmtpd >&2
  fi
}

wait_for_port() {
  local port=$1 pid=$2 log=$3
  for _ in $(seq 100); do
    if ! kill -0 "$pid" 2> /dev/null; then
      echo "SMTP server exited:" >&2
      cat "$log" >&2
      return 1
    fi
    if (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "SMTP server did not open port $port" >&2
  return 1
}

start() {
  local dir=$1 port=$2
  install_aiosmtpd
  mkdir -p "$dir/maildir/cur" "$dir/maildir/new" "$dir/maildir/tmp"
  dir=$(cd "$dir" && pwd)
  python3 -m aiosmtpd -n -l "127.0.0.1:$port" \
    -c aiosmtpd.handlers.Mailbox "$dir/maildir" \
    < /dev/null > "$dir/smtp.log" 2>&1 &
  echo $! > "$dir/smtp.pid"
  wait_for_port "$port" "$(cat "$dir/smtp.pid")" "$dir/smtp.log"
  echo "$dir/maildir"
}

stop() {
  local dir=$1
  if [[ -f "$dir/smtp.pid" ]]; then
    kill "$(cat "$dir/smtp.pid")" 2> /dev/null || true
    rm -f "$dir/smtp.pid"
  fi
}

case "${1:-}" in
  start) start "$2" "$3" ;;
  stop) stop "$2" ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
