//! Several services on one worker set (`ipc2::combine!`, invoked in
//! `tests/support/src/tools.rs`), each called through its own client.

use ipc2_test_support as support;

use support::HANG_GUARD;
use support::calc::{CalcClient as _, Progress};
use support::store::{StoreClient, StoreRequest, StoreResponse, Stored};
use support::tools::{ToolsEvent, ToolsRequest, ToolsResponse, ToolsWorkers};

#[tokio::test]
async fn two_services_answer_on_one_set_each_through_its_own_client() {
    let tools: ToolsWorkers = ToolsWorkers::builder()
        .worker_count(2)
        .worker_path(support::helper("tools_worker"))
        .finish()
        .await
        .unwrap();
    assert_eq!(tools.add(2, 3).await.unwrap(), 5);
    assert_eq!(tools.square(9).await.unwrap(), 81);
    // Every view of a combined set has every service's methods too.
    let limited = tools.with_timeout(HANG_GUARD, ipc2::TimeoutAction::Restart);
    assert_eq!(limited.add(1, 1).await.unwrap(), 2);
    let everywhere = tools.on_all().add(2, 2).await;
    assert_eq!(everywhere.len(), 2);
    assert!(
        everywhere.iter().all(|(_, sum)| matches!(sum, Ok(4))),
        "{everywhere:?}"
    );
    // One worker so the stored value is seen by the next call.
    let one = tools.workers()[0].id;
    tools
        .send_to(
            one,
            ToolsRequest::Store(StoreRequest::Put {
                key: "k".into(),
                value: "v".into(),
            }),
        )
        .await
        .unwrap();
    match tools
        .send_to(
            one,
            ToolsRequest::Store(StoreRequest::Get { key: "k".into() }),
        )
        .await
        .unwrap()
    {
        ToolsResponse::Store(StoreResponse::Get(value)) => assert_eq!(value.as_deref(), Some("v")),
        other => panic!("unexpected reply {other:?}"),
    }
    assert_eq!(tools.get("missing".into()).await.unwrap(), None);
}

// https://github.com/ipc2-rs/ipc2/issues/12: events came from a process-global, so a second
// service in one process could not emit its own.
#[tokio::test]
async fn each_combined_service_emits_its_own_events() {
    let tools: ToolsWorkers = ToolsWorkers::builder()
        .worker_count(1)
        .worker_path(support::helper("tools_worker"))
        .finish()
        .await
        .unwrap();
    let mut events = tools.events().unwrap();
    tools.progress(2).await.unwrap();
    tools.put("k".into(), "v".into()).await.unwrap();
    let seen = support::next_events(&mut events, 3).await;
    assert!(
        matches!(
            &seen[..],
            [
                ToolsEvent::Calc(Progress { step: 0, of: 2 }),
                ToolsEvent::Calc(Progress { step: 1, of: 2 }),
                ToolsEvent::Store(Stored { key }),
            ] if key == "k"
        ),
        "{seen:?}"
    );
}

// A combined service streams too, and the events its stream emits are its own.
#[tokio::test]
async fn a_combined_service_streams_and_its_stream_emits_the_services_events() {
    let tools: ToolsWorkers = ToolsWorkers::builder()
        .worker_count(1)
        .worker_path(support::helper("tools_worker"))
        .finish()
        .await
        .unwrap();
    let mut events = tools.events().unwrap();
    let mut items = tools.count_to(3, 0, String::new()).await.unwrap();
    let seen = support::read_all(&mut items).await;
    assert_eq!(seen, [0, 1, 2]);
    for (step, event) in (0..).zip(support::next_events(&mut events, 3).await) {
        assert!(
            matches!(&event, ToolsEvent::Calc(Progress { step: s, of: 3 }) if *s == step),
            "{event:?}"
        );
    }
}
