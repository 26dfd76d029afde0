//! `tower::Layer` adapters (the `tower-layer` / `tower-service` traits that
//! `tower` re-exports).
//!
//! - [`CircuitBreakerLayer`]: the breaker alone, with no allocation per
//!   request (the response future is a hand-written state machine).
//! - [`PipelineLayer`]: the whole [`Pipeline`] in its documented order. It
//!   boxes one future per request and needs `Clone` requests (for retries).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::breaker::{CallNotPermitted, CircuitBreaker, Outcome, OwnedPermit};
use crate::pipeline::{Error, Pipeline};

/// Wraps a service in a circuit breaker; `Err` responses are failures.
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer {
    breaker: CircuitBreaker,
}

impl CircuitBreakerLayer {
    pub fn new(breaker: CircuitBreaker) -> Self {
        CircuitBreakerLayer { breaker }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreakerService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CircuitBreakerService<S> {
    inner: S,
    breaker: CircuitBreaker,
}

impl<S, Req> Service<Req> for CircuitBreakerService<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = CircuitBreakerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is the inner service's; the breaker decides per call, so
        // a rejection is an immediate error response rather than backpressure.
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => CircuitBreakerFuture::Running {
                fut: self.inner.call(req),
                permit: Some(permit),
            },
            Err(rejected) => CircuitBreakerFuture::Rejected {
                rejected: Some(rejected),
            },
        }
    }
}

pin_project! {
    /// Response future of [`CircuitBreakerService`]. Dropping it before it
    /// completes drops the permit unfinished (a half-open slot is freed).
    #[project = Proj]
    pub enum CircuitBreakerFuture<F> {
        Running { #[pin] fut: F, permit: Option<OwnedPermit> },
        Rejected { rejected: Option<CallNotPermitted> },
    }
}

impl<F, T, E> Future for CircuitBreakerFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Proj::Running { fut, permit } => {
                let result = std::task::ready!(fut.poll(cx));
                if let Some(p) = permit.take() {
                    p.record(if result.is_ok() {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    });
                }
                Poll::Ready(result.map_err(Error::Inner))
            }
            Proj::Rejected { rejected } => match rejected.take() {
                Some(r) => Poll::Ready(Err(Error::NotPermitted(r))),
                // Polled after completion: a caller bug, answered the same way.
                None => Poll::Ready(Err(Error::NotPermitted(CallNotPermitted {
                    state: crate::State::Open,
                    retry_after: None,
                }))),
            },
        }
    }
}

/// Wraps a service in a whole [`Pipeline`].
#[derive(Debug, Clone)]
pub struct PipelineLayer {
    pipeline: Pipeline,
}

impl PipelineLayer {
    pub fn new(pipeline: Pipeline) -> Self {
        PipelineLayer { pipeline }
    }
}

impl<S> Layer<S> for PipelineLayer {
    type Service = PipelineService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PipelineService {
            inner,
            pipeline: self.pipeline.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PipelineService<S> {
    inner: S,
    pipeline: Pipeline,
}

impl<S, Req> Service<Req> for PipelineService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: Send,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each attempt drives its own clone of the inner service to readiness,
        // because a retry needs readiness again after the first call.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let inner = self.inner.clone();
        let pipeline = self.pipeline.clone();
        Box::pin(async move {
            pipeline
                .call(move || {
                    let mut svc = inner.clone();
                    let req = req.clone();
                    async move {
                        std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
                        svc.call(req).await
                    }
                })
                .await
        })
    }
}
