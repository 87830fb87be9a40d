//! Organizations, author pages and claims, moderation, account settings, password reset,
//! comment editing and similar papers, through the real app on a random port.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Options, PASSWORD, TestApp, alternate};
use paperboy_core::ArxivId;
use paperboy_testkit::smtp::SmtpSink;

#[tokio::test]
async fn an_organization_is_made_joined_submitted_for_and_has_its_page_and_feeds() {
    let app = TestApp::spawn().await;
    let ada = app.me();
    ada.sign_up("ada").await;
    let r = ada
        .post(
            "/orgs/new",
            &[("name", "lab"), ("fullname", "The <b>Lab</b>")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], "/orgs/lab");
    let taken = ada
        .post("/orgs/new", &[("name", "lab"), ("fullname", "Again")])
        .await;
    assert_eq!(taken.status().as_u16(), 400);
    assert!(taken.text().await.expect("body").contains("taken"));
    let bad = ada
        .post("/orgs/new", &[("name", "a b"), ("fullname", "")])
        .await;
    assert_eq!(bad.status().as_u16(), 400);

    let bob = app.other();
    bob.sign_up("bob").await;
    // Bob is not a member yet: he cannot submit for the lab.
    let refused = bob
        .post(
            "/submit",
            &[("arxiv_id", "2510.01234"), ("organization", "lab")],
        )
        .await;
    assert_eq!(refused.status().as_u16(), 400);
    assert_eq!(app.store.stats().await.expect("stats").feed_entries, 0);
    assert_eq!(bob.post("/orgs/lab/join", &[]).await.status().as_u16(), 303);
    // Joining is a request until an administrator approves it.
    assert_eq!(
        ada.post("/orgs/lab/requests/bob", &[("decision", "approve")])
            .await
            .status()
            .as_u16(),
        303
    );
    let submit_page = bob.html("/submit").await;
    assert!(
        submit_page.contains("<option value=\"lab\">"),
        "{submit_page}"
    );
    let r = bob
        .post(
            "/submit",
            &[("arxiv_id", "2510.01234"), ("organization", "lab")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);

    let page = app.other().html("/orgs/lab").await;
    assert!(
        page.contains("The &#60;b&#62;Lab&#60;/b&#62;") && !page.contains("<b>Lab"),
        "escaped name"
    );
    assert!(
        page.contains("@ada") && page.contains("@bob"),
        "members listed"
    );
    assert!(page.contains("/papers/2510.01234"), "the submission listed");
    let rss = alternate(&page, "application/rss+xml").expect("RSS alternate");
    let atom = alternate(&page, "application/atom+xml").expect("Atom alternate");
    let feed = app.other().get(&rss).await;
    assert_eq!(feed.status().as_u16(), 200);
    let parsed = feed_rs::parser::parse(feed.bytes().await.expect("rss").as_ref()).expect("rss");
    assert_eq!(parsed.entries.len(), 1);
    let parsed = feed_rs::parser::parse(
        app.other()
            .get(&atom)
            .await
            .bytes()
            .await
            .expect("atom")
            .as_ref(),
    )
    .expect("atom");
    assert_eq!(parsed.entries.len(), 1);
    let list = app.other().html("/orgs").await;
    assert!(list.contains("href=\"/orgs/lab\""));
    // The paper page links its organization.
    assert!(
        app.other()
            .html("/papers/2510.01234")
            .await
            .contains("href=\"/orgs/lab\"")
    );

    // The last administrator cannot leave while Bob is a member; Bob can.
    assert_eq!(
        ada.post("/orgs/lab/leave", &[]).await.status().as_u16(),
        400
    );
    assert_eq!(
        bob.post("/orgs/lab/leave", &[]).await.status().as_u16(),
        303
    );
    assert!(!app.other().html("/orgs/lab").await.contains("@bob"));
    assert_eq!(app.other().get("/orgs/nope").await.status().as_u16(), 404);
}

#[tokio::test]
async fn an_author_page_lists_their_papers_and_a_claim_is_confirmed_by_an_administrator() {
    let app = TestApp::spawn().await;
    app.seed(
        "2510.00001",
        "First",
        "One.",
        &["Ada Lovelace", "Charles Babbage"],
    )
    .await;
    app.seed("2510.00002", "Second", "Two.", &["ada  lovelace"])
        .await;
    app.seed("2510.00003", "Third", "Three.", &["Someone Else"])
        .await;
    let paper = app.other().html("/papers/2510.00001").await;
    assert!(
        paper.contains("href=\"/authors/Ada%20Lovelace\""),
        "authors are linked"
    );
    let page = app.other().html("/authors/Ada%20Lovelace").await;
    assert!(page.contains("/papers/2510.00001") && page.contains("/papers/2510.00002"));
    assert!(!page.contains("/papers/2510.00003"));
    let rss = alternate(&page, "application/rss+xml").expect("RSS alternate");
    assert_eq!(rss, "/feeds/rss/authors/Ada%20Lovelace");
    let feed = app.other().get(&rss).await.bytes().await.expect("rss");
    assert_eq!(
        feed_rs::parser::parse(feed.as_ref())
            .expect("rss")
            .entries
            .len(),
        2
    );
    assert_eq!(
        app.other()
            .get("/authors/Nobody%20Known")
            .await
            .status()
            .as_u16(),
        404
    );

    let ada = app.me();
    ada.sign_up("ada").await;
    assert_eq!(
        ada.post("/authors/Ada%20Lovelace/claim", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    assert!(
        ada.html("/authors/Ada%20Lovelace")
            .await
            .contains("is pending")
    );
    // A claim on a name with no papers is refused.
    assert_eq!(
        ada.post("/authors/Nobody%20Known/claim", &[])
            .await
            .status()
            .as_u16(),
        404
    );
    // Only an administrator decides.
    let claim_id = app.store.pending_author_claims(10).await.expect("claims")[0].id;
    let forged = ada
        .post(
            &format!("/admin/claims/{claim_id}"),
            &[("decision", "confirm")],
        )
        .await;
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(ada.get("/admin").await.status().as_u16(), 403);

    app.create_admin("root").await;
    let admin = app.other();
    assert_eq!(admin.sign_in("root", PASSWORD).await, 303);
    let dashboard = admin.html("/admin").await;
    assert!(dashboard.contains("Ada Lovelace") && dashboard.contains("@ada"));
    assert_eq!(
        admin
            .post(
                &format!("/admin/claims/{claim_id}"),
                &[("decision", "maybe")]
            )
            .await
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        admin
            .post(
                &format!("/admin/claims/{claim_id}"),
                &[("decision", "confirm")]
            )
            .await
            .status()
            .as_u16(),
        303
    );
    let page = app.other().html("/authors/Ada%20Lovelace").await;
    assert!(page.contains("confirmed by an administrator") && page.contains("/users/ada"));
    assert!(
        app.other()
            .html("/users/ada")
            .await
            .contains("/authors/Ada%20Lovelace")
    );
}

#[tokio::test]
async fn an_administrator_hides_papers_and_comments_and_suspends_accounts() {
    let app = TestApp::spawn().await;
    app.seed("2510.00001", "Spam paper", "Buy now.", &["Spammer"])
        .await;
    let mallory = app.me();
    mallory.sign_up("mallory").await;
    mallory.post("/submit", &[("arxiv_id", "2510.00001")]).await;
    let r = mallory
        .post("/papers/2510.00001/comments", &[("body", "buy my stuff")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    let comment_id = app
        .store
        .comments(&ArxivId::parse("2510.00001").expect("id"))
        .await
        .expect("comments")[0]
        .id;
    // Nobody but an administrator moderates.
    for path in [
        "/admin/papers/2510.00001/hide".to_owned(),
        format!("/admin/comments/{comment_id}/hide"),
        "/admin/users/mallory/suspend".to_owned(),
    ] {
        assert_eq!(
            mallory.post(&path, &[]).await.status().as_u16(),
            403,
            "{path}"
        );
    }

    app.create_admin("root").await;
    let admin = app.other();
    assert_eq!(admin.sign_in("root", PASSWORD).await, 303);
    assert_eq!(
        admin
            .post(&format!("/admin/comments/{comment_id}/hide"), &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let page = app.other().html("/papers/2510.00001").await;
    assert!(page.contains("hidden by a moderator") && !page.contains("buy my stuff"));
    assert!(page.contains("0 comments"));

    assert_eq!(
        admin
            .post("/admin/papers/2510.00001/hide", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    assert_eq!(
        app.other()
            .get("/papers/2510.00001")
            .await
            .status()
            .as_u16(),
        404
    );
    assert!(!app.other().html("/").await.contains("Spam paper"));
    assert_eq!(
        app.other()
            .get("/api/papers/2510.00001")
            .await
            .status()
            .as_u16(),
        404
    );
    assert!(admin.html("/admin").await.contains("Spam paper"));

    assert_eq!(
        admin
            .post("/admin/users/mallory/suspend", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    assert!(!mallory.signed_in().await, "the session ended");
    assert_eq!(mallory.sign_in("mallory", PASSWORD).await, 401);
    assert!(
        app.other()
            .html("/users/mallory")
            .await
            .contains("suspended")
    );
    // An administrator cannot lock themselves out.
    assert_eq!(
        admin
            .post("/admin/users/root/suspend", &[])
            .await
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        admin
            .post("/admin/users/mallory/unsuspend", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    assert_eq!(mallory.sign_in("mallory", PASSWORD).await, 303);
    assert_eq!(
        admin
            .post("/admin/papers/2510.00001/show", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    assert_eq!(
        app.other()
            .get("/papers/2510.00001")
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn settings_change_the_name_the_email_and_the_password_which_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let here = app.me();
    here.sign_up("ada").await;
    let phone = app.other();
    assert_eq!(phone.sign_in("ada", PASSWORD).await, 303);

    let r = here
        .post("/settings/profile", &[("fullname", "Ada King")])
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(here.html("/settings").await.contains("Ada King"));
    let r = here.post("/settings/profile", &[("fullname", "  ")]).await;
    assert_eq!(r.status().as_u16(), 400);

    let r = here
        .post(
            "/settings/email",
            &[("email", "ada@lab.example"), ("password", "wrong password")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.expect("body").contains("not right"));
    app.other().sign_up("bob").await;
    let r = here
        .post(
            "/settings/email",
            &[("email", "bob@example.org"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400, "a taken address");
    let r = here
        .post(
            "/settings/email",
            &[("email", "ada@lab.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(here.html("/settings").await.contains("ada@lab.example"));

    let r = here
        .post(
            "/settings/password",
            &[("current", PASSWORD), ("new", "short")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 400);
    let r = here
        .post(
            "/settings/password",
            &[("current", PASSWORD), ("new", "a much better passphrase")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(here.signed_in().await, "this session stays");
    assert!(!phone.signed_in().await, "the other session ended");
    assert_eq!(app.other().sign_in("ada", PASSWORD).await, 401);
    assert_eq!(
        app.other().sign_in("ada", "a much better passphrase").await,
        303
    );
}

#[tokio::test]
async fn a_password_reset_mails_a_single_use_link_and_answers_the_same_for_unknown_addresses() {
    let Some(sink) = SmtpSink::start() else {
        return;
    };
    let app = TestApp::spawn_with(Options {
        smtp: Some(sink),
        ..Options::default()
    })
    .await;
    let ada = app.me();
    ada.sign_up("ada").await;
    let stranger = app.other();
    let known = stranger
        .post("/reset", &[("email", "ada@example.org")])
        .await;
    let unknown = stranger
        .post("/reset", &[("email", "nobody@example.org")])
        .await;
    assert_eq!(
        (known.status().as_u16(), unknown.status().as_u16()),
        (200, 200)
    );
    let (a, b) = (
        known.text().await.expect("body"),
        unknown.text().await.expect("body"),
    );
    let answer = |html: &str| {
        let at = html.find("role=\"status\">").expect("an answer");
        html[at..at + html[at..].find("</p>").expect("end")].to_owned()
    };
    assert_eq!(answer(&a), answer(&b), "the same answer either way");
    let sink = app.smtp.as_ref().expect("sink");
    // The sign-up's confirmation came first; then the reset link.
    let mail = sink.wait_for(2, Duration::from_secs(20)).await;
    // Give a (wrong) second message time to arrive too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mail: Vec<_> = if mail.is_empty() {
        mail
    } else {
        sink.messages()
    }
    .into_iter()
    .filter(|m| m.text.contains("/reset/"))
    .collect();
    assert_eq!(mail.len(), 1, "one email, none for the unknown address");
    assert_eq!(mail[0].rcpt, ["ada@example.org"]);
    assert!(
        mail[0].header("list-unsubscribe").is_none(),
        "not a mailing"
    );
    let text = &mail[0].text;
    let at = text
        .find(&format!("{}/reset/", app.base))
        .expect("the link");
    let link: String = text[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let path = &link[app.base.len()..];

    let form = stranger.get(path).await;
    assert_eq!(form.status().as_u16(), 200);
    assert_eq!(form.headers()["referrer-policy"], "no-referrer");
    let r = stranger.post(path, &[("password", "short")]).await;
    assert_eq!(r.status().as_u16(), 400);
    let r = stranger
        .post(path, &[("password", "a brand new passphrase")])
        .await;
    assert_eq!(r.status().as_u16(), 303);
    assert!(
        stranger.signed_in().await,
        "the reset signs this browser in"
    );
    assert!(!ada.signed_in().await, "every other session ended");
    assert_eq!(stranger.get(path).await.status().as_u16(), 404, "used once");
    assert_eq!(
        stranger
            .post(path, &[("password", "yet another passphrase")])
            .await
            .status()
            .as_u16(),
        404
    );
    assert_eq!(app.other().sign_in("ada", PASSWORD).await, 401);
    assert_eq!(
        app.other().sign_in("ada", "a brand new passphrase").await,
        303
    );
    assert_eq!(
        app.other()
            .get("/reset/not-a-real-token")
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn only_its_author_edits_a_comment_and_the_page_says_it_was_edited() {
    let app = TestApp::spawn().await;
    app.seed("2510.00001", "A paper", "Abstract.", &["A. Author"])
        .await;
    let ada = app.me();
    ada.sign_up("ada").await;
    ada.post("/papers/2510.00001/comments", &[("body", "first *take*")])
        .await;
    let id = app
        .store
        .comments(&ArxivId::parse("2510.00001").expect("id"))
        .await
        .expect("comments")[0]
        .id;
    let bob = app.other();
    bob.sign_up("bob").await;
    let r = bob
        .post(&format!("/comments/{id}/edit"), &[("body", "hijacked")])
        .await;
    assert_eq!(r.status().as_u16(), 404);
    let r = ada
        .post(
            &format!("/comments/{id}/edit"),
            &[("body", "second <script>alert(1)</script> **take**")],
        )
        .await;
    assert_eq!(r.status().as_u16(), 303);
    ada.post("/papers/2510.00001/upvote", &[]).await;
    let page = app.other().html("/papers/2510.00001").await;
    assert!(
        page.contains("Upvoted here by <a href=\"/users/ada\">"),
        "upvoters are named"
    );
    assert!(page.contains("<strong>take</strong>") && page.contains("edited"));
    assert!(!page.contains("<script>alert(1)"), "sanitized");
    assert!(!page.contains("hijacked"));
    let r = ada
        .post(&format!("/comments/{id}/edit"), &[("body", "   ")])
        .await;
    assert_eq!(r.status().as_u16(), 400);
}

/// The app with an in-memory search engine (built-in embedder).
async fn app_with_search() -> (TestApp, Arc<paperboy_search::SearchEngine>) {
    let engine = Arc::new(
        paperboy_search::SearchEngine::in_memory(
            paperboy_search::StaticEmbedder::builtin_shared().expect("embedder"),
        )
        .expect("engine"),
    );
    let app = TestApp::spawn_with(Options {
        search: Some(engine.clone()),
        ..Options::default()
    })
    .await;
    (app, engine)
}

#[tokio::test]
async fn a_paper_page_shows_similar_papers_from_the_search_engine() {
    let (app, engine) = app_with_search().await;
    app.seed(
        "2510.00001",
        "Diffusion models for image generation",
        "We train denoising diffusion models that generate images.",
        &["A"],
    )
    .await;
    app.seed(
        "2510.00002",
        "Faster sampling for image diffusion models",
        "A sampler for denoising diffusion image generators.",
        &["B"],
    )
    .await;
    app.seed(
        "2510.00003",
        "Tax law in medieval Europe",
        "A history of taxation and law courts.",
        &["C"],
    )
    .await;
    engine.catch_up(app.store.as_ref()).await.expect("index");
    let page = app.other().html("/papers/2510.00001").await;
    let similar = &page[page
        .find("Similar papers")
        .expect("a similar-papers section")..];
    let first = similar.find("/papers/2510.0000").expect("a link");
    assert_eq!(
        &similar[first..first + 18],
        "/papers/2510.00002",
        "the closest first"
    );
}

#[tokio::test]
async fn recommendations_follow_a_users_upvotes_on_the_site_and_through_the_api() {
    let (app, engine) = app_with_search().await;
    for (id, title, summary) in [
        (
            "2510.00001",
            "Protein structure prediction with language models",
            "We predict protein folding from amino acid sequences.",
        ),
        (
            "2510.00002",
            "Protein design with diffusion",
            "Designing new protein structures and amino acid sequences.",
        ),
        (
            "2510.00003",
            "Tax law in medieval Europe",
            "A history of taxation and law courts.",
        ),
        (
            "2510.00004",
            "Parliaments and taxes in the middle ages",
            "How medieval assemblies granted taxation.",
        ),
    ] {
        app.seed(id, title, summary, &["A"]).await;
    }
    engine.catch_up(app.store.as_ref()).await.expect("index");
    let ada = app.me();
    ada.sign_up("ada").await;
    assert!(
        ada.html("/papers/for-you")
            .await
            .contains("Upvote papers you like"),
        "nothing to go on yet"
    );
    assert_eq!(
        ada.post("/papers/2510.00002/upvote", &[])
            .await
            .status()
            .as_u16(),
        303
    );
    let page = ada.html("/papers/for-you").await;
    let protein = page.find("/papers/2510.00001").expect("the close paper");
    assert!(
        page.find("/papers/2510.00003")
            .is_none_or(|tax| protein < tax),
        "the close paper first"
    );
    assert!(
        !page.contains("href=\"/papers/2510.00002\""),
        "the upvoted paper itself is not recommended"
    );
    assert_eq!(
        app.other().get("/papers/for-you").await.status().as_u16(),
        303,
        "signed-in users only"
    );

    let user = app
        .store
        .user_by_name("ada")
        .await
        .expect("read")
        .expect("ada");
    let token = app
        .store
        .create_api_token(user.id, "t")
        .await
        .expect("token")
        .secret;
    let r = reqwest::Client::new()
        .get(format!("{}/api/recommendations?limit=2", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 200);
    let items: serde_json::Value = r.json().await.expect("json");
    assert_eq!(items.as_array().expect("list").len(), 2);
    assert_eq!(items[0]["paper"]["id"], "2510.00001");
    assert_eq!(
        app.get("/api/recommendations").await.status().as_u16(),
        401,
        "a token is needed"
    );
}
