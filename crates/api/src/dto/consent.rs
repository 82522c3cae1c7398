//! Consent: purposes, ledger events, effective states, decisions, erasure and export.

use chrono::{DateTime, Utc};
use rapport_domain::consent::{ConsentEvent, ConsentState, Decision, Proof, Purpose, RecordInput};
use rapport_domain::privacy::Erasure;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::contacts::ActorDto;
use crate::list_type;

/// A consent purpose: what people are asked to agree to.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PurposeDto {
    /// Stable identifier, e.g. `email_marketing`.
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// `email`, `sms`, `phone`, `postal`, `push` or `any`.
    pub channel: String,
    /// Whether grants wait for the person's confirmation.
    pub double_opt_in: bool,
    /// GDPR art. 6 basis used when an event names none.
    pub default_legal_basis: String,
    pub archived: bool,
    pub archived_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Purpose> for PurposeDto {
    fn from(p: &Purpose) -> Self {
        Self {
            key: p.key.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            channel: p.channel.as_str().to_owned(),
            double_opt_in: p.double_opt_in,
            default_legal_basis: p.default_legal_basis.as_str().to_owned(),
            archived: p.is_archived(),
            archived_at: p.archived_at,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

list_type!(PurposeList, PurposeDto);

/// A new purpose.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPurposeDto {
    /// 1 to 64 characters: a lowercase letter, then lowercase letters, digits or `_`.
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `email`, `sms`, `phone`, `postal`, `push` or `any`.
    pub channel: String,
    #[serde(default)]
    pub double_opt_in: Option<bool>,
    /// Defaults to `consent`.
    #[serde(default)]
    pub default_legal_basis: Option<String>,
}

impl From<NewPurposeDto> for rapport_domain::consent::NewPurpose {
    fn from(d: NewPurposeDto) -> Self {
        Self {
            key: d.key,
            name: d.name,
            description: d.description,
            channel: d.channel,
            double_opt_in: d.double_opt_in,
            default_legal_basis: d.default_legal_basis,
        }
    }
}

/// Changes to a purpose (merge patch); `archived: true` archives it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposePatchDto {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: rapport_domain::patch::Patch<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub double_opt_in: Option<bool>,
    #[serde(default)]
    pub default_legal_basis: Option<String>,
    #[serde(default)]
    pub archived: Option<bool>,
}

impl From<PurposePatchDto> for rapport_domain::consent::PurposePatch {
    fn from(d: PurposePatchDto) -> Self {
        Self {
            name: d.name,
            description: d.description,
            channel: d.channel,
            double_opt_in: d.double_opt_in,
            default_legal_basis: d.default_legal_basis,
            archived: d.archived,
        }
    }
}

/// What shows the person made the decision.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProofDto {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Version of the policy or terms shown.
    #[serde(default)]
    pub policy_version: Option<String>,
    /// The wording the person agreed to.
    #[serde(default)]
    pub text: Option<String>,
    /// The form the decision was made in.
    #[serde(default)]
    pub form: Option<String>,
    /// The page (URL) of the form.
    #[serde(default)]
    pub page: Option<String>,
}

