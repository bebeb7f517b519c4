//! Bearer tokens with roles for the `/v1` API. Tokens come from the
//! environment (`VIGIL_API_VIEWER_TOKEN`, `VIGIL_API_RESPONDER_TOKEN`,
//! `VIGIL_API_ADMIN_TOKEN`, or their `…_FILE` variants) and are compared
//! in constant time. A request without a valid token gets 401; a valid
//! token whose role is too low gets 403.

use subtle::ConstantTimeEq;

use crate::secret::{SecretFileError, read_secret};

/// What a caller may do; each role includes the ones below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Reads incidents, the blocklist and silences.
    Viewer,
    /// Also resolves incidents, adds and removes silences, unblocks.
    Responder,
    /// Everything, including adding blocks by hand.
    Admin,
}

impl Role {
    /// The role's name, as recorded in the audit log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Responder => "responder",
            Self::Admin => "admin",
        }
    }
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    tokens: Vec<(Role, Vec<u8>)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<&str> = self.tokens.iter().map(|(r, _)| r.as_str()).collect();
        f.debug_struct("Tokens").field("roles", &roles).finish()
    }
}

impl Tokens {
    /// Tokens from the environment.
    ///
    /// # Errors
    /// A `…_FILE` variable names a file that cannot be read.
    pub fn from_env() -> Result<Self, SecretFileError> {
        let mut tokens = Vec::new();
        for (variable, role) in [
            ("VIGIL_API_VIEWER_TOKEN", Role::Viewer),
            ("VIGIL_API_RESPONDER_TOKEN", Role::Responder),
            ("VIGIL_API_ADMIN_TOKEN", Role::Admin),
        ] {
            if let Some(token) = read_secret(variable)? {
                tokens.push((role, token.into_bytes()));
            }
        }
        Ok(Self { tokens })
    }

    /// Tokens given directly, for tests and embedding.
    #[must_use]
    pub fn new(tokens: Vec<(Role, String)>) -> Self {
        Self {
            tokens: tokens
                .into_iter()
                .map(|(role, token)| (role, token.into_bytes()))
                .collect(),
        }
    }

    /// Whether any token is configured; without one the API refuses every
    /// request.
    #[must_use]
    pub fn any(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The role of the bearer token in an `Authorization` header value.
    /// Every configured token is compared, so the time taken does not tell
    /// which one nearly matched.
    #[must_use]
    pub fn role_of(&self, authorization: Option<&str>) -> Option<Role> {
        let presented = authorization?.strip_prefix("Bearer ")?.trim().as_bytes();
        let mut found = None;
        for (role, token) in &self.tokens {
            if bool::from(token.as_slice().ct_eq(presented)) {
                found = Some(found.map_or(*role, |f: Role| f.max(*role)));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bearer_token_maps_to_its_role() {
        let tokens = Tokens::new(vec![
            (Role::Viewer, "v-token".to_owned()),
            (Role::Admin, "a-token".to_owned()),
        ]);
        assert_eq!(tokens.role_of(Some("Bearer v-token")), Some(Role::Viewer));
        assert_eq!(tokens.role_of(Some("Bearer a-token")), Some(Role::Admin));
        assert_eq!(tokens.role_of(Some("Bearer v-toke")), None);
        assert_eq!(tokens.role_of(Some("v-token")), None);
        assert_eq!(tokens.role_of(None), None);
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin > Role::Responder && Role::Responder > Role::Viewer);
    }
}
