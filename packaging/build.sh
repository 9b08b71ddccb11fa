#!/usr/bin/env bash
# Builds casefleet's installable packages (`make package` runs this):
#
#   agent-deb   casefleet-agent_VERSION_ARCH.deb      kiosk PCs, Debian/Ubuntu
#   agent-rpm   casefleet-agent-VERSION-1.ARCH.rpm    kiosk PCs, Fedora/RHEL/SUSE
#   agent-msi   casefleet-agent-VERSION-x64.msi       kiosk PCs, Windows (Authenticode-signed)
#   relay-deb   casefleet-relay_VERSION_ARCH.deb      the relay
#
# The relay's container recipe is packaging/relay.Containerfile; no image is
# built here.
#
# Usage: packaging/build.sh [-o OUTDIR] [-v VERSION] [-k RELEASE_KEY] [TARGET...]
#   -o OUTDIR    where the packages go (default: dist/ in the repository)
#   -v VERSION   as git describe prints it (default: git describe --tags --always --dirty);
#                a bare commit (no tag) makes a test build, 0.0.0+g<commit>, with a warning
#   -k RELEASE_KEY, --release-key RELEASE_KEY
#                the release private key (release.key from `casefleet-relay release-keygen`):
#                also write OUTDIR/casefleet-agent-VERSION.manifest.json, the signed release
#                manifest of the agent packages built (each one's platform, size and SHA-256),
#                which agents check before they install an update
#   TARGET       any of the above (default: all; relay-deb is skipped while
#                relay/cmd/casefleet-relay has no code and RELAY_BIN is unset)
#
# Environment:
#   ARCH                 Go architecture of the Linux packages (default amd64); the MSI is x64
#   RELAY_BIN            a prebuilt Linux casefleet-relay to package instead of building it
#   SIGN_CERT, SIGN_KEY  PEM code-signing certificate (with its chain) and key for the
#                        Windows files; without them a THROWAWAY TEST certificate is made in
#                        OUTDIR/test-signing/ (its ca.pem verifies the signatures). Windows
#                        trusts only a real one: production needs SIGN_CERT and SIGN_KEY.
#   SIGN_PASS            password of SIGN_KEY, if it has one
#   SIGN_TIMESTAMP_URL   RFC 3161 timestamp server; production should set it, so that
#                        signatures stay valid after the certificate expires
#
# Needs Go; for the MSI also wixl (apt-get install wixl), osslsigncode and openssl.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/dist
version=
release_key=
args=()
for a in "$@"; do # --release-key is -k
	case $a in
	--release-key) args+=(-k) ;;
	--release-key=*) args+=(-k "${a#--release-key=}") ;;
	*) args+=("$a") ;;
	esac
done
set -- "${args[@]+"${args[@]}"}"
while getopts "o:v:k:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	v) version=$OPTARG ;;
	k) release_key=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mkdir -p "$out"
out=$(cd "$out" && pwd) # relative to where build.sh was started
if [ -n "$release_key" ]; then
	[ -f "$release_key" ] || { echo "build.sh: -k $release_key: no such file" >&2; exit 2; }
	release_key=$(cd "$(dirname "$release_key")" && pwd)/$(basename "$release_key")
fi

cd "$root"
version=${version:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
if [[ ! $version =~ ^[0-9A-Za-z.+~-]+$ ]]; then
	echo "build.sh: version \"$version\" is not like git describe's v1.2.3-4-gabc1234" >&2
	exit 2
fi
# Without a tag, git describe gives a bare commit: the packages then sort
# before every release (0.0.0+g<commit>) and the MSI is 0.0.0, which is
# right for a test build but easy to ship by mistake. Say so.
if [[ $version == dev* || ($version != v* && $version != *.*) ]]; then
	cat >&2 <<-EOF
	build.sh: WARNING: version "$version" is not a release: no git tag names this commit,
	build.sh: so the packages are versioned 0.0.0+g<commit> (older than any release) and the MSI 0.0.0.
	build.sh: For a release, tag it first:  git tag v1.5.0 && make package
	build.sh: or name the version:          make package VERSION=v1.5.0   (build.sh -v v1.5.0)
	EOF
fi
arch=${ARCH:-amd64}
# Files in the packages carry the last commit's time, not the build's.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

explicit=$#
targets=("$@")
[ $# -gt 0 ] || targets=(agent-deb agent-rpm agent-msi relay-deb)
for t in "${targets[@]}"; do
	case $t in
	agent-deb | agent-rpm | agent-msi | relay-deb) ;;
	*) echo "build.sh: unknown target $t (agent-deb, agent-rpm, agent-msi, relay-deb)" >&2; exit 2 ;;
	esac
