//! The typed field registry: what a rule may test, and the type of each field.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::attributes::{AttributeSchema, AttributeType};
use crate::consent::{Answer, Channel};
use crate::lifecycle::Stage;

crate::wire_enum!(
    /// Fields stored on the contact itself.
    ContactField {
        Email = "email",
        Phone = "phone",
        FirstName = "first_name",
        LastName = "last_name",
        Locale = "locale",
        Country = "country",
        OwnerId = "owner_id",
        LifecycleStage = "lifecycle_stage",
        HighestStage = "highest_stage",
        LeadScore = "lead_score",
        Tags = "tags",
        CreatedAt = "created_at",
        UpdatedAt = "updated_at",
    }
);

crate::wire_enum!(
    /// Fields of the contact's company, reached as `company.<field>`.
    CompanyField {
        Name = "name",
        Domain = "domain",
        Industry = "industry",
        Size = "size",
    }
);

/// The type of a field, which decides the operators and values it takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Free text, compared ignoring the case of the letters A to Z.
    Text,
    /// One of a known set of values, compared exactly.
    Choice,
    Number,
    Boolean,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant, RFC 3339.
    Timestamp,
    /// A set of tags.
    Tags,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Choice => "choice",
            Kind::Number => "number",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Tags => "tags",
        }
    }
}

/// A field a rule can test, resolved against a workspace's definitions.
#[derive(Clone, Debug, PartialEq)]
pub enum Field {
    Contact(ContactField),
    /// A declared contact attribute (`attributes.<key>`).
    Attribute {
        key: String,
        kind: AttributeType,
    },
    /// A field of the contact's company (`company.<field>`).
    Company(CompanyField),
    /// A declared company attribute (`company.attributes.<key>`).
    CompanyAttribute {
        key: String,
        kind: AttributeType,
    },
    /// The consent answer for a purpose (`consent.<purpose>`), decided as the consent
    /// check decides it: the purpose-wide state and the state of the contact point the
    /// purpose's channel uses, strictest first.
    Consent {
        purpose: String,
        channel: Channel,
    },
}

impl Field {
    /// The field's name in rules.
    pub fn name(&self) -> String {
        match self {
            Field::Contact(f) => f.as_str().to_owned(),
            Field::Attribute { key, .. } => format!("attributes.{key}"),
            Field::Company(f) => format!("company.{}", f.as_str()),
            Field::CompanyAttribute { key, .. } => format!("company.attributes.{key}"),
            Field::Consent { purpose, .. } => format!("consent.{purpose}"),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Field::Contact(f) => match f {
                ContactField::Email
                | ContactField::Phone
                | ContactField::FirstName
                | ContactField::LastName
                | ContactField::Locale
                | ContactField::Country
                | ContactField::OwnerId => Kind::Text,
                ContactField::LifecycleStage | ContactField::HighestStage => Kind::Choice,
                ContactField::LeadScore => Kind::Number,
                ContactField::Tags => Kind::Tags,
                ContactField::CreatedAt | ContactField::UpdatedAt => Kind::Timestamp,
            },
            Field::Attribute { kind, .. } | Field::CompanyAttribute { kind, .. } => attribute_kind(*kind),
            Field::Company(f) => match f {
                CompanyField::Name | CompanyField::Domain | CompanyField::Industry => Kind::Text,
                CompanyField::Size => Kind::Number,
            },
            Field::Consent { .. } => Kind::Choice,
        }
    }

    /// Whether the field depends on the clock: a consent grant expires while nothing is
    /// written.
    pub fn is_time_relative(&self) -> bool {
        matches!(self, Field::Consent { .. })
    }

    /// Whether the field is read from the contact's company.
    pub fn is_company(&self) -> bool {
        matches!(self, Field::Company(_) | Field::CompanyAttribute { .. })
    }
}

fn attribute_kind(t: AttributeType) -> Kind {
    match t {
        AttributeType::String => Kind::Text,
        AttributeType::Number => Kind::Number,
        AttributeType::Boolean => Kind::Boolean,
        AttributeType::Date => Kind::Date,
        AttributeType::Enum => Kind::Choice,
    }
}

/// A field as listed for clients building rule editors.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldInfo {
    pub name: String,
    pub kind: &'static str,
    pub operators: Vec<&'static str>,
    /// The accepted values of a choice field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// The fields of one workspace: built-in fields plus its declared attributes and
/// consent purposes.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    contact: AttributeSchema,
    company: AttributeSchema,
    purposes: BTreeMap<String, Channel>,
}

impl Registry {
    pub fn new(
        contact: AttributeSchema,
        company: AttributeSchema,
        purposes: impl IntoIterator<Item = (String, Channel)>,
    ) -> Self {
        Self {
            contact,
            company,
            purposes: purposes.into_iter().collect(),
        }
    }

    /// The field named `name`, if the workspace has it.
    pub fn resolve(&self, name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix("attributes.") {
            let d = self.contact.get(key)?;
            return Some(Field::Attribute {
                key: d.key.clone(),
                kind: d.kind,
            });
        }
        if let Some(key) = name.strip_prefix("company.attributes.") {
            let d = self.company.get(key)?;
            return Some(Field::CompanyAttribute {
                key: d.key.clone(),
                kind: d.kind,
            });
        }
        if let Some(f) = name.strip_prefix("company.") {
            return CompanyField::parse(f).map(Field::Company);
        }
        if let Some(p) = name.strip_prefix("consent.") {
            let channel = *self.purposes.get(p)?;
            return Some(Field::Consent {
                purpose: p.to_owned(),
                channel,
            });
        }
        ContactField::parse(name).map(Field::Contact)
    }

    /// The values a choice field accepts.
    pub fn options(&self, field: &Field) -> Vec<String> {
        let names = |all: &[&str]| all.iter().map(|s| (*s).to_owned()).collect();
        match field {
            Field::Contact(ContactField::LifecycleStage | ContactField::HighestStage) => {
                names(&Stage::ALL.map(Stage::as_str))
            }
            Field::Consent { .. } => Answer::ALL.iter().map(|a| a.as_str().to_owned()).collect(),
            Field::Attribute { key, .. } => self.contact.get(key).map(|d| d.options.clone()).unwrap_or_default(),
            Field::CompanyAttribute { key, .. } => self.company.get(key).map(|d| d.options.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Every field of the workspace, with its operators.
    pub fn fields(&self) -> Vec<FieldInfo> {
        let mut all: Vec<Field> = ContactField::ALL.iter().map(|f| Field::Contact(*f)).collect();
        all.extend(self.contact.definitions().map(|d| Field::Attribute {
            key: d.key.clone(),
            kind: d.kind,
        }));
        all.extend(CompanyField::ALL.iter().map(|f| Field::Company(*f)));
        all.extend(self.company.definitions().map(|d| Field::CompanyAttribute {
            key: d.key.clone(),
            kind: d.kind,
        }));
        all.extend(self.purposes.iter().map(|(p, c)| Field::Consent {
            purpose: p.clone(),
            channel: *c,
        }));
        all.into_iter()
            .map(|f| FieldInfo {
                name: f.name(),
                kind: f.kind().as_str(),
                operators: super::rule::operators(&f.kind()).iter().map(|o| o.as_str()).collect(),
                options: self.options(&f),
            })
            .collect()
    }
}
