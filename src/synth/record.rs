//! The compact generated event and the vocabulary its codes stand for.
//!
//! A large run keeps millions of events in memory until they can be written
//! in timestamp order, so each one is a 24-byte [`Record`] of small codes.
//! The strings behind the codes live in the static tables here or in the
//! owning user's tables, and are looked up only when the event is written.

/// One generated event, waiting to be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    /// Event time, milliseconds since the Unix epoch (UTC).
    pub(super) ts_ms: i64,
    /// Index of the owning user in the generated population.
    pub(super) user: u32,
    /// `tokens_used`; written only for API calls.
    pub(super) tokens: u32,
    /// `response_time_ms`.
    pub(super) latency_ms: u16,
    /// What was called; decides `event_type`, `endpoint` and `auth_event_type`.
    pub(super) call: Call,
    /// HTTP outcome; decides `status_code` and `success`.
    pub(super) status: Status,
    /// Index into the owning user's address table.
    pub(super) ip: u8,
    /// Which of the owning user's keys was used, if any.
    pub(super) key: KeyRef,
    /// The client's `user_agent`.
    pub(super) agent: AgentRef,
    /// The `details` object, if any.
    pub(super) detail: DetailRef,
}

// Memory for a 100,000-user day is budgeted on this size.
const _: () = assert!(size_of::<Record>() == 24);

/// What an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Call {
    /// `POST /v1/chat/completions`.
    Chat,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `GET /v1/models`.
    Models,
    /// `POST /v1/agents/run`.
    AgentsRun,
    /// `/v1/files`.
    Files,
    /// A console login (an `authentication` event).
    Login,
    /// The second factor after a login.
    MfaVerify,
    /// A password reset, after a forgotten password or a locked account.
    PasswordReset,
    /// A new key made in the console (a `key_management` event).
    KeyCreate,
    /// A key's secret rotated.
    KeyRotate,
    /// A key revoked.
    KeyRevoke,
    /// `/v1/admin/users`: account changes by an administrator.
    AdminUsers,
    /// `/v1/admin/keys`: the organisation's keys, listed by an administrator.
    AdminKeys,
    /// `/v1/admin/billing`.
    AdminBilling,
    /// `/v1/admin/audit-log`.
    AdminAuditLog,
}

impl Call {
    /// The API calls a persona's traffic mix chooses from, in mix order.
    pub(super) const API: [Call; 5] = [
        Call::Chat,
        Call::Embeddings,
        Call::Models,
        Call::AgentsRun,
        Call::Files,
    ];

    /// The contract's `event_type`.
    pub(super) fn event_type(self) -> &'static str {
        match self {
            Call::Login | Call::MfaVerify | Call::PasswordReset => "authentication",
            Call::KeyCreate | Call::KeyRotate | Call::KeyRevoke => "key_management",
            Call::AdminUsers | Call::AdminKeys | Call::AdminBilling | Call::AdminAuditLog => {
                "admin"
            }
            Call::Chat | Call::Embeddings | Call::Models | Call::AgentsRun | Call::Files => {
                "api_access"
            }
        }
    }

    /// The API path written as `endpoint`.
    pub(super) fn endpoint(self) -> &'static str {
        match self {
            Call::Chat => "/v1/chat/completions",
            Call::Embeddings => "/v1/embeddings",
            Call::Models => "/v1/models",
            Call::AgentsRun => "/v1/agents/run",
            Call::Files => "/v1/files",
            Call::Login => "/v1/auth/login",
            Call::MfaVerify => "/v1/auth/mfa",
            Call::PasswordReset => "/v1/auth/password-reset",
            Call::KeyCreate => "/v1/keys",
            Call::KeyRotate => "/v1/keys/rotate",
            Call::KeyRevoke => "/v1/keys/revoke",
            Call::AdminUsers => "/v1/admin/users",
            Call::AdminKeys => "/v1/admin/keys",
            Call::AdminBilling => "/v1/admin/billing",
            Call::AdminAuditLog => "/v1/admin/audit-log",
        }
    }

    /// The contract's `auth_event_type`, for authentication and key
    /// management events.
    pub(super) fn auth_event_type(self) -> Option<&'static str> {
        match self {
            Call::Login => Some("login"),
            Call::MfaVerify => Some("mfa_verify"),
            Call::PasswordReset => Some("password_reset"),
            Call::KeyCreate => Some("key_create"),
            Call::KeyRotate => Some("key_rotate"),
            Call::KeyRevoke => Some("key_revoke"),
            _ => None,
        }
    }

    /// Whether this is a metered API call (it carries `tokens_used`).
    pub(super) fn is_api(self) -> bool {
        matches!(
            self,
            Call::Chat | Call::Embeddings | Call::Models | Call::AgentsRun | Call::Files
        )
    }

    /// Whether a successful call of this kind consumes model tokens.
    pub(super) fn uses_tokens(self) -> bool {
        matches!(self, Call::Chat | Call::Embeddings | Call::AgentsRun)
    }
}

