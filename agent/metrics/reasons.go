package metrics

import "strings"

// Failure reason codes: a small fixed set, so the reason label never grows
// with free text. An order's failure reason is written for its customer;
// Reason maps it to one of these.
const (
	ReasonPaymentTimeout = "payment_timeout"     // not paid at the kiosk in time; released
	ReasonMachineOffline = "machine_offline"     // the machine went offline mid-order, past the attempts
	ReasonUnreachable    = "machine_unreachable" // no sign the machine got the order, past the attempts
	ReasonRefused        = "refused"             // the platform refused the order for too long
	ReasonPrinterFailed  = "printer_failed"      // the machine reported the print failed
	ReasonNoReport       = "no_report"           // the machine stopped reporting on the order
	ReasonOther          = "other"
)

// Reasons lists every reason code.
var Reasons = []string{
	ReasonPaymentTimeout, ReasonMachineOffline, ReasonUnreachable, ReasonRefused,
	ReasonPrinterFailed, ReasonNoReport, ReasonOther,
}

// reasonPrefixes are the beginnings of the dispatcher's failure reasons.
var reasonPrefixes = []struct{ prefix, code string }{
	{"It was not paid at the kiosk", ReasonPaymentTimeout},
	{"The printer went offline", ReasonMachineOffline},
	{"The printer could not be reached", ReasonUnreachable},
	{"The printer refused the order", ReasonRefused},
	{"The printer could not print", ReasonPrinterFailed},
	{"The printer stopped reporting", ReasonNoReport},
}

// Reason is the reason code of a failed order's failure reason.
func Reason(failureReason string) string {
	for _, p := range reasonPrefixes {
		if strings.HasPrefix(failureReason, p.prefix) {
			return p.code
		}
	}
	return ReasonOther
}
