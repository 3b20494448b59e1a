//! The response future of [`JwtAuth`](super::JwtAuth).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use idp_core::{AccessTokenClaims, NoExtra};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Shared;
use super::service::insert_verified;
use crate::challenge::Rejection;

type Validation<C> =
    Pin<Box<dyn Future<Output = (Result<AccessTokenClaims<C>, Rejection>, Arc<Shared<C>>)> + Send>>;

pin_project! {
    /// Response future of [`JwtAuth`](crate::JwtAuth): validates the token if its keys must be
    /// looked up, then runs the inner service, or answers with the rejection.
    pub struct JwtAuthFuture<S, ReqB, C = NoExtra>
    where
        S: Service<Request<ReqB>>,
    {
        #[pin]
        state: State<S, ReqB, C>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqB, C>
    where
        S: Service<Request<ReqB>>,
    {
        /// Waiting for the key cache; then `inner` (ready) is called with `req`.
        Validating {
            validation: Validation<C>,
            pending: Option<(S, Request<ReqB>)>,
        },
        /// The inner service is running.
        Calling {
            #[pin]
            future: S::Future,
        },
        /// Refused before reaching the inner service.
        Rejected {
            rejection: Option<(Rejection, Arc<str>)>,
        },
    }
}

impl<S, ReqB, C> JwtAuthFuture<S, ReqB, C>
where
    S: Service<Request<ReqB>>,
{
    pub(crate) fn calling(future: S::Future) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    pub(crate) fn rejected(rejection: Rejection, realm: Arc<str>) -> Self {
        Self {
            state: State::Rejected {
                rejection: Some((rejection, realm)),
            },
        }
    }

    pub(crate) fn validating(validation: Validation<C>, inner: S, req: Request<ReqB>) -> Self {
        Self {
            state: State::Validating {
                validation,
                pending: Some((inner, req)),
            },
        }
    }
}

impl<S, ReqB, ResB, C> Future for JwtAuthFuture<S, ReqB, C>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: Default,
    C: Clone + Send + Sync + 'static,
{
    type Output = Result<Response<ResB>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Validating {
                    validation,
                    pending,
                } => {
                    let (result, shared) = ready!(validation.as_mut().poll(cx));
                    let next = match (result, pending.take()) {
                        (Ok(claims), Some((mut inner, mut req))) => {
                            insert_verified(&mut req, &shared, claims);
                            State::Calling {
                                future: inner.call(req),
                            }
                        }
                        (Err(rejection), _) => State::Rejected {
                            rejection: Some((rejection, shared.realm.clone())),
                        },
                        // Unreachable: `pending` is taken only here, and the state changes
                        // right after. Answer 500 rather than panic.
                        (Ok(_), None) => State::Rejected {
                            rejection: Some((Rejection::Misconfigured, shared.realm.clone())),
                        },
                    };
                    this.state.set(next);
                }
                StateProj::Calling { future } => return future.poll(cx),
                StateProj::Rejected { rejection } => {
                    let response = match rejection.take() {
                        Some((r, realm)) => r.into_response(Some(&realm)),
                        // Polled after completion.
                        None => Rejection::Misconfigured.into_response(None),
                    };
                    return Poll::Ready(Ok(response));
                }
            }
        }
    }
}

impl<S, ReqB, C> fmt::Debug for JwtAuthFuture<S, ReqB, C>
where
    S: Service<Request<ReqB>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Validating { .. } => "validating",
            State::Calling { .. } => "calling",
            State::Rejected { .. } => "rejected",
        };
        f.debug_struct("JwtAuthFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