/// The HTTP status of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Status {
    /// 200.
    Ok,
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 404.
    NotFound,
    /// 423: a login refused because the account is locked.
    Locked,
    /// 429.
    TooManyRequests,
    /// 500.
    Internal,
    /// 502.
    BadGateway,
    /// 503.
    Unavailable,
}

impl Status {
    /// The numeric `status_code`.
    pub(super) fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::Locked => 423,
            Status::TooManyRequests => 429,
            Status::Internal => 500,
            Status::BadGateway => 502,
            Status::Unavailable => 503,
        }
    }

    /// The contract's `success`: every 2xx.
    pub(super) fn success(self) -> bool {
        self == Status::Ok
    }
}

/// Why a login or a second factor failed, written as
/// `details.failure_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailureReason {
    /// The account exists; the password was wrong.
    InvalidPassword,
    /// No account has the `user_id` that was tried.
    UnknownUser,
    /// The second factor was wrong.
    MfaFailed,
    /// The account is locked; the password was not checked.
    AccountLocked,
}

impl FailureReason {
    const ALL: [FailureReason; 4] = [
        FailureReason::InvalidPassword,
        FailureReason::UnknownUser,
        FailureReason::MfaFailed,
        FailureReason::AccountLocked,
    ];

    fn as_str(self) -> &'static str {
        match self {
            FailureReason::InvalidPassword => "invalid_password",
            FailureReason::UnknownUser => "unknown_user",
            FailureReason::MfaFailed => "mfa_failed",
            FailureReason::AccountLocked => "account_locked",
        }
    }

    /// The status a failure of this kind is answered with.
    pub(super) fn status(self) -> Status {
        match self {
            FailureReason::AccountLocked => Status::Locked,
            _ => Status::Unauthorized,
        }
    }
}

/// What an administrator did, written as `details.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AdminAction {
    /// Changed an account's profile or settings.
    UserUpdate,
    /// Gave an account a role.
    RoleGrant,
    /// Listed the organisation's keys.
    KeyList,
    /// Changed the billing plan or payment details.
    BillingUpdate,
    /// Exported the audit log.
    Export,
}

impl AdminAction {
    /// Every action, with how often administrators take it.
    pub(super) const WEIGHTED: [(AdminAction, u32); 5] = [
        (AdminAction::UserUpdate, 25),
        (AdminAction::RoleGrant, 10),
        (AdminAction::KeyList, 40),
        (AdminAction::BillingUpdate, 15),
        (AdminAction::Export, 10),
    ];

    fn as_str(self) -> &'static str {
        match self {
            AdminAction::UserUpdate => "user_update",
            AdminAction::RoleGrant => "role_grant",
            AdminAction::KeyList => "key_list",
            AdminAction::BillingUpdate => "billing_update",
            AdminAction::Export => "export",
        }
    }

    /// The admin endpoint the action is taken on.
    pub(super) fn call(self) -> Call {
        match self {
            AdminAction::UserUpdate | AdminAction::RoleGrant => Call::AdminUsers,
            AdminAction::KeyList => Call::AdminKeys,
            AdminAction::BillingUpdate => Call::AdminBilling,
            AdminAction::Export => Call::AdminAuditLog,
        }
    }
}

/// Which of the user's keys an event used, and whether `key_type` is written.
///
/// Half of the events leave `key_type` out so consumers exercise deriving it
/// from the key prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyRef(u8);

impl KeyRef {
    /// No key: console logins and admin calls.
    pub(super) const NONE: KeyRef = KeyRef(u8::MAX);
    const HIDE_TYPE: u8 = 0x40;

