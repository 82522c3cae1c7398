//! Which methods each route accepts, read from the OpenAPI document (the one list of
//! routes), so a known path with a wrong method answers 405 with `Allow` instead of 404.

use std::sync::OnceLock;

/// Methods in the order `Allow` lists them.
const ORDER: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// One route pattern (`/v1/contacts/{id}`) split into segments, and its methods.
struct Route {
    segments: Vec<String>,
    methods: Vec<&'static str>,
}

fn routes() -> &'static [Route] {
    static ROUTES: OnceLock<Vec<Route>> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let doc = crate::openapi::document();
        let mut routes: Vec<Route> = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let has = [
                    item.get.is_some(),
                    item.post.is_some(),
                    item.put.is_some(),
                    item.patch.is_some(),
                    item.delete.is_some(),
                ];
                let methods = ORDER.into_iter().zip(has).filter_map(|(m, h)| h.then_some(m)).collect();
                Route {
                    segments: split(path).map(str::to_owned).collect(),
                    methods,
                }
            })
            .collect();
        // Served outside the REST document.
        routes.push(Route {
            segments: vec!["graphql".to_owned()],
            methods: vec!["GET", "POST"],
        });
        routes
    })
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

fn matches(pattern: &[String], path: &str) -> bool {
    let mut given = split(path);
    let all = pattern.iter().all(|p| match given.next() {
        Some(g) => (p.starts_with('{') && !g.is_empty()) || p == g,
        None => false,
    });
    all && given.next().is_none()
}

/// The methods `path` accepts (`"GET, PATCH, DELETE"`), or `None` for an unknown path.
pub fn allowed(path: &str) -> Option<String> {
    let mut methods: Vec<&str> = routes()
        .iter()
        .filter(|r| matches(&r.segments, path))
        .flat_map(|r| r.methods.iter().copied())
        .collect();
    if methods.is_empty() {
        return None;
    }
    methods.sort_by_key(|m| ORDER.iter().position(|o| o == m));
    methods.dedup();
    Some(methods.join(", "))
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn known_paths_list_their_methods() {
        assert_eq!(
            allowed("/v1/contacts/0196f0a0-0000-7000-8000-000000000001").as_deref(),
            Some("GET, PATCH, DELETE")
        );
        assert_eq!(allowed("/v1/contacts").as_deref(), Some("GET, POST"));
        assert_eq!(allowed("/v1/auth/token").as_deref(), Some("POST"));
        assert_eq!(allowed("/graphql").as_deref(), Some("GET, POST"));
    }

    #[test]
    fn unknown_paths_have_none() {
        assert_eq!(allowed("/v1/nothing"), None);
        assert_eq!(allowed("/v1/contacts/x/y/z/w"), None);
        assert_eq!(allowed("/v1/contacts//lifecycle"), None);
        assert_eq!(allowed("/"), None);
    }
}
