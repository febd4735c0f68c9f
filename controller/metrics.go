package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loom-sdn/loom/controller/api"
)

// metrics are the Reconciler's Prometheus metrics.
type metrics struct {
	reconciles *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	flows      *prometheus.GaugeVec
	repairs    *prometheus.CounterVec
	up         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_reconciles_total", Help: "Reconciles of a host, by result (ok, error, terminal, unreachable).",
		}, []string{"host", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loom_reconcile_duration_seconds", Help: "Time one reconcile of one host took, by result.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"result"}),
		flows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loom_host_flows", Help: "Flows the host should hold.",
		}, []string{"host"}),
		repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_drift_repairs_total", Help: "Reconciles that found and repaired drift on a host that was in sync.",
		}, []string{"host"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loom_host_up", Help: "1 if the last reconcile of the host reached it, 0 if not.",
		}, []string{"host"}),
	}
	if reg != nil {
		reg.MustRegister(m.reconciles, m.duration, m.flows, m.repairs, m.up)
	}
	return m
}

// observe counts a reconcile that left host in state; terminal tells
// that its error is one retrying cannot fix (result "terminal").
func (m *metrics) observe(host, state string, terminal bool, took time.Duration, flows int, repaired bool) {
	result := "ok"
	switch {
	case terminal:
		result = "terminal"
	case state == api.StateError:
		result = "error"
	case state == api.StateUnreachable:
		result = "unreachable"
	}
	m.reconciles.WithLabelValues(host, result).Inc()
	m.duration.WithLabelValues(result).Observe(took.Seconds())
	m.flows.WithLabelValues(host).Set(float64(flows))
	if repaired {
		m.repairs.WithLabelValues(host).Inc()
	}
	up := 1.0
	if state == api.StateUnreachable {
		up = 0
	}
	m.up.WithLabelValues(host).Set(up)
}

func (m *metrics) forget(host string) {
	m.flows.DeleteLabelValues(host)
	m.up.DeleteLabelValues(host)
}