done
wants() { [[ " ${targets[*]} " == *" $1 "* ]]; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# go_build GOOS GOARCH PACKAGE OUTPUT: a static, reproducible binary that
# knows its version.
go_build() {
	echo "build.sh: building $3 for $1/$2" >&2
	CGO_ENABLED=0 GOOS=$1 GOARCH=$2 go build -trimpath \
		-ldflags "-s -w -X main.version=$version" -o "$4" "./$3"
}

# mkpkg RECIPE FORMAT: a .deb or .rpm from an nfpm recipe and $work/linux.
mkpkg() {
	if [ ! -x "$work/mkpkg" ]; then
		GOOS=$(go env GOHOSTOS) GOARCH=$(go env GOHOSTARCH) go build -o "$work/mkpkg" ./packaging/cmd/mkpkg
	fi
	"$work/mkpkg" -recipe "$1" -format "$2" -version "$version" -arch "$arch" -bin "$work/linux" -out "$out"
}

# sign FILE: Authenticode-signs FILE (an .exe or .msi) in place.
sign() {
	local args=(-certs "$SIGN_CERT" -key "$SIGN_KEY" -h sha256 -n "casefleet agent")
	[ -z "${SIGN_PASS:-}" ] || args+=(-readpass <(printf %s "$SIGN_PASS"))
	[ -z "${SIGN_TIMESTAMP_URL:-}" ] || args+=(-ts "$SIGN_TIMESTAMP_URL")
	osslsigncode sign "${args[@]}" -in "$1" -out "$1.signed" >/dev/null
	mv "$1.signed" "$1"
}

# make_test_certificate DIR: a throwaway CA (DIR/ca.pem; its key is thrown
# away) and a code-signing certificate it issued (DIR/sign.pem, sign.key),
# valid for 30 days: for CI, and for trying the MSI on a test machine.
make_test_certificate() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:3072 -nodes -days 30 -subj "/CN=casefleet TEST CA - not for production" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-keyout "$work/ca.key" -out "$1/ca.pem" 2>/dev/null
	openssl req -newkey rsa:3072 -nodes -subj "/CN=casefleet TEST code signing - not for production" \
		-keyout "$1/sign.key" -out "$work/sign.csr" 2>/dev/null
	printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=codeSigning" >"$work/sign.ext"
	openssl x509 -req -in "$work/sign.csr" -CA "$1/ca.pem" -CAkey "$work/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -days 30 -extfile "$work/sign.ext" -out "$1/sign.pem" 2>/dev/null
}

built=()

if wants agent-deb || wants agent-rpm; then
	go_build linux "$arch" agent/cmd/casefleet-agent "$work/linux/casefleet-agent"
	if wants agent-deb; then built+=("$(mkpkg packaging/agent/nfpm.yaml deb)"); fi
	if wants agent-rpm; then built+=("$(mkpkg packaging/agent/nfpm.yaml rpm)"); fi
fi

if wants relay-deb; then
	mkdir -p "$work/linux"
	if [ -n "${RELAY_BIN:-}" ]; then
		cp "$RELAY_BIN" "$work/linux/casefleet-relay"
	elif compgen -G "relay/cmd/casefleet-relay/*.go" >/dev/null; then
		go_build linux "$arch" relay/cmd/casefleet-relay "$work/linux/casefleet-relay"
	elif [ "$explicit" -gt 0 ]; then
		echo "build.sh: relay-deb: relay/cmd/casefleet-relay has no code yet; set RELAY_BIN to package a built relay" >&2
		exit 1
	else
		echo "build.sh: SKIPPING relay-deb: relay/cmd/casefleet-relay has no code yet (set RELAY_BIN to package a built relay)" >&2
	fi
	if [ -f "$work/linux/casefleet-relay" ]; then built+=("$(mkpkg packaging/relay/nfpm.yaml deb)"); fi
fi

if wants agent-msi; then
	for tool in wixl osslsigncode openssl; do
		command -v $tool >/dev/null || { echo "build.sh: agent-msi needs $tool (apt-get install wixl osslsigncode openssl)" >&2; exit 1; }
	done
	if [ -z "${SIGN_CERT:-}" ] || [ -z "${SIGN_KEY:-}" ]; then
		echo "build.sh: signing with a THROWAWAY TEST certificate ($out/test-signing); Windows will not trust it." \
			"Set SIGN_CERT and SIGN_KEY for production." >&2
		make_test_certificate "$out/test-signing"
		SIGN_CERT=$out/test-signing/sign.pem SIGN_KEY=$out/test-signing/sign.key
	fi
	stage=$work/msi
	mkdir -p "$stage"
	go_build windows amd64 agent/cmd/casefleet-agent "$stage/casefleet-agent.exe"
	sign "$stage/casefleet-agent.exe"
	cp packaging/windows/casefleet-agent.wxs packaging/windows/agent.example.yaml \
		docs/technician-guide.md docs/agent-settings.md docs/operator-guide.md "$stage/"
	# MSI versions are numeric: the nearest tag's major.minor.patch.
	msi_version=$(sed -nE 's/^v?([0-9]+)\.([0-9]+)\.([0-9]+).*/\1.\2.\3/p' <<<"$version")
	msi=$out/casefleet-agent-${version#v}-x64.msi
	(cd "$stage" && wixl -a x64 -D Version="${msi_version:-0.0.0}" -o "$msi" casefleet-agent.wxs)
	sign "$msi"
	built+=("$msi")
fi

if [ -n "$release_key" ]; then
	agent=()
	for f in "${built[@]}"; do
		case $(basename "$f") in casefleet-agent*) agent+=("$f") ;; esac
	done
	if [ ${#agent[@]} -eq 0 ]; then
		echo "build.sh: -k: no agent package was built, so there is no release manifest to sign" >&2
		exit 1
	fi
	GOOS=$(go env GOHOSTOS) GOARCH=$(go env GOHOSTARCH) go build -o "$work/mkmanifest" ./packaging/cmd/mkmanifest
	manifest=$out/casefleet-agent-${version#v}.manifest.json
	"$work/mkmanifest" -key "$release_key" -version "$version" -out "$manifest" "${agent[@]}"
	built+=("$manifest")
fi

for f in "${built[@]}"; do echo "built: $f"; done
