#!/usr/bin/env bash
# Validates the deployment files: the Prometheus configuration and alert
# rules with promtool, docker-compose.yml with docker-compose's own parser
# (no Docker daemon needed), and the Grafana dashboards' structure. Installs
# Debian's prometheus and docker-compose packages first if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

install_debian_package() {
  local command=$1 package=$2
  if ! command -v "$command" > /dev/null 2>&1; then
    echo "installing $command (Debian package $package)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "$package" > /dev/null \
      || { apt-get update > /dev/null \
        && apt-get install -y --no-install-recommends "$package" > /dev/null; }
  fi
}

install_debian_package promtool prometheus
install_debian_package docker-compose docker-compose

promtool check config prometheus/prometheus.yml
promtool check rules prometheus/alerts.yml
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml: valid"

python3 - grafana/dashboards/*.json <<'PY'
import json, sys

problems = []
uids = set()
for path in sys.argv[1:]:
    with open(path) as f:
        board = json.load(f)
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in board:
            problems.append(f"{path}: no {key}")
    if board.get("uid") in uids:
        problems.append(f"{path}: uid {board.get('uid')} is used twice")
    uids.add(board.get("uid"))
    for panel in board.get("panels", []):
        name = panel.get("title", "?")
        for key in ("type", "gridPos", "datasource", "targets"):
            if key not in panel:
                problems.append(f"{path}: panel {name!r} has no {key}")
        for target in panel.get("targets", []):
            if not target.get("expr"):
                problems.append(f"{path}: panel {name!r} has a target without expr")
    print(f"{path}: {len(board.get('panels', []))} panels")
if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
PY
echo "deployment configuration: ok"
