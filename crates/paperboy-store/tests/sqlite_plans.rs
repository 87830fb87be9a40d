//! The SQLite schema serves its hot and periodic queries from indexes: the query plans of the
//! expiry sweeps and of the search index's change stream, read with `EXPLAIN QUERY PLAN` on a
//! database the store created and migrated.

use paperboy_store::sqlite::SqliteStore;

fn plan(conn: &rusqlite::Connection, sql: &str) -> String {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explain");
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(3))
        .expect("plan rows");
    rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn expiry_sweeps_and_the_change_stream_use_indexes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("plans.sqlite");
    let store = SqliteStore::open(&path).await.expect("open");
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("connect");

    let sessions = plan(&conn, "DELETE FROM sessions WHERE expires_at < 0");
    assert!(sessions.contains("sessions_expires"), "{sessions}");
    let resets = plan(&conn, "DELETE FROM password_resets WHERE expires_at < 0");
    assert!(resets.contains("password_resets_expires"), "{resets}");

    let changes = plan(
        &conn,
        "SELECT id, modified_at, hidden FROM papers
         WHERE modified_at >= 0 AND (modified_at > 0 OR id > '') ORDER BY modified_at, id LIMIT 10",
    );
    assert!(changes.contains("papers_modified_id"), "{changes}");
    let redundant: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'papers_modified'",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        redundant, 0,
        "papers_modified duplicates papers_modified_id's prefix"
    );
}
