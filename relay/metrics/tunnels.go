package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	descTunnelsUp = prometheus.NewDesc(namespace+"_tunnels_up",
		"Agent tunnels up on this relay.", nil, nil)
	descMachineUp = prometheus.NewDesc(namespace+"_machine_up",
		"1 while the machine's tunnel is up on this relay, 0 for a machine that had one here since the relay started. With several relays, take the max by machine.",
		[]string{"machine", "location"}, nil)
)

// tunnelCollector reads the relay's tunnels when Prometheus scrapes.
type tunnelCollector struct {
	machines func() []Machine
}

func (c *tunnelCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTunnelsUp
	ch <- descMachineUp
}

func (c *tunnelCollector) Collect(ch chan<- prometheus.Metric) {
	var machines []Machine
	if c.machines != nil {
		machines = c.machines()
	}
	up := 0
	for _, m := range machines {
		v := 0.0
		if m.Up {
			up++
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descMachineUp, prometheus.GaugeValue, v, m.Code, m.Location)
	}
	ch <- prometheus.MustNewConstMetric(descTunnelsUp, prometheus.GaugeValue, float64(up))
}
