package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"casefleet/agent/queue"
)

// nozzleAnswerWithin is how long the printer may take to answer a
// cleaning before the dashboard says it did not.
const nozzleAnswerWithin = 2 * time.Minute

// eventBatch is how many events one read of the log takes.
const eventBatch = 500

// nozzleState is the last cleaning asked for here and the last answer.
type nozzleState struct {
	requested time.Time
	answered  time.Time
	ok        bool
}

// Nozzle is the print head cleaning as the dashboard shows it.
type Nozzle struct {
	// State is "" (no cleaning known), "cleaning" (asked, no answer yet),
	// "done", "failed" (the printer said it could not), or "no_answer".
	State       string     `json:"state"`
	RequestedAt *time.Time `json:"requestedAt,omitempty"`
	AnsweredAt  *time.Time `json:"answeredAt,omitempty"`
}

func (n nozzleState) view(now time.Time) Nozzle {
	var v Nozzle
	if !n.requested.IsZero() {
		t := n.requested
		v.RequestedAt = &t
	}
	if !n.answered.IsZero() {
		t := n.answered
		v.AnsweredAt = &t
	}
	switch {
	case !n.requested.IsZero() && n.requested.After(n.answered):
		v.State = "cleaning"
		if now.Sub(n.requested) > nozzleAnswerWithin {
			v.State = "no_answer"
		}
	case n.answered.IsZero():
	case n.ok:
		v.State = "done"
	default:
		v.State = "failed"
	}
	return v
}

// cleaning reports whether a cleaning is under way (asked, unanswered and
// not given up on), so a second press does not waste ink.
func (d *Dashboard) cleaning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.nozzle.view(d.opt.Now()).State == "cleaning"
}

// cleanNozzle sends the cleaning command to the printer. The request is
// stamped before the command goes: a quick printer answers before the
// publish is acknowledged, and an answer older than its request would
// read as "still cleaning" until the answer deadline.
func (d *Dashboard) cleanNozzle(ctx context.Context) error {
	d.mu.Lock()
	before := d.nozzle.requested
	d.nozzle.requested = d.opt.Now()
	d.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, d.opt.CallTimeout)
	defer cancel()
	if err := d.opt.Printer.CleanNozzle(cctx); err != nil {
		// A command that timed out may have gone out: keep it stamped
		// (the screen says "no answer" after nozzleAnswerWithin), so a
		// second press does not clean twice.
		if !errors.Is(err, context.DeadlineExceeded) {
			d.mu.Lock()
			d.nozzle.requested = before
			d.mu.Unlock()
		}
		return err
	}
	d.changed.notify()
	return nil
}

// follow applies the events after cursor that the dashboard keeps state
// for and returns the new cursor.
func (d *Dashboard) follow(cursor uint64) uint64 {
	for {
		evs, err := d.opt.Queue.EventsAfter(cursor, eventBatch)
		if err != nil {
			d.log.Warn("read the event log", "err", err)
			return cursor
		}
		for _, ev := range evs {
			cursor = ev.ID
			// The printer's answers come through the queue's log
			// (queue.EventNozzleClean), so the last result survives a
			// restart and reaches every open dashboard.
			if ev.Type == queue.EventNozzleClean {
				d.nozzleAnswered(ev)
			}
		}
		if len(evs) < eventBatch {
			return cursor
		}
	}
}

func (d *Dashboard) nozzleAnswered(ev queue.Event) {
	var res queue.NozzleClean
	if err := json.Unmarshal(ev.Data, &res); err != nil {
		d.log.Warn("decode nozzle cleaning result", "event", ev.ID, "err", err)
		return
	}
	d.mu.Lock()
	if !ev.Time.Before(d.nozzle.answered) {
		d.nozzle.answered, d.nozzle.ok = ev.Time, res.Result
	}
	d.mu.Unlock()
	d.log.Info("nozzle cleaning answered", "ok", res.Result)
	d.changed.notify()
}
