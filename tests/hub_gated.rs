//! Story: "the base model is gated" — without a token the error says what to do; with `HF_TOKEN` it works
//! and the token goes only to the hub. (Own test binary: it sets process environment variables.)
#[path = "support/hub_server.rs"]
mod hub_server;

use ferry::fetch::download::SilentProgress;
use ferry::fetch::hub::Hub;
use ferry::fetch::models::{fetch_models, lock_models};
use ferry::inputs::ModelRequest;
use ferry::types::RepoKind;
use hub_server::{text_model_repo, HubServer};

fn request(repo: &str) -> ModelRequest {
    ModelRequest {
        repo: repo.parse().unwrap(),
        kind: RepoKind::Model,
        revision: None,
        file: None,
        include: vec![],
        exclude: vec![],
        variant: None,
        reason: None,
        origin: "test".into(),
        pick: Default::default(),
    }
}

#[test]
fn gated_repo_needs_hf_token() {
    let server = HubServer::start();
    server.add_model("org/gated", text_model_repo().gated("hf_right"));
    let home = tempfile::tempdir().unwrap();
    std::env::set_var("HF_HOME", home.path());
    std::env::remove_var("HF_TOKEN_PATH");
    std::env::remove_var("HF_TOKEN");
    std::env::set_var("HF_ENDPOINT", &server.url);

    // No token: listing works (as on the hub), the files do not, and the error says what to do.
    let hub = Hub::from_env(None).unwrap();
    assert_eq!(hub.endpoint().as_str(), format!("{}/", server.url));
    assert!(hub.token().is_none());
    let mut locked = lock_models(&[request("org/gated")], &hub).unwrap();
    let work = tempfile::tempdir().unwrap();
    let err = fetch_models(&mut locked, &hub, work.path(), 2, &SilentProgress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("org/gated: gated or private: accept the licence on the hub and set HF_TOKEN"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}/org/gated/resolve/", server.url)),
        "{err}"
    );

    // A token file under HF_HOME is used when HF_TOKEN is unset.
    std::fs::write(home.path().join("token"), "hf_wrong\n").unwrap();
    assert_eq!(Hub::from_env(None).unwrap().token(), Some("hf_wrong"));

    // HF_TOKEN wins and unlocks the files; the storage host never sees it.
    std::env::set_var("HF_TOKEN", "hf_right");
    let hub = Hub::from_env(None).unwrap();
    let members = fetch_models(&mut locked, &hub, work.path(), 2, &SilentProgress).unwrap();
    assert!(!members.is_empty());
    assert!(!server.storage_saw_authorization());
}