    /// The key in `slot` of the user's key table (see `UserState::key`).
    pub(super) fn new(slot: usize, show_type: bool) -> KeyRef {
        debug_assert!(slot < usize::from(Self::HIDE_TYPE));
        let slot = u8::try_from(slot).unwrap_or(0);
        KeyRef(if show_type {
            slot
        } else {
            slot | Self::HIDE_TYPE
        })
    }

    /// The slot in the user's key table, or `None` for [`KeyRef::NONE`].
    pub(super) fn slot(self) -> Option<usize> {
        (self != Self::NONE).then_some(usize::from(self.0 & !Self::HIDE_TYPE))
    }

    /// Whether `key_type` is written next to `api_key_id`.
    pub(super) fn shows_type(self) -> bool {
        self.0 & Self::HIDE_TYPE == 0
    }
}

/// The client that made an event: a shared table entry or one of the user's
/// own strings (a user agent carrying a leaked secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AgentRef(u8);

impl AgentRef {
    const EXTRA: u8 = 0x80;

    /// Entry `index` of [`USER_AGENTS`].
    pub(super) fn shared(index: usize) -> AgentRef {
        debug_assert!(index < USER_AGENTS.len());
        AgentRef(u8::try_from(index).unwrap_or(0))
    }

    /// Entry `index` of the owning user's extra strings.
    pub(super) fn extra(index: usize) -> AgentRef {
        AgentRef(Self::EXTRA | u8::try_from(index).unwrap_or(0))
    }

    /// Where the string lives.
    pub(super) fn source(self) -> TextSource {
        if self.0 & Self::EXTRA == 0 {
            TextSource::Shared(usize::from(self.0))
        } else {
            TextSource::Extra(usize::from(self.0 & !Self::EXTRA))
        }
    }
}

/// The `details` object of an event, if any: a shared rendering or one of the
/// user's own (a prompt or header carrying a leaked secret).
///
/// Shared codes, in order: none, every model and region, key rotation
/// reasons, failure reasons, the mistyped-user failure, admin actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DetailRef(u8);

// Shared codes must stay below the flag that marks the user's own strings.
const _: () = assert!(DetailRef::TABLE_LEN <= DetailRef::EXTRA as usize);

impl DetailRef {
    /// No `details` field.
    pub(super) const NONE: DetailRef = DetailRef(0);
    const EXTRA: u8 = 0x80;
    const NO_REGION: usize = REGIONS.len();
    const REASONS_AT: usize = 1 + MODELS.len() * (REGIONS.len() + 1);
    const FAILURES_AT: usize = Self::REASONS_AT + ROTATE_REASONS.len();
    const MISTYPED_AT: usize = Self::FAILURES_AT + FailureReason::ALL.len();
    const ACTIONS_AT: usize = Self::MISTYPED_AT + 1;
    const TABLE_LEN: usize = Self::ACTIONS_AT + AdminAction::WEIGHTED.len();

    fn shared(code: usize) -> DetailRef {
        debug_assert!(code < Self::TABLE_LEN);
        DetailRef(u8::try_from(code).unwrap_or(0))
    }

    /// `{"model":…}` with an optional `"region":…`.
    pub(super) fn model(model: usize, region: Option<usize>) -> DetailRef {
        Self::shared(1 + model * (REGIONS.len() + 1) + region.unwrap_or(Self::NO_REGION))
    }

    /// `{"reason":…}` of a key rotation.
    pub(super) fn rotate_reason(reason: usize) -> DetailRef {
        Self::shared(Self::REASONS_AT + reason)
    }

    /// `{"failure_reason":…}` of a failed login or second factor.
    pub(super) fn failure(reason: FailureReason) -> DetailRef {
        let index = FailureReason::ALL
            .iter()
            .position(|&r| r == reason)
            .unwrap_or(0);
        Self::shared(Self::FAILURES_AT + index)
    }

    /// A login under a mistyped `user_id`: written like an `unknown_user`
    /// failure, and the writer drops the last digit of the owner's id, so
    /// the id tried belongs to no account while the event keeps the owner's
    /// address and client.
    pub(super) fn mistyped_user() -> DetailRef {
        Self::shared(Self::MISTYPED_AT)
    }

    /// Whether `user_id` is written mistyped (see [`DetailRef::mistyped_user`]).
    pub(super) fn is_mistyped_user(self) -> bool {
        usize::from(self.0) == Self::MISTYPED_AT
    }

