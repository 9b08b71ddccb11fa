package metrics

import "github.com/prometheus/client_golang/prometheus"

var (
	descRolloutMachines = prometheus.NewDesc(namespace+"_rollout_machines",
		"Machines whose latest report on the rollout's target version is in this state (downloading, ready, installing, healthy, failed, rolled_back). Shared by the relays through Redis: take the max by version and state.",
		[]string{"version", "state"}, nil)
	descRolloutHalted = prometheus.NewDesc(namespace+"_rollout_halted",
		"1 while the rollout of this version is halted: failures reached its halt_after.",
		[]string{"version"}, nil)
)

// Rollout is the rollout's target and its machines by state, as read at
// a scrape.
type Rollout struct {
	Version string
	Halted  bool
	States  map[string]int // every state, zeros included
}

// rolloutCollector reads the rollout when Prometheus scrapes.
type rolloutCollector struct {
	rollout func() (Rollout, bool)
}

func (c *rolloutCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRolloutMachines
	ch <- descRolloutHalted
}

func (c *rolloutCollector) Collect(ch chan<- prometheus.Metric) {
	r, ok := c.rollout()
	if !ok {
		return
	}
	for state, n := range r.States {
		ch <- prometheus.MustNewConstMetric(descRolloutMachines, prometheus.GaugeValue, float64(n), r.Version, state)
	}
	halted := 0.0
	if r.Halted {
		halted = 1
	}
	ch <- prometheus.MustNewConstMetric(descRolloutHalted, prometheus.GaugeValue, halted, r.Version)
}
