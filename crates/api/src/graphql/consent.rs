//! Consent, export and erasure in GraphQL: the same use cases as REST.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, Enum, ID, InputObject, Json, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use rapport_domain::consent::{self as domain, ConsentEvent, ConsentState, Decision, Purpose, RecordInput};
use rapport_domain::contact::Contact;
use rapport_domain::privacy::Erasure;

use super::contacts::{Actor, contact_id, page_size};
use super::{Gql, found, patch, state, uuid};
use crate::dto::consent::ConfirmationDto;
use crate::http::cursor;
use crate::http::etag::Precondition;
use crate::service::{self, consent::Recorded};

/// Declares a GraphQL enum mirroring a domain enum of the same variant names.
macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident => $domain:ty { $($v:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
        pub enum $name { $($v),+ }

        impl From<$domain> for $name {
            fn from(d: $domain) -> Self {
                match d { $(<$domain>::$v => Self::$v),+ }
            }
        }

        impl From<$name> for $domain {
            fn from(g: $name) -> Self {
                match g { $($name::$v => Self::$v),+ }
            }
        }
    };
}

mirror!(
    /// The medium a purpose reaches people through.
    ConsentChannel => domain::Channel { Email, Sms, Phone, Postal, Push, Any }
);
mirror!(
    /// The lawful basis of processing (GDPR art. 6(1)).
    LegalBasis => domain::LegalBasis {
        Consent, Contract, LegalObligation, VitalInterests, PublicTask, LegitimateInterests
    }
);
mirror!(
    /// How a grant was obtained.
    OptInLevel => domain::OptInLevel { Single, Confirmed, Unknown }
);
mirror!(
    /// A recorded decision's status.
    ConsentStatus => domain::Status { Granted, Denied, Withdrawn, PendingConfirmation }
);
mirror!(
    /// The answer for a purpose: a status, `EXPIRED` for a lapsed grant, `NONE` when
    /// nothing was recorded.
    ConsentAnswer => domain::Answer { Granted, Denied, Withdrawn, PendingConfirmation, Expired, None }
);

/// What a caller may record (a grant may become `PENDING_CONFIRMATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ConsentChoice {
    Granted,
    Denied,
    Withdrawn,
}

/// A consent purpose.
pub struct PurposeNode(pub Purpose);

#[Object(name = "ConsentPurpose")]
impl PurposeNode {
    async fn key(&self) -> &str {
        &self.0.key
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    async fn channel(&self) -> ConsentChannel {
        self.0.channel.into()
    }
    async fn double_opt_in(&self) -> bool {
        self.0.double_opt_in
    }
    async fn default_legal_basis(&self) -> LegalBasis {
        self.0.default_legal_basis.into()
    }
    async fn archived(&self) -> bool {
        self.0.is_archived()
    }
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }
    async fn version(&self) -> i64 {
        self.0.version
    }
}

/// What shows the person made the decision.
#[derive(SimpleObject, InputObject, Default, Clone)]
#[graphql(input_name = "ConsentProofInput", name = "ConsentProof")]
pub struct ProofGql {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub policy_version: Option<String>,
    pub text: Option<String>,
    pub form: Option<String>,
    pub page: Option<String>,
}

impl From<ProofGql> for domain::Proof {
    fn from(p: ProofGql) -> Self {
        Self {
            ip: p.ip,
            user_agent: p.user_agent,
            policy_version: p.policy_version,
            text: p.text,
            form: p.form,
            page: p.page,
        }
    }
}

/// One recorded decision.
#[derive(SimpleObject)]
#[graphql(name = "ConsentEvent")]
pub struct EventGql {
    pub id: ID,
    pub contact_id: ID,
    pub purpose: String,
    pub status: ConsentStatus,
    pub legal_basis: LegalBasis,
    pub opt_in_level: OptInLevel,
    pub contact_point: Option<String>,
    pub source: String,
    pub captured_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof: ProofGql,
    pub actor: Actor,
}

