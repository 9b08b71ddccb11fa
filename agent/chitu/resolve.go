package chitu

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"casefleet/agent/chitu/protocol"
)

// machineIDs are the platform's two names for our machine: device_id for
// the open API, machineId for MQTT.
type machineIDs struct {
	deviceID  string
	machineID string
}

// Paging bounds: the platform is trusted to answer sensibly, but a broken
// one must not keep us paging forever.
const (
	pageLimit       = 100
	maxMachinePages = 100 // 10 000 machines on one account
	maxProductPages = 50  // 5 000 brands
)

// resolve asks the platform for our machine's ids: machineDetailsTwo by
// code, or, when that fails, the account's machine list page by page.
func (d *Driver) resolve(ctx context.Context) (machineIDs, error) {
	m, err := d.machineByCode(ctx)
	if err == nil {
		err = checkIDs(m)
	}
	if err == nil {
		return d.remember(m), nil
	}
	if ctx.Err() != nil {
		return machineIDs{}, fmt.Errorf("resolve %s: %w", d.code, err)
	}
	d.log.Debug("machineDetailsTwo did not resolve the machine; searching machineList", "err", err)
	m, listErr := d.findInMachineList(ctx)
	if listErr == nil {
		listErr = checkIDs(m)
	}
	if listErr != nil {
		return machineIDs{}, fmt.Errorf("resolve %s: %w; then %w", d.code, err, listErr)
	}
	return d.remember(m), nil
}

func (d *Driver) machineByCode(ctx context.Context) (protocol.Machine, error) {
	var data protocol.MachineDetailsData
	err := d.api.call(ctx, protocol.CallMachineDetailsTwo, fields{"device_code": d.code}, &data)
	return data.Data, err
}

func (d *Driver) findInMachineList(ctx context.Context) (protocol.Machine, error) {
	seen := 0
	for page := 1; page <= maxMachinePages; page++ {
		var data protocol.MachineListData
		err := d.api.call(ctx, protocol.CallMachineList, fields{"page": page, "limit": pageLimit}, &data)
		if err != nil {
			return protocol.Machine{}, err
		}
		for _, m := range data.List {
			if strings.EqualFold(strings.TrimSpace(m.DeviceCode), d.code) {
				return m, nil
			}
		}
		seen += len(data.List)
		if len(data.List) == 0 || (data.Count > 0 && seen >= data.Count) {
			break
		}
	}
	return protocol.Machine{}, fmt.Errorf("chitu %s: no machine %s among %d listed", protocol.CallMachineList, d.code, seen)
}

func checkIDs(m protocol.Machine) error {
	switch {
	case m.DeviceID == "":
		return errors.New("machine record has no device_id")
	case m.MachineID == "":
		return errors.New("machine record has no machineId")
	}
	return nil
}

// remember caches the ids of a machine record; the first time, it wakes
// the background loop waiting to connect MQTT.
func (d *Driver) remember(m protocol.Machine) machineIDs {
	ids := machineIDs{deviceID: m.DeviceID, machineID: m.MachineID}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ids == (machineIDs{}) {
		d.ids = ids
		close(d.resolved)
		d.log.Info("resolved machine", "device_id", ids.deviceID, "machine_id", ids.machineID)
	}
	return d.ids
}

// cachedIDs returns the ids if they are known.
func (d *Driver) cachedIDs() (machineIDs, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ids, d.ids != (machineIDs{})
}

// idsFor returns the cached ids, or resolves them with the caller's ctx.
func (d *Driver) idsFor(ctx context.Context) (machineIDs, error) {
	if ids, ok := d.cachedIDs(); ok {
		return ids, nil
	}
	return d.resolve(ctx)
}
