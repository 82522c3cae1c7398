//! Partial updates (JSON merge patch, RFC 7396): a field is left alone, cleared, or set.

use serde::{Deserialize, Deserializer};

/// One field of a partial update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// The field was not mentioned: keep the current value.
    #[default]
    Absent,
    /// The field was `null`: remove the value.
    Clear,
    /// The field was given a value.
    Set(T),
}

impl<T> Patch<T> {
    /// Converts the value, keeping absence and clearing as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(f(v)),
        }
    }

    /// Converts the value with a fallible function; `Ok(None)` from it means "clear".
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<Option<U>, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Patch::Absent => Patch::Absent,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => f(v)?.map_or(Patch::Clear, Patch::Set),
        })
    }

    /// The new value of a field that currently holds `current`.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// The value being set, if any.
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// `Some` sets, `None` clears (for sources that cannot express absence).
    fn from(v: Option<T>) -> Self {
        v.map_or(Patch::Clear, Patch::Set)
    }
}

/// Deserialises `null` as [`Patch::Clear`]; pair with `#[serde(default)]` so a missing
/// field is [`Patch::Absent`].
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(d).map(Patch::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(default)]
        name: Patch<String>,
    }

    #[test]
    fn missing_null_and_value_are_three_different_things() {
        let p: P = serde_json::from_str("{}").unwrap();
        assert_eq!(p.name, Patch::Absent);
        let p: P = serde_json::from_str(r#"{"name": null}"#).unwrap();
        assert_eq!(p.name, Patch::Clear);
        let p: P = serde_json::from_str(r#"{"name": "Ada"}"#).unwrap();
        assert_eq!(p.name, Patch::Set("Ada".into()));
    }

    #[test]
    fn applying_a_patch_keeps_clears_or_sets() {
        assert_eq!(Patch::Absent.apply(Some(1)), Some(1));
        assert_eq!(Patch::<i32>::Clear.apply(Some(1)), None);
        assert_eq!(Patch::Set(2).apply(Some(1)), Some(2));
    }
}
