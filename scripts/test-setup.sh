#!/usr/bin/env bash
# make test's set-up: the services and Debian tools the tests use.
# As root it installs what is missing and starts Mosquitto and Redis on
# loopback when they do not answer; otherwise it says the exact command
# to run and lets the tests go on (each missing part then skips loudly,
# or fails where CASEFLEET_REQUIRE_SERVICES=1, as on CI).
set -euo pipefail

answers() { # host port
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
wait_for() { # name host port
  for _ in $(seq 1 50); do answers "$2" "$3" && return 0; sleep 0.2; done
  echo "$1 did not start on $2:$3" >&2; return 1
}
root() { [ "$(id -u)" = 0 ]; }

# Tools the browser and package tests drive, all from Debian (never a
# browser download of a test tool): Chromium, and certutil (libnss3-tools)
# for the HTTPS test's phone to trust the test CA's root; WebKitGTK's
# WebDriver and Xvfb for the WebKit (Safari's engine) test; msitools/wixl
# for the MSI, rpm, osslsigncode; Mosquitto and Redis themselves.
need=()
for tool in curl:curl chromium:chromium certutil:libnss3-tools pdftoppm:poppler-utils wixl:wixl msiinfo:msitools rpm:rpm osslsigncode:osslsigncode \
  openssl:openssl ip:iproute2 mosquitto:mosquitto redis-server:redis-server WebKitWebDriver:webkit2gtk-driver Xvfb:xvfb \
  promtool:prometheus; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool##*:}")
done
# A CJK font, so screenshots of the Chinese pages show characters, not boxes.
fc-list :lang=zh 2>/dev/null | grep -q . || need+=(fonts-wqy-microhei)
if [ ${#need[@]} -gt 0 ]; then
  if root; then
    echo "test set-up: installing ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test set-up: missing ${need[*]}; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need[*]}" >&2
  fi
fi

if ! answers 127.0.0.1 1883; then
  if root && command -v mosquitto >/dev/null; then
    echo "test set-up: starting Mosquitto on 127.0.0.1:1883"
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_for Mosquitto 127.0.0.1 1883
  else
    echo "test set-up: Mosquitto does not answer on 127.0.0.1:1883; start it with:" >&2
    echo "  sudo mosquitto -d -c /etc/mosquitto/mosquitto.conf" >&2
  fi
fi
if ! answers 127.0.0.1 6379; then
  if root && command -v redis-server >/dev/null; then
    echo "test set-up: starting Redis on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis 127.0.0.1 6379
  else
    echo "test set-up: Redis does not answer on 127.0.0.1:6379; start it with:" >&2
    echo "  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no" >&2
  fi
fi
