//! Accounts, projects and table policies from the client's side: each change is sent to the
//! three parties under one job id, so they apply it together or not at all.

use crate::{Client, ClientError, job_id, new_token};
use mitsu_api::wire::{
    AccountView, Applied, ChangeJob, Function, NewProject, ProjectView, RotateToken, SetPolicy, TablePolicy,
};

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("wire types serialize")
}

fn change() -> Vec<u8> {
    json(&ChangeJob { job: job_id() })
}

impl Client {
    /// The client with `project` as the project its jobs run in (`None`: the client file's).
    pub fn with_project(mut self, project: Option<String>) -> Client {
        if project.is_some() {
            self.cfg.project = project;
        }
        self
    }

    /// Every account, as party 0 knows it (admin).
    pub fn accounts(&self) -> Result<Vec<AccountView>, ClientError> {
        self.typed(0, "GET", "/v1/accounts", &[])
    }

    /// Revokes an account at all three parties (admin).
    pub fn revoke_account(&self, name: &str) -> Result<Applied, ClientError> {
        self.first(self.typed_all::<Applied>("POST", &format!("/v1/accounts/{name}/revoke"), &change())?)
    }

    /// Replaces an account's token at all three parties; returns its new client file (the old
    /// token stops working when the parties have applied it).
    pub fn rotate_token(&self, name: &str) -> Result<mitsu_api::ClientConfig, ClientError> {
        let (token, hash) = new_token();
        let body = json(&RotateToken { job: job_id(), token_sha256: hash });
        self.typed_all::<Applied>("POST", &format!("/v1/accounts/{name}/rotate"), &body)?;
        let mut cfg = self.cfg.clone();
        if cfg.user != name {
            cfg.project = None;
        }
        cfg.user = name.to_string();
        cfg.token = token;
        Ok(cfg)
    }

    pub fn propose_project(
        &self,
        name: &str,
        purpose: &str,
        analysts: &[String],
        tables: &[String],
        functions: &[Function],
    ) -> Result<Applied, ClientError> {
        let body = json(&NewProject {
            job: job_id(),
            name: name.into(),
            purpose: purpose.into(),
            analysts: analysts.to_vec(),
            tables: tables.to_vec(),
            functions: functions.to_vec(),
        });
        self.first(self.typed_all::<Applied>("POST", "/v1/projects", &body)?)
    }

    /// Approves (or, with `false`, withdraws the approval of) a project for the caller's tables.
    pub fn approve_project(&self, name: &str, approved: bool) -> Result<Applied, ClientError> {
        let verb = if approved { "approve" } else { "withdraw" };
        self.first(self.typed_all::<Applied>("POST", &format!("/v1/projects/{name}/{verb}"), &change())?)
    }

    pub fn close_project(&self, name: &str) -> Result<Applied, ClientError> {
        self.first(self.typed_all::<Applied>("POST", &format!("/v1/projects/{name}/close"), &change())?)
    }

    /// A project as each of the three parties holds it (they agree unless a change is under way).
    pub fn project_at_all(&self, name: &str) -> Result<Vec<ProjectView>, ClientError> {
        self.typed_all::<ProjectView>("GET", &format!("/v1/projects/{name}"), &[])
    }

    pub fn projects(&self) -> Result<Vec<ProjectView>, ClientError> {
        self.typed(0, "GET", "/v1/projects", &[])
    }

    pub fn set_policy(&self, table: &str, policy: TablePolicy) -> Result<Applied, ClientError> {
        let body = json(&SetPolicy { job: job_id(), policy });
        self.first(self.typed_all::<Applied>("PUT", &format!("/v1/tables/{table}/policy"), &body)?)
    }

    /// Removes one of the caller's tables at all three parties.
    pub fn drop_table(&self, table: &str) -> Result<Applied, ClientError> {
        self.first(self.typed_all::<Applied>("DELETE", &format!("/v1/tables/{table}"), &change())?)
    }

    fn first(&self, mut v: Vec<Applied>) -> Result<Applied, ClientError> {
        if v.is_empty() {
            return Err(ClientError::Config("no party answered".into()));
        }
        Ok(v.swap_remove(0))
    }
}
