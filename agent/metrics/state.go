package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"casefleet/agent/dispatch"
	"casefleet/agent/ink"
	"casefleet/agent/queue"
)

// liveStages are the stages of orders that have not finished, in the
// order an order goes through them.
var liveStages = []queue.Stage{
	queue.StageQueued, queue.StageSending, queue.StageSent,
	queue.StageAwaitingPayment, queue.StagePaid, queue.StagePrinting, queue.StageUnknownOutcome,
}

var printerStates = []string{dispatch.StateOnline, dispatch.StateOffline, dispatch.StatePrinting, dispatch.StateError}

var (
	descQueueLength = prometheus.NewDesc(namespace+"_queue_length",
		"Orders not finished yet: waiting in line or at the machine.", nil, nil)
	descOrders = prometheus.NewDesc(namespace+"_orders",
		"Orders not finished yet, by stage.", []string{"stage"}, nil)
	descFull = prometheus.NewDesc(namespace+"_queue_full",
		"1 while the line is full (queue.max_orders orders not finished): new orders are refused.", nil, nil)
	descPaused = prometheus.NewDesc(namespace+"_queue_paused",
		"1 while an operator has paused the queue (no new order goes to the machine).", nil, nil)
	descPrinter = prometheus.NewDesc(namespace+"_printer_status",
		"The printer's state: 1 for the current one of online, offline, printing, error.", []string{"status"}, nil)
	descMQTT = prometheus.NewDesc(namespace+"_mqtt_up",
		"1 while the MQTT link to the printer platform is connected.", nil, nil)
	descInkLow = prometheus.NewDesc(namespace+"_ink_low",
		"1 when the printer reports the colour low, 0 when sufficient; absent while unknown.", []string{"colour"}, nil)
)

// stateCollector reads the queue and the machine when Prometheus scrapes,
// so the figures are never stale.
type stateCollector struct{ m *Metrics }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueLength, descOrders, descFull, descPaused, descPrinter, descMQTT, descInkLow} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	if q := c.m.opt.Queue; q != nil {
		pending, err := q.Pending()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descQueueLength, err)
		} else {
			byStage := make(map[queue.Stage]int, len(liveStages))
			for _, o := range pending {
				byStage[o.Stage]++
			}
			ch <- prometheus.MustNewConstMetric(descQueueLength, prometheus.GaugeValue, float64(len(pending)))
			for _, s := range liveStages {
				ch <- prometheus.MustNewConstMetric(descOrders, prometheus.GaugeValue, float64(byStage[s]), string(s))
			}
		}
		if sum, err := q.Summary(); err != nil {
			ch <- prometheus.NewInvalidMetric(descFull, err)
		} else {
			ch <- prometheus.MustNewConstMetric(descFull, prometheus.GaugeValue, flag(sum.Full))
		}
	}
	if mc := c.m.opt.Machine; mc != nil {
		st, err := mc.Status()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(descPrinter, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, flag(st.Paused))
		ch <- prometheus.MustNewConstMetric(descMQTT, prometheus.GaugeValue, flag(st.MQTTConnected))
		for _, s := range printerStates {
			ch <- prometheus.MustNewConstMetric(descPrinter, prometheus.GaugeValue, flag(st.Status == s), s)
		}
		for _, c := range []struct{ colour, level string }{
			{"cyan", st.InkLevels.Cyan}, {"magenta", st.InkLevels.Magenta},
			{"yellow", st.InkLevels.Yellow}, {"black", st.InkLevels.Black},
		} {
			switch c.level {
			case ink.Low:
				ch <- prometheus.MustNewConstMetric(descInkLow, prometheus.GaugeValue, 1, c.colour)
			case ink.OK:
				ch <- prometheus.MustNewConstMetric(descInkLow, prometheus.GaugeValue, 0, c.colour)
			}
		}
	}
}

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
