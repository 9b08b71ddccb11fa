#!/usr/bin/env bash
# Runs the whole system on loopback with embedded defaults: the printer
# simulator (open API + embedded MQTT broker) and three kiosk agents.
# Needs only the binaries of `make build`. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin}
DEMO_DIR=${DEMO_DIR:-$(mktemp -d -t casefleet-demo.XXXXXX)}
mkdir -p "$DEMO_DIR"
SIM_HTTP=${SIM_HTTP:-127.0.0.1:9100}
SIM_MQTT=${SIM_MQTT:-127.0.0.1:18830}
APP_ID=demo-app
APP_SECRET=demo-secret-0123456789abcdef0123
MQTT_PASSWORD=demo-mqtt-password
PRINT_SECONDS=${PRINT_SECONDS:-20}

# code  name  location  lan-port
KIOSKS=(
  "CT0700026|Mall 3F, east escalator|mall-3f|7081"
  "CT0700027|Mall 3F, food court|mall-3f|7082"
  "CT0700046|Station concourse|station|7083"
)

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "logs and data are in $DEMO_DIR"
}
trap stop INT TERM EXIT

wait_http() { # url name
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not come up; see $DEMO_DIR/*.log" >&2
  exit 1
}

codes=$(printf '%s\n' "${KIOSKS[@]}" | cut -d'|' -f1 | paste -sd, -)
"$BIN/chitusim" --http "$SIM_HTTP" --mqtt "$SIM_MQTT" --machines "$codes" \
  --app-id "$APP_ID" --app-secret "$APP_SECRET" --mqtt-password "$MQTT_PASSWORD" \
  --print-seconds "$PRINT_SECONDS" >"$DEMO_DIR/chitusim.log" 2>&1 &
pids+=($!)
wait_http "http://$SIM_HTTP/admin/state" chitusim

for k in "${KIOSKS[@]}"; do
  IFS='|' read -r code name location port <<<"$k"
  env CASEFLEET_MACHINE_CODE="$code" CASEFLEET_MACHINE_NAME="$name" CASEFLEET_MACHINE_LOCATION="$location" \
    CASEFLEET_DATA_DIR="$DEMO_DIR/$code" CASEFLEET_LAN_LISTEN="127.0.0.1:$port" \
    CASEFLEET_CHITU_BASE_URL="http://$SIM_HTTP" CASEFLEET_CHITU_APP_ID="$APP_ID" \
    CASEFLEET_CHITU_APP_SECRET="$APP_SECRET" CASEFLEET_CHITU_MQTT_URL="tcp://$SIM_MQTT" \
    CASEFLEET_CHITU_MQTT_PASSWORD="$MQTT_PASSWORD" CASEFLEET_CHITU_POLL_INTERVAL=2s \
    CASEFLEET_IMAGE_ALLOWED_HOSTS="127.0.0.1" \
    "$BIN/casefleet-agent" run >"$DEMO_DIR/$code.log" 2>&1 &
  pids+=($!)
done
for k in "${KIOSKS[@]}"; do
  IFS='|' read -r code _ _ port <<<"$k"
  wait_http "http://127.0.0.1:$port/healthz" "agent $code"
done

echo
echo "casefleet demo is running (data and logs: $DEMO_DIR)"
echo "  printer simulator  http://$SIM_HTTP/admin/state"
for k in "${KIOSKS[@]}"; do
  IFS='|' read -r code name location port <<<"$k"
  echo "  $code  $name ($location)"
  echo "    QR URL (served through the relay once it runs): /editor?machine=$code&location=$location"
  echo "    agent API: http://127.0.0.1:$port/api/chitu/machine/$code/status"
done
echo
echo "Place an order from the command line:  scripts/order.sh CT0700026"
echo "Press Ctrl-C to stop."
wait
