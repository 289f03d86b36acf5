//! Polling waiters that share one deadline across a multi-step, two-region operation.

use std::future::Future;
use std::time::{Duration, Instant};

use super::error::AwsError;

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(10);
const PROGRESS_EVERY: Duration = Duration::from_secs(30);

/// The moment a whole operation (e.g. a Terraform create with its `timeouts`) must be done by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(timeout: Duration) -> Self {
        Deadline(Instant::now() + timeout)
    }

    pub fn at(instant: Instant) -> Self {
        Deadline(instant)
    }

    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }
}

/// What one poll of a waiter found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Poll<T> {
    /// The target state was reached.
    Ready(T),
    /// Not there yet; the string names the current state for progress logs and timeouts.
    Pending(String),
}

/// Polls until `poll` returns [`Poll::Ready`], backing off exponentially from 0.2 s to 10 s,
/// and failing with [`AwsError::Timeout`] (naming the last state seen) once `deadline` passes.
/// An error from `poll` ends the wait at once. The first poll happens immediately, even when the
/// deadline has already passed.
///
/// Progress is logged at INFO (`TF_LOG_PROVIDER=info` shows it): when a wait starts, each time
/// the AWS object's state changes, every ~30 s while it does not, and when the wait ends.
pub async fn wait_for<T, F, Fut>(
    deadline: Deadline,
    what: &str,
    id: &str,
    region: &str,
    mut poll: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let started = Instant::now();
    let mut last_report = started;
    let mut last_state: Option<String> = None;
    let mut delay = FIRST_DELAY;
    loop {
        let state = match poll().await? {
            Poll::Ready(value) => {
                if last_state.is_some() {
                    tracing::info!(
                        "{what} ({region}/{id}) is ready after {}s",
                        started.elapsed().as_secs()
                    );
                }
                return Ok(value);
            }
            Poll::Pending(state) => state,
        };
        if deadline.expired() {
            return Err(AwsError::Timeout {
                what: what.to_owned(),
                id: id.to_owned(),
                region: region.to_owned(),
                waited_secs: started.elapsed().as_secs(),
                last_state: state,
            });
        }
        match progress(last_state.as_deref(), &state, last_report.elapsed()) {
            Some(Progress::Started) => tracing::info!(
                "waiting for {what} ({region}/{id}): {state} (up to {}s)",
                deadline.remaining().as_secs()
            ),
            Some(Progress::Changed) => tracing::info!(
                "waiting for {what} ({region}/{id}): {} -> {state} after {}s",
                last_state.as_deref().unwrap_or_default(),
                started.elapsed().as_secs()
            ),
            Some(Progress::Still) => tracing::info!(
                "still waiting for {what} ({region}/{id}): {state} after {}s",
                started.elapsed().as_secs()
            ),
            None => {}
        }
        if last_state.as_deref() != Some(state.as_str()) || last_report.elapsed() >= PROGRESS_EVERY
        {
            last_report = Instant::now();
        }
        last_state = Some(state);
        tokio::time::sleep(delay.min(deadline.remaining())).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Progress {
    Started,
    Changed,
    Still,
}

/// What a poll that found `state` tells the user, given the state seen before and how long
/// ago the last progress line was.
fn progress(before: Option<&str>, state: &str, since_report: Duration) -> Option<Progress> {
    match before {
        None => Some(Progress::Started),
        Some(b) if b != state => Some(Progress::Changed),
        Some(_) if since_report >= PROGRESS_EVERY => Some(Progress::Still),
        Some(_) => None,
    }
}

/// Runs `call` until it succeeds, again (backing off from 1 s to 10 s) while it fails with an
/// error `retryable` accepts (an object busy with an earlier change, say) and `deadline` has not
/// passed; then its last answer is returned.
pub async fn retry_while<T, F, Fut>(
    deadline: Deadline,
    retryable: impl Fn(&AwsError) -> bool,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut delay = Duration::from_secs(1);
    loop {
        match call().await {
            Err(e) if retryable(&e) && !deadline.expired() => {
                tracing::info!("retrying in {}s: {e}", delay.as_secs());
                tokio::time::sleep(delay.min(deadline.remaining())).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn retries_only_what_it_is_told_until_the_deadline() {
        let busy = || {
            AwsError::api(
                "updating",
                "Aurora cluster",
                "c",
                "us-east-1",
                Some("InvalidDBClusterStateFault".into()),
                "busy",
            )
        };
        let calls = Cell::new(0);
        let ok = retry_while(
            Deadline::after(Duration::from_secs(10)),
            |e| e.code() == Some("InvalidDBClusterStateFault"),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 2 {
                        Err(busy())
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(ok, 2);
        let calls = Cell::new(0);
        let other = retry_while::<(), _, _>(
            Deadline::after(Duration::from_secs(10)),
            |_| false,
            || {
                calls.set(calls.get() + 1);
                async { Err(busy()) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            (calls.get(), other.code()),
            (1, Some("InvalidDBClusterStateFault"))
        );
        let expired = retry_while::<(), _, _>(
            Deadline::after(Duration::ZERO),
            |_| true,
            || async { Err(busy()) },
        )
        .await;
        assert!(expired.is_err());
    }

    #[test]
    fn progress_lines() {
        let short = Duration::from_secs(1);
        assert_eq!(progress(None, "creating", short), Some(Progress::Started));
        assert_eq!(
            progress(Some("creating"), "backing-up", short),
            Some(Progress::Changed)
        );
        assert_eq!(progress(Some("creating"), "creating", short), None);
        assert_eq!(
            progress(Some("creating"), "creating", PROGRESS_EVERY),
            Some(Progress::Still)
        );
    }

    #[tokio::test]
    async fn returns_once_ready() {
        let polls = Cell::new(0);
        let value = wait_for(
            Deadline::after(Duration::from_secs(5)),
            "NAT gateway",
            "nat-1",
            "us-east-1",
            || {
                polls.set(polls.get() + 1);
                let n = polls.get();
                async move {
                    Ok(if n < 3 {
                        Poll::Pending("pending".into())
                    } else {
                        Poll::Ready(n)
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn times_out_with_the_last_state() {
        let err = wait_for::<(), _, _>(
            Deadline::after(Duration::from_millis(300)),
            "NAT gateway",
            "nat-1",
            "us-east-2",
            || async { Ok(Poll::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        match err {
            AwsError::Timeout {
                last_state, region, ..
            } => {
                assert_eq!(last_state, "pending");
                assert_eq!(region, "us-east-2");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[tokio::test]
    async fn poll_errors_end_the_wait() {
        let err = wait_for::<(), _, _>(
            Deadline::after(Duration::from_secs(5)),
            "VPC",
            "vpc-1",
            "us-east-1",
            || async { Err(AwsError::not_found("VPC", "vpc-1", "us-east-1")) },
        )
        .await
        .unwrap_err();
        assert!(err.is_not_found());
    }

    #[test]
    fn deadline_in_the_past_is_expired() {
        let deadline = Deadline::after(Duration::ZERO);
        assert!(deadline.expired());
        assert_eq!(deadline.remaining(), Duration::ZERO);
        assert!(!Deadline::after(Duration::from_secs(60)).expired());
    }
}