impl From<&ConsentEvent> for EventGql {
    fn from(e: &ConsentEvent) -> Self {
        Self {
            id: ID(e.id.to_string()),
            contact_id: ID(e.contact_id.to_string()),
            purpose: e.purpose.clone(),
            status: e.status.into(),
            legal_basis: e.legal_basis.into(),
            opt_in_level: e.opt_in_level.into(),
            contact_point: e.contact_point.clone(),
            source: e.source.clone(),
            captured_at: e.captured_at,
            recorded_at: e.recorded_at,
            expires_at: e.expires_at,
            proof: ProofGql {
                ip: e.proof.ip.clone(),
                user_agent: e.proof.user_agent.clone(),
                policy_version: e.proof.policy_version.clone(),
                text: e.proof.text.clone(),
                form: e.proof.form.clone(),
                page: e.proof.page.clone(),
            },
            actor: Actor {
                kind: e.actor.kind.as_str().to_owned(),
                id: e.actor.id.clone(),
            },
        }
    }
}

/// The effective state of one purpose and contact point.
#[derive(SimpleObject)]
#[graphql(name = "ConsentState")]
pub struct StateGql {
    pub purpose: String,
    /// Null for the purpose-wide state.
    pub contact_point: Option<String>,
    pub status: ConsentAnswer,
    pub allowed: bool,
    pub legal_basis: LegalBasis,
    pub opt_in_level: OptInLevel,
    pub since: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub source: String,
    pub event_id: ID,
}

impl StateGql {
    fn new(s: &ConsentState, now: DateTime<Utc>) -> Self {
        let answer = s.answer(now);
        Self {
            purpose: s.purpose.clone(),
            contact_point: s.contact_point.clone(),
            status: answer.into(),
            allowed: answer == domain::Answer::Granted,
            legal_basis: s.legal_basis.into(),
            opt_in_level: s.opt_in_level.into(),
            since: s.since,
            expires_at: s.expires_at,
            source: s.source.clone(),
            event_id: ID(s.event_id.to_string()),
        }
    }
}

