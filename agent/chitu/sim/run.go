package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Addrs says where Run serves.
type Addrs struct {
	// HTTP is the listen address of the open API, admin API and assets.
	HTTP string
	// MQTT is the listen address of the embedded broker; unused when
	// MQTTURL is set.
	MQTT string
	// MQTTURL, when set, is an external broker to publish through instead
	// of embedding one, e.g. tcp://127.0.0.1:1883.
	MQTTURL string
}

// shutdownGrace is how long Run waits for HTTP requests in flight.
const shutdownGrace = 5 * time.Second

// Run is chitusim: it builds a Sim from cfg, serves it on addrs until ctx
// ends, then stops gracefully.
func Run(ctx context.Context, cfg Config, addrs Addrs) error {
	if addrs.HTTP == "" || (addrs.MQTT == "" && addrs.MQTTURL == "") {
		return errors.New("sim: an HTTP address and an MQTT address or URL are required")
	}
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	httpLn, err := net.Listen("tcp", addrs.HTTP)
	if err != nil {
		return fmt.Errorf("listen HTTP: %w", err)
	}
	defer httpLn.Close()
	mqttAddr := addrs.MQTTURL
	if addrs.MQTTURL != "" {
		if err := s.ConnectMQTT(ctx, addrs.MQTTURL); err != nil {
			return err
		}
	} else {
		mqttLn, err := net.Listen("tcp", addrs.MQTT)
		if err != nil {
			return fmt.Errorf("listen MQTT: %w", err)
		}
		if err := s.ServeMQTT(mqttLn); err != nil {
			return err
		}
		mqttAddr = mqttLn.Addr().String()
	}

	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(httpLn) }()
	s.log.Info("chitusim serving", "http", httpLn.Addr().String(), "mqtt", mqttAddr, "machines", len(cfg.Machines))

	select {
	case err := <-served:
		return fmt.Errorf("serve HTTP: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("chitusim stopping")
	// Close the sim first: it ends fault delays, so that requests held in
	// them finish.
	closeErr := s.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return errors.Join(fmt.Errorf("shut down HTTP: %w", err), closeErr)
	}
	return closeErr
}
