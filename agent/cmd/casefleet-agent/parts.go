package main

import (
	"context"
	"log/slog"
	"net/http"

	"casefleet/agent/config"
	"casefleet/agent/daemon"
	"casefleet/agent/push"
	"casefleet/agent/web"
)

// customerParts adds what customers' phones use beyond the API: the web
// app and Web Push notifications.
func customerParts(cfg config.Config, log *slog.Logger) (daemon.Options, error) {
	app, err := web.Handler(web.Options{
		MachineCode:    cfg.Machine.Code,
		MaxUploadBytes: cfg.Image.MaxBytes,
		MaxPixels:      cfg.Image.MaxPixels,
		Logger:         log,
	})
	if err != nil {
		return daemon.Options{}, err
	}
	return daemon.Options{
		Web: app,
		Push: func(p daemon.Parts) (http.Handler, func(context.Context) error, error) {
			svc, err := push.New(push.Options{
				DB: p.DB, Queue: p.Queue, Sessions: p.Sessions,
				MachineCode: p.Config.Machine.Code, MachineName: p.Config.Machine.Name,
				Subject: p.Config.Push.Subject, Logger: p.Logger,
			})
			if err != nil {
				return nil, nil, err
			}
			return svc.Handler(), svc.Run, nil
		},
	}, nil
}