impl From<ProofDto> for Proof {
    fn from(p: ProofDto) -> Self {
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

impl From<&Proof> for ProofDto {
    fn from(p: &Proof) -> Self {
        Self {
            ip: p.ip.clone(),
            user_agent: p.user_agent.clone(),
            policy_version: p.policy_version.clone(),
            text: p.text.clone(),
            form: p.form.clone(),
            page: p.page.clone(),
        }
    }
}

/// A decision to record.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRecordDto {
    /// A purpose key of the workspace.
    pub purpose: String,
    /// `granted`, `denied` or `withdrawn`.
    pub status: String,
    /// GDPR art. 6 basis; defaults to the purpose's.
    #[serde(default)]
    pub legal_basis: Option<String>,
    /// `single`, `confirmed` or `unknown` (default).
    #[serde(default)]
    pub opt_in_level: Option<String>,
    /// The one email address or phone number the decision is about, when narrower than
    /// the contact.
    #[serde(default)]
    pub contact_point: Option<String>,
    /// Where it was captured: `checkout`, `form`, `import`, `api`, `erp` …
    #[serde(default)]
    pub source: Option<String>,
    /// When the person decided (default: now); at most 5 minutes in the future.
    #[serde(default)]
    pub captured_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub proof: Option<ProofDto>,
}

impl From<ConsentRecordDto> for RecordInput {
    fn from(d: ConsentRecordDto) -> Self {
        Self {
            purpose: d.purpose,
            status: d.status,
            legal_basis: d.legal_basis,
            opt_in_level: d.opt_in_level,
            contact_point: d.contact_point,
            source: d.source,
            captured_at: d.captured_at,
            expires_at: d.expires_at,
            proof: d.proof.map(Proof::from).unwrap_or_default(),
        }
    }
}

/// One recorded decision.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConsentEventDto {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub purpose: String,
    /// `granted`, `denied`, `withdrawn` or `pending_confirmation`.
    pub status: String,
    pub legal_basis: String,
    pub opt_in_level: String,
    pub contact_point: Option<String>,
    pub source: String,
    pub captured_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub proof: ProofDto,
    pub actor: ActorDto,
}

impl From<&ConsentEvent> for ConsentEventDto {
    fn from(e: &ConsentEvent) -> Self {
        Self {
            id: e.id.uuid(),
            contact_id: e.contact_id.uuid(),
            purpose: e.purpose.clone(),
            status: e.status.as_str().to_owned(),
            legal_basis: e.legal_basis.as_str().to_owned(),
            opt_in_level: e.opt_in_level.as_str().to_owned(),
            contact_point: e.contact_point.clone(),
            source: e.source.clone(),
            captured_at: e.captured_at,
            recorded_at: e.recorded_at,
            expires_at: e.expires_at,
            proof: (&e.proof).into(),
            actor: (&e.actor).into(),
        }
    }
}

list_type!(ConsentEventList, ConsentEventDto);

/// The effective state of one purpose and contact point.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConsentStateDto {
    pub purpose: String,
    /// `null` for the purpose-wide state.
    pub contact_point: Option<String>,
    /// The deciding event's status, or `expired` for a grant past its expiry.
    pub status: String,
    pub allowed: bool,
    pub legal_basis: String,
    pub opt_in_level: String,
    /// When the deciding event was captured.
    pub since: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub source: String,
    pub event_id: Uuid,
}

impl ConsentStateDto {
    pub fn new(s: &ConsentState, now: DateTime<Utc>) -> Self {
        let answer = s.answer(now);
        Self {
            purpose: s.purpose.clone(),
            contact_point: s.contact_point.clone(),
            status: answer.as_str().to_owned(),
            allowed: answer == rapport_domain::consent::Answer::Granted,
            legal_basis: s.legal_basis.as_str().to_owned(),
            opt_in_level: s.opt_in_level.as_str().to_owned(),
            since: s.since,
            expires_at: s.expires_at,
            source: s.source.clone(),
            event_id: s.event_id.uuid(),
        }
    }
}

/// A contact's effective consent states.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentStateList {
    pub data: Vec<ConsentStateDto>,
}

/// May this person be contacted for this purpose now?
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct DecisionDto {
    pub purpose: String,
    /// The contact point of the deciding record, when it was specific to one.
    pub contact_point: Option<String>,
    #[serde(flatten)]
    pub answer: ConsentSummary,
}

impl From<&Decision> for DecisionDto {
    fn from(d: &Decision) -> Self {
        Self {
            purpose: d.purpose.clone(),
            contact_point: d.contact_point.clone(),
            answer: d.into(),
        }
    }
}

