//! The provider's metrics, in a registry of its own (two providers in one process count
//! apart), rendered as OpenMetrics text, which Prometheus scrapes natively.
//!
//! Every label value comes from a fixed set: route templates (an unknown path is `other`),
//! status codes the provider sends, grant types, outcomes, limiter and store-operation
//! names. Nothing a client sends becomes a label value, so the number of series is bounded.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `idp_http_requests_total` | counter | `endpoint` (route template or `other`), `status` |
//! | `idp_http_request_duration_seconds` | histogram | `endpoint` |
//! | `idp_tokens_issued_total` | counter | `grant_type` |
//! | `idp_sign_ins_total` | counter | `outcome`: `success`, `failure`, `throttled` |
//! | `idp_rate_limited_total` | counter | `limiter` |
//! | `idp_signing_key_age_seconds` | gauge | `alg` |
//! | `idp_store_operation_duration_seconds` | histogram | `operation` |
//! | `idp_store_errors_total` | counter | `operation` |
//! | `idp_tls_certificate_reloads_total` | counter | `result`: `ok`, `error` |

mod http;
mod registry;
mod store;

pub(crate) use http::RequestMetricsLayer;
pub(crate) use registry::{CONTENT_TYPE, Metrics, SignInOutcome};
pub(crate) use store::TimedStore;