/// May this person be contacted for this purpose now?
#[derive(SimpleObject)]
#[graphql(name = "ConsentDecision")]
pub struct DecisionGql {
    pub purpose: String,
    pub allowed: bool,
    pub status: ConsentAnswer,
    pub since: Option<DateTime<Utc>>,
    pub legal_basis: Option<LegalBasis>,
    pub opt_in_level: Option<OptInLevel>,
    pub contact_point: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&Decision> for DecisionGql {
    fn from(d: &Decision) -> Self {
        Self {
            purpose: d.purpose.clone(),
            allowed: d.allowed,
            status: d.status.into(),
            since: d.since,
            legal_basis: d.legal_basis.map(Into::into),
            opt_in_level: d.opt_in_level.map(Into::into),
            contact_point: d.contact_point.clone(),
            expires_at: d.expires_at,
        }
    }
}

/// A double opt-in token to send to the person.
#[derive(SimpleObject)]
#[graphql(name = "ConsentConfirmation")]
pub struct ConfirmationGql {
    pub purpose: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl From<ConfirmationDto> for ConfirmationGql {
    fn from(c: ConfirmationDto) -> Self {
        Self {
            purpose: c.purpose,
            token: c.token,
            expires_at: c.expires_at,
        }
    }
}

/// The outcome of recording a decision.
#[derive(SimpleObject)]
pub struct ConsentRecorded {
    pub event: EventGql,
    pub effective: StateGql,
    pub confirmation: Option<ConfirmationGql>,
}

impl From<Recorded> for ConsentRecorded {
    fn from(r: Recorded) -> Self {
        Self {
            effective: StateGql::new(&r.effective, r.event.recorded_at),
            event: EventGql::from(&r.event),
            confirmation: r.confirmation.map(Into::into),
        }
    }
}

/// One contact's answer in a bulk check.
#[derive(SimpleObject)]
pub struct ConsentCheckResult {
    pub contact_id: Option<ID>,
    pub email: Option<String>,
    /// Whether the contact exists in the workspace.
    pub found: bool,
    pub allowed: bool,
    pub status: ConsentAnswer,
    pub since: Option<DateTime<Utc>>,
    pub legal_basis: Option<LegalBasis>,
    pub opt_in_level: Option<OptInLevel>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A carried-out erasure.
#[derive(SimpleObject)]
#[graphql(name = "Erasure")]
pub struct ErasureGql {
    pub id: ID,
    pub contact_id: ID,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub erased_at: DateTime<Utc>,
    pub actor: Actor,
}

impl From<&Erasure> for ErasureGql {
    fn from(e: &Erasure) -> Self {
        Self {
            id: ID(e.id.to_string()),
            contact_id: ID(e.contact_id.to_string()),
            reason: e.reason.clone(),
            requested_at: e.requested_at,
            erased_at: e.erased_at,
            actor: Actor {
                kind: e.actor.kind.as_str().to_owned(),
                id: e.actor.id.clone(),
            },
        }
    }
}

/// A decision to record.
#[derive(InputObject, Clone)]
#[graphql(name = "ConsentRecordInput")]
pub struct RecordInputGql {
    pub purpose: String,
    pub status: ConsentChoice,
    /// Defaults to the purpose's.
    pub legal_basis: Option<LegalBasis>,
    /// Defaults to `UNKNOWN`.
    pub opt_in_level: Option<OptInLevel>,
    pub contact_point: Option<String>,
    /// `checkout`, `form`, `import`, `api`, `erp` …
    pub source: String,
    pub captured_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof: Option<ProofGql>,
}

impl From<RecordInputGql> for RecordInput {
    fn from(i: RecordInputGql) -> Self {
        let status = match i.status {
            ConsentChoice::Granted => domain::Status::Granted,
            ConsentChoice::Denied => domain::Status::Denied,
            ConsentChoice::Withdrawn => domain::Status::Withdrawn,
        };
        Self {
            purpose: i.purpose,
            status: status.as_str().to_owned(),
            legal_basis: i.legal_basis.map(|b| domain::LegalBasis::from(b).as_str().to_owned()),
            opt_in_level: i.opt_in_level.map(|l| domain::OptInLevel::from(l).as_str().to_owned()),
            contact_point: i.contact_point,
            source: Some(i.source),
            captured_at: i.captured_at,
            expires_at: i.expires_at,
            proof: i.proof.map(Into::into).unwrap_or_default(),
        }
    }
}

/// A new purpose.
#[derive(InputObject)]
#[graphql(name = "ConsentPurposeInput")]
pub struct NewPurposeGql {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    pub channel: ConsentChannel,
    pub double_opt_in: Option<bool>,
    pub default_legal_basis: Option<LegalBasis>,
}

/// Changes to a purpose; `archived: true` archives it.
#[derive(InputObject)]
#[graphql(name = "ConsentPurposePatch")]
pub struct PurposePatchGql {
    pub name: Option<String>,
    pub description: MaybeUndefined<String>,
    pub channel: Option<ConsentChannel>,
    pub double_opt_in: Option<bool>,
    pub default_legal_basis: Option<LegalBasis>,
    pub archived: Option<bool>,
}

// ---- contact fields (called from the Contact object) ----

/// `Contact.consents`, from the request's loader (a page prefetches all its contacts').
pub(crate) async fn contact_states(ctx: &Context<'_>, c: &Contact) -> async_graphql::Result<Vec<StateGql>> {
    let loader = ctx.data::<super::loaders::ConsentStates>()?;
    let states = loader.load_one(c.id).await?.unwrap_or_default();
    let now = rapport_store::now();
    Ok(states.iter().map(|s| StateGql::new(s, now)).collect())
}

/// `Contact.consent(purpose, contactPoint)`.
pub(crate) async fn contact_decision(
    ctx: &Context<'_>,
    c: &Contact,
    purpose: &str,
    contact_point: Option<&str>,
) -> async_graphql::Result<DecisionGql> {
    let (app, who) = state(ctx)?;
    let d = service::consent::decision(app, who, c.id, purpose, contact_point)
        .await
        .gql()?;
    Ok((&d).into())
}

/// `Contact.consentHistory`.
pub(crate) async fn contact_history(
    ctx: &Context<'_>,
    c: &Contact,
    first: Option<i32>,
    after: Option<String>,
    purpose: Option<String>,
) -> async_graphql::Result<Connection<String, EventGql, EmptyFields, EmptyFields>> {
    let (app, who) = state(ctx)?;
    let limit = page_size(first).gql()?;
    let after = cursor::decode_id(after.as_deref(), "consent").gql()?;
    let page = service::consent::history(app, who, c.id, purpose.as_deref(), after, limit)
        .await
        .gql()?;
    let mut conn = Connection::new(after.is_some(), page.has_more);
    for e in &page.items {
        let cur = cursor::encode_id("consent", e.id.uuid());
        conn.edges.push(Edge::new(cur, EventGql::from(e)));
    }
    Ok(conn)
}

#[derive(Default)]
pub struct ConsentQuery;

#[Object]
impl ConsentQuery {
    /// The workspace's consent purposes, by key.
    async fn consent_purposes(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_archived: bool,
    ) -> async_graphql::Result<Vec<PurposeNode>> {
        let (app, who) = state(ctx)?;
        let ps = service::consent::purposes(app, who, include_archived).await.gql()?;
        Ok(ps.into_iter().map(PurposeNode).collect())
    }