    /// `{"action":…}` of an admin call.
    pub(super) fn admin(action: AdminAction) -> DetailRef {
        let index = AdminAction::WEIGHTED
            .iter()
            .position(|&(a, _)| a == action)
            .unwrap_or(0);
        Self::shared(Self::ACTIONS_AT + index)
    }

    /// Entry `index` of the owning user's extra strings, a JSON object.
    pub(super) fn extra(index: usize) -> DetailRef {
        DetailRef(Self::EXTRA | u8::try_from(index).unwrap_or(0))
    }

    /// Where the JSON text lives; `None` when the event has no details.
    pub(super) fn source(self) -> Option<TextSource> {
        if self == Self::NONE {
            None
        } else if self.0 & Self::EXTRA == 0 {
            Some(TextSource::Shared(usize::from(self.0)))
        } else {
            Some(TextSource::Extra(usize::from(self.0 & !Self::EXTRA)))
        }
    }

    /// The JSON text of every shared code, indexed by code (`None` for
    /// unused codes). Built once per run.
    pub(super) fn shared_table() -> Vec<Option<String>> {
        let mut table = vec![None; Self::TABLE_LEN];
        for (m, model) in MODELS.iter().enumerate() {
            for region in (0..REGIONS.len()).map(Some).chain([None]) {
                let text = match region {
                    Some(r) => format!(r#"{{"model":"{model}","region":"{}"}}"#, REGIONS[r]),
                    None => format!(r#"{{"model":"{model}"}}"#),
                };
                table[usize::from(Self::model(m, region).0)] = Some(text);
            }
        }
        for (i, reason) in ROTATE_REASONS.iter().enumerate() {
            table[usize::from(Self::rotate_reason(i).0)] =
                Some(format!(r#"{{"reason":"{reason}"}}"#));
        }
        let failure =
            |reason: FailureReason| Some(format!(r#"{{"failure_reason":"{}"}}"#, reason.as_str()));
        for reason in FailureReason::ALL {
            table[usize::from(Self::failure(reason).0)] = failure(reason);
        }
        table[Self::MISTYPED_AT] = failure(FailureReason::UnknownUser);
        for (action, _) in AdminAction::WEIGHTED {
            table[usize::from(Self::admin(action).0)] =
                Some(format!(r#"{{"action":"{}"}}"#, action.as_str()));
        }
        table
    }
}

/// Where the text behind a code is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextSource {
    /// A table shared by all users.
    Shared(usize),
    /// The owning user's extra strings.
    Extra(usize),
}

/// Client libraries of benign API traffic.
pub(super) const SDK_AGENTS: std::ops::Range<usize> = 0..8;
/// Browsers used for console logins and key management.
pub(super) const BROWSER_AGENTS: std::ops::Range<usize> = 8..11;
/// Clients only attackers use, so a stolen key's client differs from the victim's.
pub(super) const ATTACKER_AGENTS: std::ops::Range<usize> = 11..13;
/// Login-guessing tools and the bare HTTP libraries scripts drive them with;
/// no benign persona uses them.
pub(super) const GUESSING_AGENTS: std::ops::Range<usize> = 13..16;

/// Every shared user agent; none needs JSON escaping.
pub(super) const USER_AGENTS: [&str; 16] = [
    "OpenAI/Python 1.54.3",
    "OpenAI/NodeJS 4.71.0",
    "langchain-python/0.3.7",
    "llama-index/0.11.20",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.7.7",
    "reqwest/0.12.9",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 \
     (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
     (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "python-httpx/0.27.2",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/4.0 (Hydra)",
    "Go-http-client/1.1",
];

/// Models named in `details.model`; the last one serves embeddings.
pub(super) const MODELS: [&str; 6] = [
    "gpt-x",
    "gpt-x-mini",
    "claude-y",
    "llama-3-70b",
    "mistral-large",
    "embed-v3",
];

/// The model index used for embedding calls.
pub(super) const EMBEDDING_MODEL: usize = MODELS.len() - 1;

/// Gateway regions named in `details.region`.
pub(super) const REGIONS: [&str; 5] = ["eu-west", "us-east", "us-west", "ap-south", "ap-northeast"];

/// Why a key was rotated, in `details.reason`.
pub(super) const ROTATE_REASONS: [&str; 2] = ["scheduled", "manual"];
