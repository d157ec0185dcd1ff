package web

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"iotwatch/internal/report"
)

// evidenceCollector exports the newest run's headline numbers at scrape time.
type evidenceCollector struct{ s *Server }

var (
	descRun      = prometheus.NewDesc("iotwatch_run_id", "Id of the covered runs with stored services; the other iotwatch gauges cover it and the runs after it.", []string{"kind", "status"}, nil)
	descDevices  = prometheus.NewDesc("iotwatch_devices", "Distinct addresses with at least one open service in the covered runs.", nil, nil)
	descServices = prometheus.NewDesc("iotwatch_services", "Open services in the covered runs.", nil, nil)
	descWeak     = prometheus.NewDesc("iotwatch_weak_credential_devices", "Devices with at least one default, empty, weak or no-credential login in the covered runs.", nil, nil)
	descShare    = prometheus.NewDesc("iotwatch_weak_password_share", "Share of sampled devices with weak credentials in the covered runs (0..1).", nil, nil)
	descCI       = prometheus.NewDesc("iotwatch_weak_password_share_ci95", "Bounds of the 95% Wilson interval on the weak-password share.", []string{"bound"}, nil)
	descVuln     = prometheus.NewDesc("iotwatch_vulnerable_devices", "Devices with at least one known vulnerability in the covered runs.", nil, nil)
	descKEV      = prometheus.NewDesc("iotwatch_kev_devices", "Devices with at least one known exploited vulnerability (CISA KEV) in the covered runs.", nil, nil)
	descFindings = prometheus.NewDesc("iotwatch_findings", "Findings of the covered runs by severity.", []string{"severity"}, nil)
	descUp       = prometheus.NewDesc("iotwatch_store_up", "Whether the evidence store could be read at scrape time.", nil, nil)
)

func (c *evidenceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRun, descDevices, descServices, descWeak, descShare, descCI, descVuln, descKEV, descFindings, descUp} {
		ch <- d
	}
}

func (c *evidenceCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	rep, err := c.s.report(ctx, 0, false)
	if errors.Is(err, report.ErrNoRuns) {
		gauge(descUp, 1)
		return
	}
	if err != nil {
		c.s.log.Error("metrics: read store", "err", err)
		gauge(descUp, 0)
		return
	}
	gauge(descUp, 1)
	sum := rep.Summary
	run := rep.Runs[0]
	gauge(descRun, float64(run.ID), run.Kind, run.Status)
	gauge(descDevices, float64(sum.Devices))
	gauge(descServices, float64(sum.Services))
	gauge(descWeak, float64(sum.DevicesWithWeakCredentials))
	gauge(descShare, sum.WeakPasswordShare)
	gauge(descCI, sum.WeakPasswordCI95.Low, "low")
	gauge(descCI, sum.WeakPasswordCI95.High, "high")
	gauge(descVuln, float64(sum.VulnerableDevices))
	gauge(descKEV, float64(sum.KEVDevices))
	for _, sev := range []string{"critical", "high", "medium", "low", "info"} {
		n := 0
		for _, c := range rep.Findings.BySeverity {
			if c.Key == sev {
				n = c.Devices
			}
		}
		gauge(descFindings, float64(n), sev)
	}
}
