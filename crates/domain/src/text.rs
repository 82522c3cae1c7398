//! Small validated text values shared by several records: names, tags, keys, country
//! and locale codes. Each parser trims its input and answers a `FieldError` located at
//! the pointer it was given.

use crate::error::FieldError;

/// Longest free-text name (first name, company name …), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Most tags one contact may carry.
pub const MAX_TAGS: usize = 100;
/// Longest external id value.
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A trimmed single-line text of at most `max` characters; empty means "no value".
pub fn optional_text(raw: &str, pointer: &str, max: usize) -> Result<Option<String>, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > max {
        return Err(FieldError::new(
            pointer,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(t) {
        return Err(FieldError::new(
            pointer,
            "invalid_format",
            "must not contain control characters",
        ));
    }
    Ok(Some(t.to_owned()))
}

/// Like [`optional_text`], but a value is required.
pub fn required_text(raw: &str, pointer: &str, max: usize) -> Result<String, FieldError> {
    optional_text(raw, pointer, max)?.ok_or_else(|| FieldError::new(pointer, "required", "must not be empty"))
}

/// A tag: trimmed, lowercased, 1 to 64 characters, no control characters. Tags are
/// compared case-insensitively, so `VIP` and `vip` are the same tag.
pub fn tag(raw: &str, pointer: &str) -> Result<String, FieldError> {
    let t = required_text(raw, pointer, MAX_TAG_CHARS)?;
    Ok(t.to_lowercase())
}

/// A set of tags: normalised, deduplicated and sorted, at most [`MAX_TAGS`].
pub fn tags<'a>(raw: impl IntoIterator<Item = &'a str>, pointer: &str) -> Result<Vec<String>, Vec<FieldError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        match tag(t, &format!("{pointer}/{i}")) {
            Ok(t) => out.push(t),
            Err(e) => errors.push(e),
        }
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_TAGS {
        errors.push(FieldError::new(pointer, "too_many", format!("at most {MAX_TAGS} tags")));
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// A machine key (attribute key, external id source): lowercase ASCII letter first, then
/// lowercase letters, digits, `_`, `-` or `.`, at most 64 characters.
pub fn key(raw: &str, pointer: &str, allow_dot_dash: bool) -> Result<String, FieldError> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_dot_dash && (c == '-' || c == '.'))
        });
    if ok {
        Ok(raw.to_owned())
    } else {
        let allowed = if allow_dot_dash {
            "lowercase letters, digits, '_', '-' and '.'"
        } else {
            "lowercase letters, digits and '_'"
        };
        Err(FieldError::new(
            pointer,
            "invalid_format",
            format!("must start with a lowercase letter and contain only {allowed} (at most 64)"),
        ))
    }
}

/// ISO 3166-1 alpha-2 codes, officially assigned.
const COUNTRIES: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

/// A country as an ISO 3166-1 alpha-2 code, accepted in any case, kept upper case.
pub fn country(raw: &str, pointer: &str) -> Result<String, FieldError> {
    let c = raw.trim().to_ascii_uppercase();
    if c.len() == 2 && COUNTRIES.split(' ').any(|k| k == c) {
        Ok(c)
    } else {
        Err(FieldError::new(
            pointer,
            "invalid_format",
            "must be an ISO 3166-1 alpha-2 country code, e.g. DE",
        ))
    }
}

/// A locale as a BCP 47 language tag (`en`, `en-GB`, `zh-Hant-TW`), normalised to the
/// conventional case: language lower, script title, region upper.
pub fn locale(raw: &str, pointer: &str) -> Result<String, FieldError> {
    let bad = || FieldError::new(pointer, "invalid_format", "must be a BCP 47 language tag, e.g. en-GB");
    let raw = raw.trim().replace('_', "-");
    let mut parts = raw.split('-');
    let lang = parts.next().ok_or_else(bad)?;
    if !(2..=3).contains(&lang.len()) || !lang.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(bad());
    }
    let mut out = lang.to_ascii_lowercase();
    for p in parts {
        if !(1..=8).contains(&p.len()) || !p.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad());
        }
        out.push('-');
        if p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()) {
            out.push_str(&p.to_ascii_uppercase());
        } else if p.len() == 4 && p.chars().all(|c| c.is_ascii_alphabetic()) {
            let mut cs = p.chars();
            if let Some(first) = cs.next() {
                out.push(first.to_ascii_uppercase());
            }
            out.push_str(&cs.as_str().to_ascii_lowercase());
        } else {
            out.push_str(&p.to_ascii_lowercase());
        }
    }
    if out.len() > 35 {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_text_means_no_value_and_long_text_is_refused() {
        assert_eq!(optional_text("  ", "/x", 5).unwrap(), None);
        assert_eq!(optional_text(" Ada ", "/x", 5).unwrap().as_deref(), Some("Ada"));
        assert_eq!(optional_text("Adaline", "/x", 5).unwrap_err().code, "too_long");
        assert_eq!(optional_text("a\u{0}b", "/x", 5).unwrap_err().code, "invalid_format");
    }

    #[test]
    fn tags_are_lowercased_deduplicated_and_sorted() {
        let t = tags(["VIP", "vip", " newsletter "], "/tags").unwrap();
        assert_eq!(t, vec!["newsletter", "vip"]);
        let errs = tags(["ok", ""], "/tags").unwrap_err();
        assert_eq!(errs[0].pointer, "/tags/1");
    }

    #[test]
    fn country_codes_must_be_assigned_ones() {
        assert_eq!(country("de", "/c").unwrap(), "DE");
        assert!(country("XX", "/c").is_err());
        assert!(country("DEU", "/c").is_err());
    }

    #[test]
    fn locales_are_normalised_to_conventional_case() {
        assert_eq!(locale("en_gb", "/l").unwrap(), "en-GB");
        assert_eq!(locale("ZH-hant-tw", "/l").unwrap(), "zh-Hant-TW");
        assert!(locale("english!", "/l").is_err());
        assert!(locale("", "/l").is_err());
    }

    #[test]
    fn keys_allow_only_the_documented_characters() {
        assert!(key("shopify", "/k", true).is_ok());
        assert!(key("erp.sap-1", "/k", true).is_ok());
        assert!(key("erp.sap", "/k", false).is_err());
        assert!(key("Tier", "/k", false).is_err());
        assert!(key("1tier", "/k", false).is_err());
    }
}
