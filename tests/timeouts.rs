//! Time limits mean what a user thinks (issue 11): a call's timeout bounds how long it *runs*,
//! from when it is written to a worker, and a queue timeout bounds how long it waits for one.

use ipc2_test_support as support;

use std::time::Duration;

use ipc2::host::WorkerState;
use ipc2::{Error, TimeoutAction};
use support::HANG_GUARD;
use support::eval::{EvalClient, EvalError, EvalWorkers};

async fn evaluators(count: usize) -> EvalWorkers {
    EvalWorkers::builder()
        .worker_count(count)
        .worker_path(support::helper("eval_worker"))
        .finish()
        .await
        .expect("the evaluators start")
}

// The trial that found it: 2 workers, 50 scripts at once, 5 of them spinning forever under a
// 2 s limit with restart. With the limit counting queue time, 6 of the 45 good scripts failed
// with the runaway's error while both workers were stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_scripts_at_once_only_the_five_runaways_time_out() {
    let workers = evaluators(2).await;
    let scripts = support::eval::fifty_scripts();
    let calls = scripts.iter().map(|script| workers.eval(script.clone()));
    let outcomes = tokio::time::timeout(HANG_GUARD * 2, futures_util::future::join_all(calls))
        .await
        .expect("every call ended");

    let (mut values, mut errors, mut timeouts) = (0, 0, 0);
    for (script, outcome) in scripts.iter().zip(outcomes) {
        match (script.as_str(), outcome) {
            (
                "spin",
                Err(Error::Timeout {
                    limit,
                    ran_for,
                    action,
                    ..
                }),
            ) => {
                assert_eq!(limit, Duration::from_secs(2));
                assert!(ran_for >= limit, "{script}: stopped after {ran_for:?}");
                assert_eq!(action, TimeoutAction::Restart);
                timeouts += 1;
            }
            (_, Ok(Ok(value))) => {
                assert_eq!(Ok(value), support::eval::evaluate(script), "{script}");
                values += 1;
            }
            (_, Ok(Err(EvalError(bad)))) => {
                assert_eq!(&bad, script);
                errors += 1;
            }
            (script, other) => panic!("{script}: {other:?}"),
        }
    }
    assert_eq!((values, errors, timeouts), (43, 2, 5));
    // Each runaway's worker was killed and replaced.
    let restarts = || {
        workers
            .stats()
            .workers
            .iter()
            .map(|w| w.restarts)
            .sum::<u64>()
    };
    assert!(
        support::eventually(HANG_GUARD, || restarts() == 5).await,
        "{} restarts",
        restarts()
    );
}

// `stats()` right after a `Timeout` with `Restart` showed the killed worker `Busy` with a job in
// flight.
#[tokio::test]
async fn a_worker_killed_for_a_timeout_is_shown_killing_not_busy() {
    let workers = evaluators(1).await;
    let runaway = support::only_worker(&workers);
    let spun = workers
        .with_timeout(Duration::from_millis(200), TimeoutAction::Restart)
        .eval("spin".to_owned())
        .await;
    assert!(matches!(spun, Err(Error::Timeout { .. })), "{spun:?}");
    let worker = &workers.stats().workers[0];
    assert!(
        worker.pid != Some(runaway.pid) || worker.state == WorkerState::Killing,
        "{worker:?}"
    );
}

// A call that waits longer than its queue timeout fails unsent; the timeout of a call that
// does run is not spent in the queue.
#[tokio::test]
async fn a_queue_timeout_fails_unsent_calls_and_the_run_timeout_starts_at_the_worker() {
    // No type annotation: `builder()` is defined for the Unix transport alone (this was E0283).
    let workers = EvalWorkers::builder()
        .worker_count(1)
        .worker_path(support::helper("eval_worker"))
        .queue_timeout(Duration::from_millis(300))
        .default_timeout(Duration::from_secs(1), TimeoutAction::Restart)
        .finish()
        .await
        .expect("the evaluator starts");
    let runaway = workers.eval("spin".to_owned());
    let queued = async {
        // Behind the runaway: waits for its worker longer than the queue allows.
        tokio::time::sleep(Duration::from_millis(50)).await;
        workers.eval("1+1".to_owned()).await
    };
    let (runaway, queued) = tokio::join!(runaway, queued);
    // The method's own 2 s limit wins over the set's 1 s default.
    assert!(
        matches!(runaway, Err(Error::Timeout { limit, .. }) if limit == Duration::from_secs(2)),
        "{runaway:?}"
    );
    match queued {
        Err(err @ Error::QueueTimeout { .. }) => {
            assert!(err.to_string().contains("safe to retry"), "{err}")
        }
        other => panic!("expected QueueTimeout, got {other:?}"),
    }
    // The worker that replaced the runaway's serves.
    assert_eq!(workers.eval("2+2".to_owned()).await.unwrap(), Ok(4));
}

// The set-wide default applies to a call that names no limit of its own: with `Restart` the
// worker is replaced, with `Error` the call fails and the worker is kept.
#[tokio::test]
async fn the_set_wide_default_timeout_limits_calls_that_name_none() {
    use support::jobs::TestJob;
    let limit = Duration::from_millis(300);
    for action in [TimeoutAction::Restart, TimeoutAction::Error] {
        let workers = support::builder(1)
            .default_timeout(limit, action)
            .finish()
            .await
            .expect("the worker starts");
        let before = support::only_worker(&workers);
        let stuck = tokio::time::timeout(HANG_GUARD, workers.send(TestJob::Sleep(600_000)))
            .await
            .expect("the default timeout ended the call");
        match stuck {
            Err(Error::Timeout {
                limit: got,
                ran_for,
                action: got_action,
                ..
            }) => {
                assert_eq!(got, limit);
                assert!(ran_for >= limit, "{ran_for:?}");
                assert_eq!(got_action, action);
            }
            other => panic!("expected Timeout, got {other:?}"),
        }
        match action {
            TimeoutAction::Restart => {
                let (sum, pid) = support::add(&workers, 2, 3).await;
                assert_eq!(sum, 5);
                assert_ne!(pid, before.pid, "the runaway's worker was replaced");
            }
            // The job is cancelled, which a `Sleep` does not heed: the worker is still busy,
            // and still the same process.
            _ => {
                assert_eq!(support::only_worker(&workers).pid, before.pid);
                assert_eq!(workers.stats().workers[0].restarts, 0);
            }
        }
    }
}
