#!/usr/bin/env bash
# Runs the whole system on loopback with embedded defaults: the printer
# simulator (open API + embedded MQTT broker), the relay on
# http://127.0.0.1:8080 and three kiosk agents tunnelled to it, each
# enrolled with a token issued at start from a fleet key made for the demo.
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
RELAY=${RELAY:-127.0.0.1:8080}
RELAY_URL="http://$RELAY"

# code  name  location  lan-port
KIOSKS=(
  "CT0700026|Mall 3F, east escalator|mall-3f|7081"
  "CT0700027|Mall 3F, food court|mall-3f|7082"
  "CT0700046|Station concourse|station|7083"
)

OPERATOR_PIN=${OPERATOR_PIN:-246810}

# mDNS runs on loopback only, never on a real interface: switch multicast
# on for lo when we may (root), else the agents run without advertising.
# What we switched on is switched off again at exit: the machine is left
# as it was.
MDNS=off
LO_MULTICAST_SET=0
if ip link show lo 2>/dev/null | grep -q MULTICAST; then
  MDNS=on
elif [ "$(id -u)" = 0 ] && ip link set lo multicast on 2>/dev/null; then
  MDNS=on
  LO_MULTICAST_SET=1
fi

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$LO_MULTICAST_SET" = 1 ]; then
    ip link set lo multicast off && echo "multicast switched off again on lo"
  fi
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

# The fleet key stays in the demo directory; the relay gets the public half.
if [ ! -f "$DEMO_DIR/fleet/fleet.key" ]; then
  "$BIN/casefleet-relay" keygen --out "$DEMO_DIR/fleet" >/dev/null
fi
"$BIN/casefleet-relay" run --listen "$RELAY" --public-url "$RELAY_URL" \
  --fleet-pub "$DEMO_DIR/fleet/fleet.pub" --instance-id demo-relay >"$DEMO_DIR/relay.log" 2>&1 &
pids+=($!)
wait_http "$RELAY_URL/readyz" relay

for k in "${KIOSKS[@]}"; do
  IFS='|' read -r code name location port <<<"$k"
  token=$("$BIN/casefleet-relay" issue --key "$DEMO_DIR/fleet/fleet.key" --machine "$code" --location "$location" 2>>"$DEMO_DIR/tokens.log")
  env CASEFLEET_RELAY_URL="$RELAY_URL" CASEFLEET_RELAY_TOKEN="$token" \
    CASEFLEET_MACHINE_CODE="$code" CASEFLEET_MACHINE_NAME="$name" CASEFLEET_MACHINE_LOCATION="$location" \
    CASEFLEET_DATA_DIR="$DEMO_DIR/$code" CASEFLEET_LAN_LISTEN="127.0.0.1:$port" \
    CASEFLEET_CHITU_BASE_URL="http://$SIM_HTTP" CASEFLEET_CHITU_APP_ID="$APP_ID" \
    CASEFLEET_CHITU_APP_SECRET="$APP_SECRET" CASEFLEET_CHITU_MQTT_URL="tcp://$SIM_MQTT" \
    CASEFLEET_CHITU_MQTT_PASSWORD="$MQTT_PASSWORD" CASEFLEET_CHITU_POLL_INTERVAL=2s \
    CASEFLEET_IMAGE_ALLOWED_HOSTS="127.0.0.1" CASEFLEET_LAN_INTERFACES=lo \
    CASEFLEET_LAN_OPERATOR_PIN="$OPERATOR_PIN" CASEFLEET_MACHINE_CURRENCY=EUR \
    "$BIN/casefleet-agent" run >"$DEMO_DIR/$code.log" 2>&1 &
  pids+=($!)
done
for k in "${KIOSKS[@]}"; do
  IFS='|' read -r code _ _ port <<<"$k"
  wait_http "http://127.0.0.1:$port/healthz" "agent $code"
  wait_http "$RELAY_URL/api/chitu/machine/$code/status" "the tunnel of $code"
done

echo
echo "casefleet demo is running (data and logs: $DEMO_DIR)"
echo "  printer simulator  http://$SIM_HTTP/admin/state"
echo "  relay              $RELAY_URL/api/machines"
for k in "${KIOSKS[@]}"; do
  IFS='|' read -r code name location port <<<"$k"
  echo "  $code  $name ($location)"
  echo "    QR URL:    $RELAY_URL/editor?machine=$code&location=$location"
  echo "    API:       $RELAY_URL/api/chitu/machine/$code/status"
  echo "    LAN agent: http://127.0.0.1:$port/api/chitu/machine/$code/status"
done
echo
echo "Operator dashboards: http://127.0.0.1:7081/operator/ (and :7082, :7083), PIN $OPERATOR_PIN"
if [ "$MDNS" = on ]; then
  echo "LAN discovery:       bin/casefleet-agent discover --interfaces lo"
else
  echo "LAN discovery is off: loopback cannot multicast (as root: ip link set lo multicast on)"
fi
echo "Place an order from the command line:  scripts/order.sh CT0700026"
echo "Press Ctrl-C to stop."
wait
