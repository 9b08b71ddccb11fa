package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"casefleet/relay/server"
	"casefleet/relay/updates"
	"casefleet/shared/release"
)

// rolloutSet is `casefleet-relay rollout set`: it writes the rollout file
// the relays reload, after checking the release is there and signed.
type rolloutSet struct {
	file, target, releasesDir, releasePub string
	percent                               float64
	locations, canaries                   []string
	haltAfter                             int
	allowDowngrade                        bool
}

func rolloutSetFlags(fs *pflag.FlagSet) *rolloutSet {
	o := &rolloutSet{}
	fs.StringVar(&o.file, "file", "", "the rollout file the relays read (their --rollout)")
	fs.StringVar(&o.target, "target", "", "the version to roll out, e.g. v1.6.0 (empty: stop offering updates)")
	fs.Float64Var(&o.percent, "percent", 0, "percent of all machines, picked by a stable hash of their code")
	fs.StringSliceVar(&o.locations, "locations", nil, "every machine at these locations (comma-separated)")
	fs.StringSliceVar(&o.canaries, "canaries", nil, "these machines (comma-separated codes)")
	fs.IntVar(&o.haltAfter, "halt-after", updates.DefaultHaltAfter, "machines failed or rolled back on the target that halt the rollout")
	fs.BoolVar(&o.allowDowngrade, "allow-downgrade", false, "allow a target older than the current one, and older than what machines run")
	fs.StringVar(&o.releasesDir, "releases-dir", "", "the relays' releases directory, to check the target's release is there and signed")
	fs.StringVar(&o.releasePub, "release-pub", "", "the release public key (with --releases-dir)")
	return o
}

func (o *rolloutSet) run(stdout io.Writer) error {
	if o.file == "" {
		return errors.New("rollout set: --file is required")
	}
	old, err := updates.LoadRollout(o.file)
	if err != nil {
		return fmt.Errorf("rollout set: the current %w (fix or remove it first)", err)
	}
	r := updates.Rollout{
		Target: o.target, Percent: o.percent, Locations: o.locations, Canaries: o.canaries,
		HaltAfter: o.haltAfter, AllowDowngrade: o.allowDowngrade,
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("rollout set: %w", err)
	}
	if old.Target != "" && r.Target != "" && release.CompareVersions(r.Target, old.Target) < 0 && !r.AllowDowngrade {
		return fmt.Errorf("rollout set: %s is older than the current target %s: a downgrade needs --allow-downgrade", r.Target, old.Target)
	}
	if r.Target != "" && o.releasesDir != "" {
		pub, err := release.LoadPublicKey(o.releasePub)
		if err != nil {
			return fmt.Errorf("rollout set: %w", err)
		}
		m, err := updates.CheckRelease(o.releasesDir, pub, r.Target)
		if err != nil {
			return fmt.Errorf("rollout set: %w", err)
		}
		var platforms []string
		for _, p := range m.Packages {
			platforms = append(platforms, p.Platform)
		}
		fmt.Fprintf(stdout, "release %s: signed, for %s\n", r.Target, strings.Join(platforms, ", "))
	}
	if err := r.Save(o.file); err != nil {
		return fmt.Errorf("rollout set: %w", err)
	}
	if r.Target == "" {
		fmt.Fprintf(stdout, "%s: no rollout; the relays offer no updates\n", o.file)
	} else {
		fmt.Fprintf(stdout, "%s: %s to %v%% of machines, locations %v, canaries %v; halts after %d failures\n",
			o.file, r.Target, r.Percent, r.Locations, r.Canaries, r.HaltAfter)
	}
	return nil
}

// rolloutStatus is `casefleet-relay rollout status`: a relay's view of the
// rollout (with Redis, every relay's).
type rolloutStatus struct {
	relay, token string
	asJSON       bool
}

func rolloutStatusFlags(fs *pflag.FlagSet) *rolloutStatus {
	o := &rolloutStatus{}
	fs.StringVar(&o.relay, "relay", "", "a relay's URL, e.g. https://relay.example.com")
	fs.StringVar(&o.token, "token", "", "a fleet owner's token from issue-admin (default: $CASEFLEET_ADMIN_TOKEN)")
	fs.BoolVar(&o.asJSON, "json", false, "print the relay's answer as JSON")
	return o
}

func (o *rolloutStatus) run(stdout io.Writer) error {
	if o.relay == "" {
		return errors.New("rollout status: --relay is required")
	}
	token := o.token
	if token == "" {
		token = os.Getenv("CASEFLEET_ADMIN_TOKEN")
	}
	if token == "" {
		return errors.New("rollout status: give a fleet owner's token (--token, or CASEFLEET_ADMIN_TOKEN) from casefleet-relay issue-admin")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(o.relay, "/")+"/relay/v1/rollout", nil)
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rollout status: the relay answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	if o.asJSON {
		_, err := stdout.Write(body)
		return err
	}
	var st server.RolloutStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("rollout status: %w", err)
	}
	if st.FileError != "" {
		fmt.Fprintf(stdout, "WARNING: the rollout file does not load; the relay keeps the previous one: %s\n", st.FileError)
	}
	if st.Target == "" {
		fmt.Fprintln(stdout, "no rollout")
		return nil
	}
	state := "rolling out"
	if st.Halted {
		state = "HALTED"
	}
	fmt.Fprintf(stdout, "target %s: %s (%v%%, locations %v, canaries %v; halts after %d failures)\n",
		st.Target, state, st.Percent, st.Locations, st.Canaries, st.HaltAfter)
	for _, s := range updates.States() {
		fmt.Fprintf(stdout, "  %-12s %d\n", s, st.Machines[s])
	}
	codes := make([]string, 0, len(st.Failed))
	for c := range st.Failed {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		fmt.Fprintf(stdout, "  %s: %s\n", c, st.Failed[c])
	}
	return nil
}
