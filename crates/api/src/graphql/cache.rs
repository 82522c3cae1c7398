//! Parsed GraphQL documents, kept by query text. Integrations send the same few queries
//! over and over with different variables; parsing one costs more than resolving a
//! contact by id, so each text is parsed once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;

/// Longest query text kept; longer ones are parsed every time.
const MAX_QUERY_BYTES: usize = 16 * 1024;

/// A bounded map from query text to its parsed document. When full it starts over, so
/// a client that sends endless distinct queries costs memory bounded by `capacity`.
pub struct ParsedQueries {
    capacity: usize,
    docs: Mutex<HashMap<Arc<str>, Arc<ExecutableDocument>>>,
}

impl ParsedQueries {
    /// A cache for up to `capacity` distinct queries.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            docs: Mutex::new(HashMap::new()),
        }
    }

    /// Sets the parsed document on `request`, from the cache or by parsing it now. A query
    /// that does not parse is left for the schema to report.
    pub fn prepare(&self, request: &mut async_graphql::Request) {
        if request.query.len() > MAX_QUERY_BYTES || self.capacity == 0 {
            return;
        }
        let cached = self
            .docs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(request.query.as_str())
            .cloned();
        let doc = match cached {
            Some(doc) => doc,
            None => {
                let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
                    return;
                };
                let doc = Arc::new(doc);
                let mut docs = self.docs.lock().unwrap_or_else(PoisonError::into_inner);
                if docs.len() >= self.capacity {
                    docs.clear();
                }
                docs.insert(Arc::from(request.query.as_str()), doc.clone());
                doc
            }
        };
        request.set_parsed_query(ExecutableDocument::clone(&doc));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.docs.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str) -> async_graphql::Request {
        async_graphql::Request::new(query)
    }

    #[test]
    fn a_query_is_parsed_once_and_reused() {
        let cache = ParsedQueries::new(4);
        let mut first = request("{ contact(id: \"1\") { id } }");
        cache.prepare(&mut first);
        assert!(first.parsed_query().is_ok());
        let mut again = request("{ contact(id: \"1\") { id } }");
        cache.prepare(&mut again);
        assert_eq!(cache.len(), 1);
        let doc = again.parsed_query().expect("parsed");
        assert_eq!(doc.operations.iter().count(), 1);
    }

    #[test]
    fn broken_queries_are_left_to_the_schema_and_not_kept() {
        let cache = ParsedQueries::new(4);
        let mut broken = request("{ contact(");
        cache.prepare(&mut broken);
        assert_eq!(cache.len(), 0);
        assert!(broken.parsed_query().is_err());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = ParsedQueries::new(3);
        for i in 0..10 {
            cache.prepare(&mut request(&format!("{{ contact(id: \"{i}\") {{ id }} }}")));
            assert!(cache.len() <= 3);
        }
        let mut long = request(&format!("{{ a{} }}", "b".repeat(MAX_QUERY_BYTES)));
        cache.prepare(&mut long);
        assert!(cache.len() <= 3);
    }
}
