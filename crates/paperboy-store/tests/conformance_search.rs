//! Conformance of the store methods the search index needs: the change stream it catches up
//! from, on SQLite and PostgreSQL alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use paperboy_core::{ArxivId, NewPaper, Username};
use paperboy_store::{ChangeCursor, NewUser, Store};

paperboy_testkit::conformance!(
    the_change_stream_lists_every_paper_once_in_pages,
    a_change_after_the_cursor_comes_back_and_nothing_else,
    a_vote_is_a_change,
    change_cursors_round_trip_through_text,
);

fn paper(id: &str) -> NewPaper {
    NewPaper::new(
        ArxivId::parse(id).expect("id"),
        format!("Title of {id}"),
        format!("Abstract of {id}."),
        DateTime::parse_from_rfc3339("2025-10-27T10:00:00Z")
            .expect("time")
            .with_timezone(&Utc),
    )
}

async fn drain(
    store: &Arc<dyn Store>,
    mut cursor: Option<ChangeCursor>,
    page: u32,
) -> (Vec<String>, Option<ChangeCursor>) {
    let mut seen = Vec::new();
    loop {
        let changes = store
            .papers_changed_since(cursor.as_ref(), page)
            .await
            .expect("changes");
        let Some(next) = changes.next else { break };
        assert!(changes.papers.len() <= page as usize);
        seen.extend(changes.papers.iter().map(|p| p.id.base().to_owned()));
        cursor = Some(next);
    }
    (seen, cursor)
}

async fn the_change_stream_lists_every_paper_once_in_pages(store: Arc<dyn Store>) {
    let papers: Vec<NewPaper> = (1..=7).map(|i| paper(&format!("2510.{i:05}"))).collect();
    store.upsert_papers(&papers).await.expect("upsert");

    let (mut seen, cursor) = drain(&store, None, 3).await;
    assert!(cursor.is_some());
    seen.sort();
    let want: Vec<String> = (1..=7).map(|i| format!("2510.{i:05}")).collect();
    assert_eq!(seen, want);
}

async fn a_change_after_the_cursor_comes_back_and_nothing_else(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[paper("2510.00001"), paper("2510.00002")])
        .await
        .expect("upsert");
    let (_, cursor) = drain(&store, None, 10).await;
    let (nothing, _) = drain(&store, cursor.clone(), 10).await;
    assert!(nothing.is_empty(), "no change after the end: {nothing:?}");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let mut changed = paper("2510.00002");
    changed.title = "A new title".into();
    store.upsert_papers(&[changed]).await.expect("upsert");
    let changes = store
        .papers_changed_since(cursor.as_ref(), 10)
        .await
        .expect("changes");
    let ids: Vec<&str> = changes.papers.iter().map(|p| p.id.base()).collect();
    assert_eq!(ids, ["2510.00002"]);
    assert_eq!(changes.papers[0].title, "A new title");
}

async fn a_vote_is_a_change(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[paper("2510.00001"), paper("2510.00002")])
        .await
        .expect("upsert");
    let (_, cursor) = drain(&store, None, 10).await;
    let user = store
        .create_user(&NewUser {
            username: Username::parse("voter").expect("username"),
            fullname: "Voter".into(),
            email: None,
            password_hash: None,
            is_admin: false,
        })
        .await
        .expect("user");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .set_vote(user.id, &ArxivId::parse("2510.00001").expect("id"), true)
        .await
        .expect("vote");
    let changes = store
        .papers_changed_since(cursor.as_ref(), 10)
        .await
        .expect("changes");
    assert_eq!(changes.papers.len(), 1);
    assert_eq!(changes.papers[0].upvotes, 1);
}

async fn change_cursors_round_trip_through_text(store: Arc<dyn Store>) {
    store
        .upsert_papers(&[paper("2510.00001")])
        .await
        .expect("upsert");
    let changes = store.papers_changed_since(None, 10).await.expect("changes");
    let cursor = changes.next.expect("a cursor");
    assert_eq!(ChangeCursor::decode(&cursor.encode()), Some(cursor.clone()));
    let again = store
        .papers_changed_since(ChangeCursor::decode(&cursor.encode()).as_ref(), 10)
        .await
        .expect("changes");
    assert!(again.papers.is_empty());
    assert_eq!(ChangeCursor::decode("garbage"), None);
}
