//! A service's Prometheus registry: each metric is defined and registered in one call, and the
//! registry renders itself for `/metrics`. Names and help texts are constants of the caller, so
//! a definition that fails (a bad name, a name registered twice) is a programming error that
//! every test run hits at start-up, not something input could cause: hence the panics.

use prometheus::core::Collector;
use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

#[derive(Clone, Default)]
pub struct Catalogue {
    registry: Registry,
}

impl Catalogue {
    pub fn new() -> Catalogue {
        Catalogue::default()
    }

    fn add<C: Collector + Clone + 'static>(&self, metric: Result<C, prometheus::Error>) -> C {
        let metric = metric.expect("static metric definition");
        self.registry
            .register(Box::new(metric.clone()))
            .expect("metric names are unique");
        metric
    }

    pub fn counter(&self, name: &str, help: &str) -> IntCounter {
        self.add(IntCounter::new(name, help))
    }

    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        self.add(IntCounterVec::new(Opts::new(name, help), labels))
    }

    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        self.add(IntGauge::new(name, help))
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        self.add(IntGaugeVec::new(Opts::new(name, help), labels))
    }

    /// Gauges of non-integer values (a balance is an i128; Prometheus carries it as a float).
    pub fn float_gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
        self.add(GaugeVec::new(Opts::new(name, help), labels))
    }

    pub fn histogram(&self, name: &str, help: &str, buckets: &[f64]) -> Histogram {
        self.add(Histogram::with_opts(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        ))
    }

    pub fn histogram_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> HistogramVec {
        self.add(HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        ))
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        crate::render_metrics(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defined_metrics_render_and_names_are_unique() {
        let catalogue = Catalogue::new();
        catalogue.counter("things_total", "Things").inc_by(3);
        catalogue
            .gauge_vec("levels", "Levels", &["kind"])
            .with_label_values(&["a"])
            .set(7);
        let text = catalogue.render();
        assert!(text.contains("things_total 3"), "{text}");
        assert!(text.contains("levels{kind=\"a\"} 7"), "{text}");
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            catalogue.counter("things_total", "Again")
        }));
        assert!(
            again.is_err(),
            "a name registered twice is a programming error"
        );
    }
}
