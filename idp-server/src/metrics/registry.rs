//! The registry of one provider and what the rest of the crate records in it.

use std::fmt;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s text.
pub(crate) const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The endpoint label of a request that matched no route.
pub(crate) const OTHER: &str = "other";

/// One label with a value from a fixed set.
type Label = [(&'static str, &'static str); 1];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabel {
    endpoint: String,
}

fn request_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

fn store_histogram() -> Histogram {
    // 100 µs to ~1.6 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 15))
}

/// How a submitted sign-in form ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignInOutcome {
    /// The person signed in.
    Success,
    /// Wrong e-mail or password.
    Failure,
    /// Refused unchecked: too many failures for the account or from the address.
    Throttled,
}

/// The metrics of one provider.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<EndpointLabel, Histogram, fn() -> Histogram>,
    tokens: Family<Label, Counter>,
    sign_ins: Family<Label, Counter>,
    rate_limited: Family<Label, Counter>,
    key_age: Family<[(&'static str, String); 1], Gauge>,
    store_duration: Family<Label, Histogram, fn() -> Histogram>,
    store_errors: Family<Label, Counter>,
    tls_reloads: Family<Label, Counter>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let request_duration =
            Family::<EndpointLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                request_histogram as fn() -> Histogram,
            );
        let tokens = Family::<Label, Counter>::default();
        let sign_ins = Family::<Label, Counter>::default();
        let rate_limited = Family::<Label, Counter>::default();
        let key_age = Family::<[(&'static str, String); 1], Gauge>::default();
        let store_duration = Family::<Label, Histogram, fn() -> Histogram>::new_with_constructor(
            store_histogram as fn() -> Histogram,
        );
        let store_errors = Family::<Label, Counter>::default();
        let tls_reloads = Family::<Label, Counter>::default();
        // Counter names are registered without `_total`, which the encoder adds.
        registry.register(
            "idp_http_requests",
            "HTTP requests answered, by route template (`other`: no route) and status code",
            requests.clone(),
        );
        registry.register(
            "idp_http_request_duration_seconds",
            "Time to answer an HTTP request (to the response head), by route template",
            request_duration.clone(),
        );
        registry.register(
            "idp_tokens_issued",
            "Successful token responses, by grant type",
            tokens.clone(),
        );
        registry.register(
            "idp_sign_ins",
            "Submitted sign-in forms, by outcome (success, failure, throttled)",
            sign_ins.clone(),
        );
        registry.register(
            "idp_rate_limited",
            "Requests refused by a rate limit, by limiter",
            rate_limited.clone(),
        );
        registry.register(
            "idp_signing_key_age_seconds",
            "Seconds since the signing key in use for an algorithm was created",
            key_age.clone(),
        );
        registry.register(
            "idp_store_operation_duration_seconds",
            "Time of a storage operation, by operation",
            store_duration.clone(),
        );
        registry.register(
            "idp_store_errors",
            "Storage operations that failed, by operation",
            store_errors.clone(),
        );
        registry.register(
            "idp_tls_certificate_reloads",
            "Reloads of the TLS certificate (SIGHUP or changed files), by result",
            tls_reloads.clone(),
        );
        Self {
            registry,
            requests,
            request_duration,
            tokens,
            sign_ins,
            rate_limited,
            key_age,
            store_duration,
            store_errors,
            tls_reloads,
        }
    }

    /// One HTTP request answered.
    pub(crate) fn request(&self, endpoint: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_owned(),
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&EndpointLabel {
                endpoint: endpoint.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One successful token response for `grant_type` (a name from a fixed set).
    pub(crate) fn token_issued(&self, grant_type: &'static str) {
        self.tokens
            .get_or_create(&[("grant_type", grant_type)])
            .inc();
    }

    /// One submitted sign-in form.
    pub(crate) fn sign_in(&self, outcome: SignInOutcome) {
        let outcome = match outcome {
            SignInOutcome::Success => "success",
            SignInOutcome::Failure => "failure",
            SignInOutcome::Throttled => "throttled",
        };
        self.sign_ins.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// One request refused by `limiter`.
    pub(crate) fn rate_limited(&self, limiter: &'static str) {
        self.rate_limited
            .get_or_create(&[("limiter", limiter)])
            .inc();
    }

    /// One storage operation.
    pub(crate) fn store_operation(&self, operation: &'static str, elapsed: Duration, ok: bool) {
        self.store_duration
            .get_or_create(&[("operation", operation)])
            .observe(elapsed.as_secs_f64());
        if !ok {
            self.store_errors
                .get_or_create(&[("operation", operation)])
                .inc();
        }
    }

    /// One reload of the TLS certificate.
    pub(crate) fn tls_reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.tls_reloads.get_or_create(&[("result", result)]).inc();
    }

    /// The metrics as OpenMetrics text, with the signing keys' ages (algorithm, seconds)
    /// as of now.
    pub(crate) fn render(&self, key_ages: &[(String, i64)]) -> String {
        for (alg, age) in key_ages {
            self.key_age
                .get_or_create(&[("alg", alg.clone())])
                .set(*age);
        }
        let mut out = String::new();
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let m = Metrics::new();
        m.request("/oauth/token", 200, Duration::from_millis(3));
        m.token_issued("client_credentials");
        m.sign_in(SignInOutcome::Throttled);
        m.rate_limited("address");
        m.store_operation("get_client", Duration::from_micros(300), false);
        let text = m.render(&[("ES256".into(), 42)]);
        for line in [
            "idp_http_requests_total{endpoint=\"/oauth/token\",status=\"200\"} 1",
            "idp_http_request_duration_seconds_count{endpoint=\"/oauth/token\"} 1",
            "idp_tokens_issued_total{grant_type=\"client_credentials\"} 1",
            "idp_sign_ins_total{outcome=\"throttled\"} 1",
            "idp_rate_limited_total{limiter=\"address\"} 1",
            "idp_signing_key_age_seconds{alg=\"ES256\"} 42",
            "idp_store_operation_duration_seconds_count{operation=\"get_client\"} 1",
            "idp_store_errors_total{operation=\"get_client\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
