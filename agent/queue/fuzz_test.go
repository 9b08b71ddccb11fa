package queue

import (
	"bytes"
	"path/filepath"
	"strconv"
	"testing"

	"go.etcd.io/bbolt"
)

// FuzzParseEventID: a client's resume cursor is either rejected or a
// plain decimal id.
func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"0", "1", "18446744073709551615", "18446744073709551616", "-1", "+1", "", " 7", "1_000", "0x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseEventID(s)
		if err != nil {
			return
		}
		if back, err := ParseEventID(strconv.FormatUint(id, 10)); err != nil || back != id {
			t.Fatalf("%q parsed to %d, which does not parse back (%d, %v)", s, id, back, err)
		}
		for _, c := range []byte(s) {
			if c < '0' || c > '9' {
				t.Fatalf("%q accepted with a non-digit", s)
			}
		}
	})
}

// FuzzDecodeOrder: stored bytes either decode to an order that keeps the
// store's rules and survives a round trip, or are rejected; never a panic.
func FuzzDecodeOrder(f *testing.F) {
	o := Order{ID: NewID(), SessionID: "s", Status: StatusQueued, Stage: StageQueued, Seq: 1}
	good, _ := encodeOrder(o)
	f.Add(good)
	f.Add([]byte(`{"id":"AAAAAAAAAAAAAAAAAAAAAAAAAA","status":"complete","stage":"complete","seq":7,"startedAt":null}`))
	f.Add([]byte(`{"id":"x","status":"queued"}`))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := decodeOrder(b)
		if err != nil {
			return
		}
		if err := o.validate(); err != nil {
			t.Fatalf("decoded an invalid order: %v", err)
		}
		enc, err := encodeOrder(o)
		if err != nil {
			t.Fatalf("cannot re-encode a decoded order: %v", err)
		}
		o2, err := decodeOrder(enc)
		if err != nil {
			t.Fatalf("re-encoded order does not decode: %v", err)
		}
		if enc2, _ := encodeOrder(o2); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the order:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzStoredOrder: whatever bytes sit where an order in line should be,
// reads, updates and Verify report an error instead of panicking or acting
// on them.
func FuzzStoredOrder(f *testing.F) {
	f.Add([]byte(`{not json`))
	f.Add([]byte(`{"id":"AAAAAAAAAAAAAAAAAAAAAAAAAA","status":"queued","stage":"queued","seq":1}`))
	f.Add([]byte(`{"id":"AAAAAAAAAAAAAAAAAAAAAAAAAA","status":"printing","stage":"sent","seq":99,"sentAt":"2025-01-01T00:00:00Z"}`))
	f.Add([]byte{})

	db, err := bbolt.Open(filepath.Join(f.TempDir(), "agent.db"), 0o600, &bbolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	q, err := Open(db, Options{})
	if err != nil {
		f.Fatal(err)
	}
	order := mustEnqueue(f, q, "s")

	f.Fuzz(func(t *testing.T, b []byte) {
		if err := db.Update(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketOrders).Put([]byte(order.ID), b)
		}); err != nil {
			t.Fatal(err)
		}
		_, getErr := q.Get(order.ID)
		_, _ = q.Pending()
		_, _, _ = q.Head()
		_, _ = q.BySession("s")
		_, _ = q.Summary()
		_, _ = q.Update(order.ID, func(o *Order) error { o.Attempts++; return nil })
		verifyErr := q.Verify()
		if getErr == nil && verifyErr == nil {
			if _, err := decodeOrder(b); err != nil {
				t.Fatalf("undecodable order accepted by Get and Verify: %v", err)
			}
		}
	})
}
