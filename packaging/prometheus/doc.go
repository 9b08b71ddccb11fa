// Package prometheus holds no code: it is the fleet's Prometheus alert
// rules (casefleet.rules.yml, unit-tested by casefleet.rules.test.yml) and
// the home of their tests, which also check the Grafana dashboard in
// ../grafana. The tests run promtool for real and compare every metric
// name the rules and the dashboard use with what a real agent and a real
// relay export. See docs/relay.md#alerts.
package prometheus
