#!/usr/bin/env bash
# Starts or stops a Kafka-protocol broker (tansu, SQLite storage) on
# 127.0.0.1 for tests and benchmarks, installing tansu first if it is
# missing.
#
#   scripts/kafka-broker.sh start DIR [PORT]   # prints the bootstrap address
#   scripts/kafka-broker.sh stop DIR
#   scripts/kafka-broker.sh topic DIR NAME PARTITIONS
#
# tansu takes its SQLite path relative to the working directory, so the
# broker runs inside DIR. Its memory:// engine is not used: it returns
# nothing to a consumer resuming from an offset inside a record batch.
set -euo pipefail

install_tansu() {
  if ! command -v tansu > /dev/null 2>&1; then
    echo "installing the tansu broker (takes about 10 minutes, once per machine)" >&2
    cargo install tansu --locked --features libsql >&2
  fi
}

wait_for_port() {
  local port=$1
  for _ in $(seq 100); do
    if (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "broker did not open port $port" >&2
  return 1
}

start() {
  local dir=$1 port=${2:-19092}
  install_tansu
  mkdir -p "$dir"
  (
    cd "$dir"
    tansu broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine sqlite://tansu.db \
      > broker.log 2>&1 &
    echo $! > broker.pid
  )
  echo "$port" > "$dir/broker.port"
  wait_for_port "$port"
  echo "127.0.0.1:$port"
}

stop() {
  local dir=$1
  if [[ -f "$dir/broker.pid" ]]; then
    kill "$(cat "$dir/broker.pid")" 2> /dev/null || true
    rm -f "$dir/broker.pid"
  fi
}

topic() {
  local dir=$1 name=$2 partitions=$3
  local port
  port=$(cat "$dir/broker.port")
  tansu topic create --broker "tcp://127.0.0.1:$port" --partitions "$partitions" "$name" > /dev/null
}

case "${1:-}" in
  start) start "$2" "${3:-19092}" ;;
  stop) stop "$2" ;;
  topic) topic "$2" "$3" "$4" ;;
  *) echo "usage: $0 start DIR [PORT] | stop DIR | topic DIR NAME PARTITIONS" >&2; exit 2 ;;
esac
