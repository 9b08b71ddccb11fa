module casefleet/scripts/chiselbench

go 1.26.0

require github.com/jpillora/chisel v1.11.3
