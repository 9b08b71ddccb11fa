package metrics

import "casefleet/shared/tunnel"

// tunnelState is what SetTunnel remembers between calls.
type tunnelState struct {
	up    bool
	wasUp bool // connected at least once: the next connection is a reconnect
}

// SetTunnel records a change of the relay tunnel; call it from the
// tunnel's state hook. Only a change from down to up counts as a
// reconnect, so repeated reports of the same state count nothing.
func (m *Metrics) SetTunnel(st tunnel.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st.Connected && !m.tunnelState.up {
		if m.tunnelState.wasUp {
			m.tunnelReconnects.Inc()
		}
		m.tunnelState.wasUp = true
	}
	m.tunnelState.up = st.Connected
	m.tunnelUp.Set(flag(st.Connected))
}
