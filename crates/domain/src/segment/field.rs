//! The typed field registry: what a rule may test, and the type of each field.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::attributes::{AttributeSchema, AttributeType};
use crate::consent::{Answer, Channel};
use crate::lifecycle::Stage;
use crate::order::Currency;

use super::duration::IsoDuration;

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

/// A purchase metric, kept per contact from its orders (`metrics.<name>`; amounts per
/// currency: `metrics.total_spent.EUR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Purchases in every currency (0 without any).
    OrderCount,
    FirstOrderAt,
    LastOrderAt,
    /// Net spending in one currency, in minor units (0 without purchases in it).
    TotalSpent(Currency),
    /// Average net order value in one currency (missing without purchases in it).
    AverageOrderValue(Currency),
}

/// What an order aggregate adds up (`orders.count`, `orders.total.<currency>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderMeasure {
    /// Purchases (orders that count as purchases).
    Count,
    /// Their net totals in one currency, in minor units.
    Total(Currency),
}

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
    /// A kept purchase metric (`metrics.…`).
    Metric(Metric),
    /// An aggregate of the contact's purchases placed within `within` of now (all of
    /// them without), as `{"field": "orders.count", "op": "gte", "value": 2,
    /// "within": "P90D"}`.
    Orders {
        measure: OrderMeasure,
        within: Option<IsoDuration>,
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
            Field::Metric(m) => match m {
                Metric::OrderCount => "metrics.order_count".to_owned(),
                Metric::FirstOrderAt => "metrics.first_order_at".to_owned(),
                Metric::LastOrderAt => "metrics.last_order_at".to_owned(),
                Metric::TotalSpent(c) => format!("metrics.total_spent.{c}"),
                Metric::AverageOrderValue(c) => format!("metrics.average_order_value.{c}"),
            },
            Field::Orders { measure, .. } => match measure {
                OrderMeasure::Count => "orders.count".to_owned(),
                OrderMeasure::Total(c) => format!("orders.total.{c}"),
            },
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
            Field::Metric(Metric::FirstOrderAt | Metric::LastOrderAt) => Kind::Timestamp,
            Field::Metric(_) | Field::Orders { .. } => Kind::Number,
        }
    }

    /// Whether the field depends on the clock: a consent grant expires, an order leaves
    /// a window, while nothing is written.
    pub fn is_time_relative(&self) -> bool {
        matches!(self, Field::Consent { .. } | Field::Orders { within: Some(_), .. })
    }

    /// Whether the field is read from the contact's orders or purchase metrics.
    pub fn is_commerce(&self) -> bool {
        matches!(self, Field::Metric(_) | Field::Orders { .. })
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
    /// Currencies the workspace's orders use, listed with the per-currency fields (rules
    /// may name any ISO 4217 currency).
    currencies: Vec<Currency>,
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
            currencies: Vec::new(),
        }
    }

    /// The registry listing per-currency fields for `currencies`.
    #[must_use]
    pub fn with_currencies(mut self, currencies: impl IntoIterator<Item = Currency>) -> Self {
        self.currencies = currencies.into_iter().collect();
        self.currencies.sort();
        self.currencies.dedup();
        self
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
        if let Some(m) = name.strip_prefix("metrics.") {
            let currency = |code: &str| Currency::known(&code.to_ascii_uppercase());
            return Some(Field::Metric(match m {
                "order_count" => Metric::OrderCount,
                "first_order_at" => Metric::FirstOrderAt,
                "last_order_at" => Metric::LastOrderAt,
                _ => {
                    if let Some(c) = m.strip_prefix("total_spent.") {
                        Metric::TotalSpent(currency(c)?)
                    } else {
                        Metric::AverageOrderValue(currency(m.strip_prefix("average_order_value.")?)?)
                    }
                }
            }));
        }
        if let Some(o) = name.strip_prefix("orders.") {
            let measure = match o {
                "count" => OrderMeasure::Count,
                _ => OrderMeasure::Total(Currency::known(&o.strip_prefix("total.")?.to_ascii_uppercase())?),
            };
            return Some(Field::Orders { measure, within: None });
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
        all.extend(
            [Metric::OrderCount, Metric::FirstOrderAt, Metric::LastOrderAt]
                .into_iter()
                .map(Field::Metric),
        );
        all.push(Field::Orders {
            measure: OrderMeasure::Count,
            within: None,
        });
        for c in &self.currencies {
            all.push(Field::Metric(Metric::TotalSpent(*c)));
            all.push(Field::Metric(Metric::AverageOrderValue(*c)));
            all.push(Field::Orders {
                measure: OrderMeasure::Total(*c),
                within: None,
            });
        }
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