/// The answer for one purpose.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConsentSummary {
    pub allowed: bool,
    /// `granted`, `denied`, `withdrawn`, `pending_confirmation`, `expired` or `none`.
    pub status: String,
    /// When the deciding record was captured.
    pub since: Option<DateTime<Utc>>,
    pub legal_basis: Option<String>,
    pub opt_in_level: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<&Decision> for ConsentSummary {
    fn from(d: &Decision) -> Self {
        Self {
            allowed: d.allowed,
            status: d.status.as_str().to_owned(),
            since: d.since,
            legal_basis: d.legal_basis.map(|b| b.as_str().to_owned()),
            opt_in_level: d.opt_in_level.map(|l| l.as_str().to_owned()),
            expires_at: d.expires_at,
        }
    }
}

/// A double opt-in token to send to the person.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConfirmationDto {
    pub purpose: String,
    /// Single use; pass it to `POST /v1/consent/confirm` when the person confirms.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// The outcome of recording a decision.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ConsentRecorded {
    pub event: ConsentEventDto,
    /// The effective state of the event's purpose and contact point afterwards.
    pub effective: ConsentStateDto,
    /// For a grant waiting for double opt-in: the token to send.
    pub confirmation: Option<ConfirmationDto>,
}

/// Which contacts to check, by id or by email (exactly one list, 1 to 1000 items).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub purpose: String,
    #[serde(default)]
    pub contact_ids: Option<Vec<Uuid>>,
    #[serde(default)]
    pub emails: Option<Vec<String>>,
}

/// One contact's answer in a bulk check.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct CheckResultDto {
    pub contact_id: Option<Uuid>,
    pub email: Option<String>,
    /// Whether the contact exists in the workspace.
    pub found: bool,
    #[serde(flatten)]
    pub answer: ConsentSummary,
}

/// Bulk check answers, in request order.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub purpose: String,
    pub results: Vec<CheckResultDto>,
}

/// A double opt-in confirmation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    pub token: String,
    /// The person's confirming click: ip, user agent, page.
    #[serde(default)]
    pub proof: Option<ProofDto>,
}

/// An erasure request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// Why (e.g. "data subject request #123"); recorded with the erasure. Keep personal
    /// data out of it.
    pub reason: String,
}

/// A carried-out erasure.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ErasureDto {
    pub id: Uuid,
    pub contact_id: Uuid,
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    pub erased_at: DateTime<Utc>,
    pub actor: ActorDto,
}

impl From<&Erasure> for ErasureDto {
    fn from(e: &Erasure) -> Self {
        Self {
            id: e.id.uuid(),
            contact_id: e.contact_id.uuid(),
            reason: e.reason.clone(),
            requested_at: e.requested_at,
            erased_at: e.erased_at,
            actor: (&e.actor).into(),
        }
    }
}

/// Consent in an export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportConsent {
    pub states: Vec<ConsentStateDto>,
    pub events: Vec<ConsentEventDto>,
}

/// Everything held about one person (right of access and portability). The shape is
/// versioned by `format_version`; new sections are added as resources referring to
/// contacts are added.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactExport {
    /// Always `rapport.contact-export`.
    pub format: &'static str,
    pub format_version: u32,
    pub exported_at: DateTime<Utc>,
    pub contact: super::contacts::ContactDto,
    pub company: Option<super::companies::CompanyDto>,
    pub lifecycle: Vec<super::contacts::TransitionDto>,
    pub consent: ExportConsent,
    pub erasure: Option<ErasureDto>,
    /// The person's orders, newest first (kept after an erasure: accounting records).
    pub orders: Vec<super::orders::OrderDto>,
    /// The purchase metrics those orders add up to.
    pub metrics: super::orders::PurchaseMetricsDto,
    /// External ids of contacts merged into this one that it does not hold (it kept
    /// another id for their source) and that still resolve to it.
    pub external_id_aliases: Vec<ExternalIdAlias>,
}

/// An external id that resolves to a contact without being held by it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExternalIdAlias {
    pub source: String,
    pub external_id: String,
}
