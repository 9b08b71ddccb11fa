// Pebble, Let's Encrypt's test ACME server, at an exact version, for
// relay/e2e's HTTPS test (TestHTTPSByACME), which builds pebble and
// pebble-challtestsrv from here into a cache of its own. A module of its
// own, so that the product's go.mod never requires it.
module casefleet/scripts/acmepebble

go 1.26.0

require (
	github.com/go-jose/go-jose/v4 v4.1.8 // indirect
	github.com/letsencrypt/challtestsrv v1.4.2 // indirect
	github.com/letsencrypt/pebble/v2 v2.10.3 // indirect
	github.com/miekg/dns v1.1.62 // indirect
	golang.org/x/mod v0.24.0 // indirect
	golang.org/x/net v0.55.0 // indirect
	golang.org/x/sync v0.14.0 // indirect
	golang.org/x/sys v0.45.0 // indirect
	golang.org/x/tools v0.33.0 // indirect
)
