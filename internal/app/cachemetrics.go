package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/store/nearcache"
)

// cacheStatser is a store with near caches (sqlitestore, pgstore).
type cacheStatser interface {
	CacheStats() map[string]nearcache.Stats
}

// cacheCollector exports the near caches' counters of the stores in use.
type cacheCollector struct {
	stores                []cacheStatser
	hits, misses, entries *prometheus.Desc
}

// newCacheCollector collects the near caches of those stores that have
// them, each once.
func newCacheCollector(stores ...any) *cacheCollector {
	c := &cacheCollector{
		hits: prometheus.NewDesc("sessiond_near_cache_hits_total",
			"Near-cache lookups answered from memory, by cache.", []string{"cache"}, nil),
		misses: prometheus.NewDesc("sessiond_near_cache_misses_total",
			"Near-cache lookups that went to the store, by cache.", []string{"cache"}, nil),
		entries: prometheus.NewDesc("sessiond_near_cache_entries",
			"Entries held by the near cache (estimate), by cache.", []string{"cache"}, nil),
	}
	seen := map[cacheStatser]bool{}
	for _, s := range stores {
		if cs, ok := s.(cacheStatser); ok && !seen[cs] {
			seen[cs] = true
			c.stores = append(c.stores, cs)
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hits
	ch <- c.misses
	ch <- c.entries
}

// Collect implements prometheus.Collector.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.stores {
		for name, st := range s.CacheStats() {
			ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.Hits), name)
			ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(st.Misses), name)
			ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries), name)
		}
	}
}
