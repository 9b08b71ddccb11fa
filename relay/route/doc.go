// Package route answers the relay's one question: where is the tunnel of
// machine CODE? Table holds the tunnels of this relay; Directory, when
// several relays run, shares machine -> relay in Redis with leases, so
// that a relay without the tunnel knows which peer to forward to and an
// entry disappears on its own when its relay dies.
package route
