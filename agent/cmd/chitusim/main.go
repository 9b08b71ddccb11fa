// Command chitusim is the Chitu vendor-cloud stand-in: the signed open API,
// an MQTT broker (or a connection to one) carrying the machines' events,
// simulated printers behind them and an admin API to script faults. See
// agent/chitu/sim/README.md.
//
//	chitusim --http ADDR --mqtt ADDR --machines CODE[,CODE...] --app-id ID \
//	    --app-secret SECRET --mqtt-password PW [--print-seconds N] \
//	    [--pay-seconds N] [--fetch-seconds N] [--mqtt-url URL] [--topic-source machineId|device_id] \
//	    [--log-level debug|info|warn|error]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"casefleet/agent/chitu/sim"
)

func main() {
	cfg, addrs, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chitusim:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = sim.Run(ctx, cfg, addrs)
	stop()
	if err != nil {
		cfg.Logger.Error("chitusim failed", "err", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line into the sim's configuration.
func parseFlags(args []string) (sim.Config, sim.Addrs, error) {
	fs := flag.NewFlagSet("chitusim", flag.ContinueOnError)
	var (
		httpAddr     = fs.String("http", "127.0.0.1:9300", "listen `address` of the open API, admin API and assets")
		mqttAddr     = fs.String("mqtt", "127.0.0.1:9301", "listen `address` of the embedded MQTT broker")
		mqttURL      = fs.String("mqtt-url", "", "publish through this external broker (e.g. tcp://127.0.0.1:1883) instead of embedding one")
		machines     = fs.String("machines", "", "comma-separated machine `codes`, e.g. CT0700026,CT0700027")
		appID        = fs.String("app-id", "", "open-API app id (also the MQTT username)")
		appSecret    = fs.String("app-secret", "", "open-API app secret")
		mqttPassword = fs.String("mqtt-password", "", "MQTT password")
		printSeconds = fs.Float64("print-seconds", 20, "how long a print takes")
		paySeconds   = fs.Float64("pay-seconds", 1, "delay before the customer pays at the machine (0 = at once, -1 = wait for the admin API)")
		fetchSeconds = fs.Float64("fetch-seconds", 0, "delay after an order before the machine fetches its print file")
		topicSource  = fs.String("topic-source", sim.TopicSourceMachineID, "id hashed into event topics: machineId or device_id")
		logLevel     = fs.String("log-level", "info", "debug, info, warn or error")
	)
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			// Help asked for is output: standard output (status 0, in
			// main); after a mistake the usage goes to standard error.
			fs.SetOutput(os.Stdout)
		}
	}
	if err := fs.Parse(args); err != nil {
		return sim.Config{}, sim.Addrs{}, err
	}
	if fs.NArg() > 0 {
		return sim.Config{}, sim.Addrs{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return sim.Config{}, sim.Addrs{}, fmt.Errorf("--log-level: %w", err)
	}
	for _, required := range []struct{ name, value string }{
		{"machines", *machines}, {"app-id", *appID}, {"app-secret", *appSecret}, {"mqtt-password", *mqttPassword},
	} {
		if required.value == "" {
			return sim.Config{}, sim.Addrs{}, fmt.Errorf("--%s is required", required.name)
		}
	}
	if *printSeconds < 0 {
		return sim.Config{}, sim.Addrs{}, errors.New("--print-seconds must not be negative")
	}
	if *fetchSeconds < 0 {
		return sim.Config{}, sim.Addrs{}, errors.New("--fetch-seconds must not be negative")
	}
	cfg := sim.Config{
		Machines:     strings.Split(*machines, ","),
		AppID:        *appID,
		AppSecret:    *appSecret,
		MQTTPassword: *mqttPassword,
		PrintTime:    seconds(*printSeconds),
		PayDelay:     seconds(*paySeconds),
		FetchDelay:   seconds(*fetchSeconds),
		TopicSource:  *topicSource,
		Logger:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
	return cfg, sim.Addrs{HTTP: *httpAddr, MQTT: *mqttAddr, MQTTURL: *mqttURL}, nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