    /// One purpose; null when there is none with this key.
    async fn consent_purpose(&self, ctx: &Context<'_>, key: String) -> async_graphql::Result<Option<PurposeNode>> {
        let (app, who) = state(ctx)?;
        Ok(found(service::consent::purpose(app, who, &key).await)?.map(PurposeNode))
    }

    /// May these contacts (1 to 1000, by id or by email) be contacted for `purpose`
    /// now? Answers in request order.
    async fn consent_check(
        &self,
        ctx: &Context<'_>,
        purpose: String,
        contact_ids: Option<Vec<ID>>,
        emails: Option<Vec<String>>,
    ) -> async_graphql::Result<Vec<ConsentCheckResult>> {
        let (app, who) = state(ctx)?;
        let targets = match (contact_ids, emails) {
            (Some(ids), None) => service::consent::Targets::Ids(
                ids.iter()
                    .map(|i| rapport_domain::ContactId::from_uuid(uuid(i).unwrap_or_else(uuid::Uuid::nil)))
                    .collect(),
            ),
            (None, Some(e)) => service::consent::Targets::Emails(e),
            _ => {
                return Err(crate::error::ApiError::invalid(
                    "",
                    "one_of",
                    "give either contactIds or emails",
                ))
                .gql();
            }
        };
        let results = service::consent::check(app, who, &purpose, targets).await.gql()?;
        Ok(results
            .into_iter()
            .map(|r| {
                let d = DecisionGql::from(&r.decision);
                ConsentCheckResult {
                    contact_id: r.contact_id.map(|c| ID(c.to_string())),
                    email: r.email,
                    found: r.found,
                    allowed: d.allowed,
                    status: d.status,
                    since: d.since,
                    legal_basis: d.legal_basis,
                    opt_in_level: d.opt_in_level,
                    expires_at: d.expires_at,
                }
            })
            .collect())
    }

