#!/usr/bin/env bash
# Places one order on a demo kiosk through the relay, the way the web app
# does, then follows it until it is complete. Usage: scripts/order.sh [CODE]
# (RELAY_URL=http://127.0.0.1:8080 by default; LAN=1 talks to the agent's
# LAN port instead.)
# Needs curl. Uses the simulator's preview picture of the first phone model
# as the customer's photo.
set -euo pipefail
CODE=${1:-CT0700026}
case "$CODE" in
  CT0700026) PORT=7081 ;; CT0700027) PORT=7082 ;; CT0700046) PORT=7083 ;;
  *) echo "unknown demo machine $CODE" >&2; exit 2 ;;
esac
BASE=${RELAY_URL:-http://127.0.0.1:8080}
[ "${LAN:-0}" = 1 ] && BASE="http://127.0.0.1:$PORT"
API="$BASE/api/chitu/machine/$CODE"
# A field not there (yet: a pickup code while the order waits in line) is
# empty, not a failure that set -e would stop the script on.
field() { { grep -o "\"$1\":\"[^\"]*\"" || true; } | head -1 | cut -d'"' -f4; }
num() { { grep -o "\"$1\":[0-9]*" || true; } | head -1 | cut -d: -f2; }

echo "machine:  $(curl -fsS "$API/status")"
products=$(curl -fsS "$API/products")
product=$(echo "$products" | field productId)
show=$(echo "$products" | field showImg)
photo=$(mktemp --suffix=.png)
trap 'rm -f "$photo"' EXIT
curl -fsS -o "$photo" "$show"

session=$(curl -fsS -X POST "$API/session" | field sessionId)
echo "session:  $session"
order=$(curl -sS -X POST "$API/print" -F sessionId="$session" -F productId="$product" \
  -F placement='{"scale":1.2,"rotation":0,"offset":{"x":0,"y":0}}' -F image=@"$photo")
echo "order:    $order"
id=$(echo "$order" | field id)
[ -n "$id" ] || { echo "the order was refused" >&2; exit 1; }

# Follow the order to its end, however long the line.
last=""
while :; do
  o=$(curl -fsS -H "X-Session-Id: $session" "$API/queue/$id")
  status=$(echo "$o" | field status)
  line="status=$status stage=$(echo "$o" | field stage) position=$(echo "$o" | num queuePosition) pickup=$(echo "$o" | field pickupCode)"
  if [ "$line" != "$last" ]; then echo "  $line"; last=$line; fi
  case "$status" in
    complete) echo "done: order $id printed"; exit 0 ;;
    failed|cancelled) echo "order $id $status: $(echo "$o" | field failureReason)" >&2; exit 1 ;;
  esac
  sleep 1
done
