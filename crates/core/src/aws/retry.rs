//! When to make a call again: one retry policy for every loop that waits on AWS (the
//! sweep's listings and deletions, the run's scenario and simulator calls). Pure: the
//! caller sleeps, and passes in how long it has been trying; the answer's class comes from
//! [`super::errors::classify`] (or `classify_answer`, which also reads the HTTP status).

use std::time::Duration;

use super::errors::ErrorClass;
use ErrorClass::{NotYet, ServerError, Throttled};

/// Waits that grow from `first` by `factor` each time, up to `cap`; never longer than
/// `limit`, never past `limit` in all, never more than `max_retries` of them; only for the
/// classes in `retry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the first retry.
    pub first: Duration,
    /// Each next wait is this many times the one before (1: a fixed interval).
    pub factor: u32,
    /// The longest single wait.
    pub cap: Duration,
    /// Total patience: no retry whose wait would end after this much time since the first
    /// call began (`Duration::MAX`: unbounded). Zero: never retry.
    pub limit: Duration,
    /// At most this many retries (`u32::MAX`: unbounded).
    pub max_retries: u32,
    /// The classes of answer worth calling again for.
    pub retry: &'static [ErrorClass],
}

const THROTTLED: &[ErrorClass] = &[Throttled];
/// "Not yet" and throttling: the answers that change if one waits.
const SETTLING: &[ErrorClass] = &[Throttled, NotYet];
const SETTLING_OR_SERVER: &[ErrorClass] = &[Throttled, NotYet, ServerError];

impl RetryPolicy {
    /// A sweep's listing calls: throttling only, 5 retries waiting 0.5 s, then twice as
    /// long each time (0.5 + 1 + 2 + 4 + 8 = 15.5 s in all), however long the calls take: a
    /// sweep lists the tags of every IAM role and instance profile in the account, one
    /// call each.
    pub const fn sweep_listing() -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_millis(500),
            factor: 2,
            cap: Duration::from_secs(8),
            limit: Duration::MAX,
            max_retries: 5,
            retry: THROTTLED,
        }
    }

    /// A sweep's deletions on AWS, and its waits for what AWS deletes asynchronously:
    /// every 10 s for up to five minutes, retrying throttling and "not yet" (a deleted load
    /// balancer's or instance's network interfaces linger for minutes).
    pub const fn sweep_deletes_on_aws() -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_secs(10),
            factor: 1,
            cap: Duration::from_secs(10),
            limit: Duration::from_secs(300),
            max_retries: u32::MAX,
            retry: SETTLING,
        }
    }

    /// A sweep's deletions on an emulator, which deletes synchronously: every 200 ms for up
    /// to 30 s, retrying throttling only ("not yet" will not change there).
    pub const fn sweep_deletes_on_emulator() -> RetryPolicy {
        RetryPolicy {
            first: Duration::from_millis(200),
            factor: 1,
            cap: Duration::from_millis(200),
            limit: Duration::from_secs(30),
            max_retries: u32::MAX,
            retry: THROTTLED,
        }
    }

    /// Scenario and simulator calls (what `run::Retry` was): waits from `first_wait`,
    /// doubling up to ten times it, while the answer is throttling or "not yet" (and, with
    /// `server_errors`, a 5xx: AWS's transient errors, where an emulator's 500 means it
    /// cannot serve the call, which no retry changes), within `patience`.
    pub const fn scenario_calls(patience: Duration, first_wait: Duration, server_errors: bool) -> RetryPolicy {
        RetryPolicy {
            first: first_wait,
            factor: 2,
            cap: first_wait.saturating_mul(10),
            limit: patience,
            max_retries: u32::MAX,
            retry: if server_errors { SETTLING_OR_SERVER } else { SETTLING },
        }
    }

    /// Scenario calls on AWS: from 2 s, 5xx answers too, for up to `patience`.
    pub const fn scenario_calls_on_aws(patience: Duration) -> RetryPolicy {
        RetryPolicy::scenario_calls(patience, Duration::from_secs(2), true)
    }

    /// Scenario calls against an emulator (`--endpoint`): "not yet" and throttling only,
    /// from 0.5 s, for 10 s.
    pub const fn scenario_calls_on_emulator() -> RetryPolicy {
        RetryPolicy::scenario_calls(Duration::from_secs(10), Duration::from_millis(500), false)
    }

    /// The wait before retry number `attempt + 1` (`attempt`: the retries already made),
    /// `elapsed` after the first call began, whatever made it necessary (a poll of
    /// something not finished yet uses this directly): `None` once the retries or the
    /// patience are spent.
    pub fn wait_after(&self, attempt: u32, elapsed: Duration) -> Option<Duration> {
        if attempt >= self.max_retries {
            return None;
        }
        let grown = self.factor.checked_pow(attempt).and_then(|f| self.first.checked_mul(f)).unwrap_or(self.cap);
        let wait = grown.min(self.cap).min(self.limit);
        (elapsed.saturating_add(wait) <= self.limit).then_some(wait)
    }

    /// [`RetryPolicy::wait_after`] for an answer of `class`: `None` also when this policy
    /// does not retry that class.
    pub fn next_wait(&self, attempt: u32, elapsed: Duration, class: ErrorClass) -> Option<Duration> {
        if !self.retry.contains(&class) {
            return None;
        }
        self.wait_after(attempt, elapsed)
    }
}