    /// Everything held about a contact (the `GET /v1/contacts/{id}/export` document).
    async fn contact_export(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Json<serde_json::Value>> {
        let (app, who) = state(ctx)?;
        let id = contact_id(&id).gql()?;
        let doc = service::privacy::export(app, who, id).await.gql()?;
        Ok(Json(service::object(&doc)))
    }
}

#[derive(Default)]
pub struct ConsentMutation;

#[Object]
impl ConsentMutation {
    async fn create_consent_purpose(
        &self,
        ctx: &Context<'_>,
        input: NewPurposeGql,
    ) -> async_graphql::Result<PurposeNode> {
        let (app, who) = state(ctx)?;
        let input = domain::NewPurpose {
            key: input.key,
            name: input.name,
            description: input.description,
            channel: domain::Channel::from(input.channel).as_str().to_owned(),
            double_opt_in: input.double_opt_in,
            default_legal_basis: input
                .default_legal_basis
                .map(|b| domain::LegalBasis::from(b).as_str().to_owned()),
        };
        service::consent::create_purpose(app, who, input)
            .await
            .map(PurposeNode)
            .gql()
    }

    async fn update_consent_purpose(
        &self,
        ctx: &Context<'_>,
        key: String,
        input: PurposePatchGql,
        if_version: Option<i64>,
    ) -> async_graphql::Result<PurposeNode> {
        let (app, who) = state(ctx)?;
        let p = domain::PurposePatch {
            name: input.name,
            description: patch(input.description),
            channel: input.channel.map(|c| domain::Channel::from(c).as_str().to_owned()),
            double_opt_in: input.double_opt_in,
            default_legal_basis: input
                .default_legal_basis
                .map(|b| domain::LegalBasis::from(b).as_str().to_owned()),
            archived: input.archived,
        };
        service::consent::update_purpose(app, who, &key, p, Precondition::from_version(if_version))
            .await
            .map(PurposeNode)
            .gql()
    }

    /// Deletes a purpose no decision was recorded for (else `in_use`: archive it).
    async fn delete_consent_purpose(&self, ctx: &Context<'_>, key: String) -> async_graphql::Result<bool> {
        let (app, who) = state(ctx)?;
        service::consent::delete_purpose(app, who, &key, Precondition::None)
            .await
            .gql()?;
        Ok(true)
    }

    /// Records a decision; a grant of a double opt-in purpose comes back pending with a
    /// confirmation token.
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        input: RecordInputGql,
    ) -> async_graphql::Result<ConsentRecorded> {
        let (app, who) = state(ctx)?;
        let id = super::contacts::contact_id(&contact_id).gql()?;
        let r = service::consent::record(app, who, id, input.into()).await.gql()?;
        Ok(r.into())
    }

    /// Confirms a pending double opt-in grant with the token sent to the person.
    async fn confirm_consent(
        &self,
        ctx: &Context<'_>,
        token: String,
        proof: Option<ProofGql>,
    ) -> async_graphql::Result<ConsentRecorded> {
        let (app, who) = state(ctx)?;
        let r = service::consent::confirm(app, who, &token, proof.map(Into::into).unwrap_or_default())
            .await
            .gql()?;
        Ok(r.into())
    }

    /// A new double opt-in token for a grant still waiting for confirmation.
    async fn reissue_consent_confirmation(
        &self,
        ctx: &Context<'_>,
        contact_id: ID,
        purpose: String,
        contact_point: Option<String>,
    ) -> async_graphql::Result<ConfirmationGql> {
        let (app, who) = state(ctx)?;
        let id = super::contacts::contact_id(&contact_id).gql()?;
        let c = service::consent::reissue(app, who, id, &purpose, contact_point.as_deref())
            .await
            .gql()?;
        Ok(c.into())
    }

    /// Erases a person's data (needs `privacy:erase`); idempotent.
    async fn erase_contact(&self, ctx: &Context<'_>, id: ID, reason: String) -> async_graphql::Result<ErasureGql> {
        let (app, who) = state(ctx)?;
        let id = contact_id(&id).gql()?;
        let e = service::privacy::erase(app, who, id, &reason).await.gql()?;
        Ok((&e).into())
    }
}
