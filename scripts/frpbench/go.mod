module casefleet/scripts/frpbench

go 1.26.0

require github.com/fatedier/frp v0.65.0