impl Default for RetryPolicy {
    /// Never retry (what `run::Retry::default()` was: zero patience, first wait 2 s, no
    /// 5xx).
    fn default() -> Self {
        RetryPolicy::scenario_calls(Duration::ZERO, Duration::from_secs(2), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorClass::*;

    const ALL: [ErrorClass; 8] = [Denied, AuthFailure, Throttled, NotYet, Gone, DryRunAuthorized, ServerError, Other];

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The waits a policy makes for `class` when every call takes `call` and the answer
    /// never changes, until it gives up.
    fn schedule(policy: &RetryPolicy, class: ErrorClass, call: Duration) -> Vec<Duration> {
        let mut waits = Vec::new();
        let mut elapsed = call;
        while let Some(w) = policy.next_wait(waits.len() as u32, elapsed, class) {
            waits.push(w);
            elapsed += w + call;
            assert!(waits.len() < 10_000, "never gives up");
        }
        waits
    }

    #[test]
    fn sweep_listings_retry_throttling_five_times_doubling_from_half_a_second() {
        let p = RetryPolicy::sweep_listing();
        let expected = [ms(500), ms(1000), ms(2000), ms(4000), ms(8000)];
        assert_eq!(schedule(&p, Throttled, ms(1)), expected);
        // However long the calls take: the count bounds it, not the time.
        assert_eq!(schedule(&p, Throttled, Duration::from_secs(600)), expected);
        assert_eq!(expected.iter().sum::<Duration>(), ms(15_500));
        for class in ALL.into_iter().filter(|c| *c != Throttled) {
            assert_eq!(p.next_wait(0, Duration::ZERO, class), None, "{class:?}");
        }
    }

    #[test]
    fn sweep_deletes_wait_a_fixed_interval_within_their_patience() {
        let aws = RetryPolicy::sweep_deletes_on_aws();
        for class in [Throttled, NotYet] {
            assert_eq!(aws.next_wait(0, Duration::ZERO, class), Some(Duration::from_secs(10)));
            assert_eq!(aws.next_wait(1000, Duration::ZERO, class), Some(Duration::from_secs(10)), "no count limit");
            // A retry is made while its wait ends within the five minutes.
            assert_eq!(aws.next_wait(5, Duration::from_secs(290), class), Some(Duration::from_secs(10)));
            assert_eq!(aws.next_wait(5, Duration::from_secs(290) + ms(1), class), None);
        }
        // Calls that take no time: 30 waits of 10 s fill the 300 s.
        assert_eq!(schedule(&aws, NotYet, Duration::ZERO).len(), 30);
        for class in [Denied, AuthFailure, Gone, DryRunAuthorized, ServerError, Other] {
            assert_eq!(aws.next_wait(0, Duration::ZERO, class), None, "{class:?}");
        }

        let emulator = RetryPolicy::sweep_deletes_on_emulator();
        assert_eq!(emulator.next_wait(0, Duration::ZERO, Throttled), Some(ms(200)));
        assert_eq!(emulator.next_wait(0, Duration::ZERO, NotYet), None, "no dependency retries on an emulator");
        assert_eq!(schedule(&emulator, Throttled, Duration::ZERO).len(), 150);
        assert_eq!(emulator.next_wait(3, Duration::from_secs(30) - ms(199), Throttled), None);
        // Polls (wait_after) do not depend on the class.
        assert_eq!(emulator.wait_after(0, Duration::ZERO), Some(ms(200)));
        assert_eq!(emulator.wait_after(7, Duration::from_secs(29)), Some(ms(200)));
        assert_eq!(emulator.wait_after(7, Duration::from_secs(30)), None);
    }

    #[test]
    fn scenario_calls_double_up_to_ten_times_the_first_wait_within_their_patience() {
        let p = RetryPolicy::scenario_calls(Duration::from_secs(6), ms(20), true);
        let waits: Vec<Duration> = (0..8).map(|n| p.next_wait(n, Duration::ZERO, NotYet).unwrap()).collect();
        assert_eq!(waits, [ms(20), ms(40), ms(80), ms(160), ms(200), ms(200), ms(200), ms(200)]);
        for class in [Throttled, NotYet, ServerError] {
            assert!(p.next_wait(0, Duration::ZERO, class).is_some(), "{class:?}");
        }
        for class in [Denied, AuthFailure, Gone, DryRunAuthorized, Other] {
            assert_eq!(p.next_wait(0, Duration::ZERO, class), None, "{class:?}");
        }
        // Without server errors, a 5xx is answered at once.
        let no_5xx = RetryPolicy::scenario_calls(Duration::from_secs(6), ms(20), false);
        assert_eq!(no_5xx.next_wait(0, Duration::ZERO, ServerError), None);
        assert_eq!(no_5xx.next_wait(0, Duration::ZERO, Throttled), Some(ms(20)));
        // Patience 100 ms: waits of 20 ms and 40 ms fit, 80 ms more does not.
        let short = RetryPolicy::scenario_calls(ms(100), ms(20), true);
        assert_eq!(schedule(&short, NotYet, Duration::ZERO), [ms(20), ms(40)]);
        // A patience shorter than the first wait: the wait is cut to the patience, so only
        // a first call that took no time at all is retried.
        let tiny = RetryPolicy::scenario_calls(ms(5), ms(20), true);
        assert_eq!(tiny.next_wait(0, Duration::ZERO, NotYet), Some(ms(5)));
        assert_eq!(tiny.next_wait(0, ms(1), NotYet), None);
    }

    #[test]
    fn the_default_and_zero_patience_never_retry() {
        let p = RetryPolicy::default();
        assert_eq!(p, RetryPolicy::scenario_calls(Duration::ZERO, Duration::from_secs(2), false));
        for class in ALL {
            assert_eq!(p.next_wait(0, Duration::from_nanos(1), class), None, "{class:?}");
        }
        assert_eq!(RetryPolicy::scenario_calls(Duration::ZERO, ms(20), true).next_wait(0, ms(1), ServerError), None);
    }

    #[test]
    fn the_named_scenario_policies_are_the_runs() {
        assert_eq!(
            RetryPolicy::scenario_calls_on_aws(Duration::from_secs(300)),
            RetryPolicy::scenario_calls(Duration::from_secs(300), Duration::from_secs(2), true)
        );
        assert_eq!(
            RetryPolicy::scenario_calls_on_emulator(),
            RetryPolicy::scenario_calls(Duration::from_secs(10), ms(500), false)
        );
    }

    #[test]
    fn long_schedules_stay_at_the_cap() {
        let p = RetryPolicy::scenario_calls(Duration::MAX, Duration::from_secs(2), false);
        assert_eq!(p.next_wait(u32::MAX - 1, Duration::ZERO, Throttled), Some(Duration::from_secs(20)));
        assert_eq!(p.next_wait(40, Duration::from_secs(1 << 40), Throttled), Some(Duration::from_secs(20)));
        let unbounded = RetryPolicy { max_retries: u32::MAX, ..RetryPolicy::sweep_listing() };
        assert_eq!(unbounded.next_wait(64, Duration::MAX, Throttled), Some(Duration::from_secs(8)));
    }
}
