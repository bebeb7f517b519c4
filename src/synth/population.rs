//! User personas: who each synthetic user is, when they work, where they
//! connect from and which keys they hold.
//!
//! A persona derives from the seed and the user's index alone, so a user's
//! traffic does not change when more users are generated. Public ids (user
//! ids, key ids) are keyed permutations of the index, so they never collide.
//! Home addresses sit in public-looking ranges, each in its own /24, and
//! change the way real ones do: a new host in a known /24 about once a month,
//! a brand-new network almost never. No two users share a home network on
//! purpose, so one address never carries the failed logins of many accounts.
//!
//! Besides the users who exist, a run with attacks holds unregistered
//! "users": ids an attacker tries that belong to no account. They have no
//! traffic of their own, only the attack attempts made in their name.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use super::attacks::AttackPlan;
use super::campaigns::Attempt;
use super::record::{AgentRef, BROWSER_AGENTS, Call, EMBEDDING_MODEL, REGIONS, SDK_AGENTS};
use super::traffic::{TOKEN_SIGMA, UsageHistory};

/// UTC offsets (minutes) of the personas' time zones, with relative weights.
const OFFSETS: [(i16, u32); 9] = [
    (-480, 14),
    (-300, 20),
    (0, 10),
    (60, 16),
    (120, 8),
    (330, 10),
    (480, 10),
    (540, 6),
    (600, 6),
];

/// The largest offset east of UTC in [`OFFSETS`], in milliseconds.
pub(super) const MAX_EAST_OFFSET_MS: i64 = 600 * 60_000;
/// The largest offset west of UTC in [`OFFSETS`], in milliseconds.
pub(super) const MAX_WEST_OFFSET_MS: i64 = 480 * 60_000;

const NIGHT_SHIFT_SHARE: f64 = 0.10;
const NO_WEEKEND_SHARE: f64 = 0.25;
const IPV6_SHARE: f64 = 0.06;
const DEVELOPER_KEY_SHARE: f64 = 0.5;
const SECOND_AGENT_KEY_SHARE: f64 = 0.4;
/// Users who confirm every login with a second factor.
const MFA_SHARE: f64 = 0.45;
/// Administrators among day-shift users: about 5% of all users, since a
/// tenth of users work nights and administer nothing.
const ADMIN_SHARE_OF_DAY_SHIFT: f64 = 0.055;
/// Keys a user may create during a run: their ids use spare bits of the key
/// numbering, and key slots are indexed by six bits.
const MAX_CREATED_KEYS: usize = 60;

/// Median weekday request count of the population and its spread.
const WEEKDAY_REQUESTS_MEDIAN: f64 = 60.0;
const WEEKDAY_REQUESTS_SIGMA: f64 = 0.75;
const WEEKDAY_REQUESTS_RANGE: (f64, f64) = (20.0, 400.0);
/// Range of a persona's median tokens per call (log-uniform).
const TOKEN_MEDIAN_RANGE: (f64, f64) = (350.0, 1_500.0);

/// A new address inside a known /24 (DHCP churn), per user-day.
const CHURN_RATE: f64 = 1.0 / 30.0;
/// A brand-new home network, per user-day.
const NEW_NETWORK_RATE: f64 = 1.0 / 5_000.0;

/// First octets of benign home networks: public unicast ranges, none
/// private, reserved or shared with the attackers' ranges.
const HOME_FIRST_OCTETS: [u8; 20] = [
    24, 31, 37, 46, 62, 68, 73, 77, 81, 86, 92, 98, 108, 109, 142, 151, 174, 176, 188, 212,
];
/// First hextets of IPv6 home prefixes (large ISPs' global unicast space).
const HOME_V6_FIRST_HEXTETS: [u16; 5] = [0x2a02, 0x2a01, 0x2600, 0x2803, 0x2409];
/// How often each home slot is chosen for a session, first slot first.
const HOME_WEIGHTS: [u32; MAX_HOMES] = [70, 20, 10];
const MAX_HOMES: usize = 3;
/// Address tables are indexed by `u8`; a full table stops further churn.
const MAX_ADDRESSES: usize = 200;

const PERSONA_STREAM: u64 = 0;
const ATTACK_STREAM: u64 = u64::MAX;
/// Traits added after the first personas were calibrated draw from a stream
/// of their own, so they leave every earlier draw as it was.
const HABITS_STREAM: u64 = u64::MAX - 1;
/// Console activity of day `d` (logins, second factors, key changes, admin
/// calls) draws from stream `ACCOUNT_STREAMS + d`, apart from API traffic.
const ACCOUNT_STREAMS: u64 = 1 << 32;
const USER_ID_BITS: u32 = 24;
const KEY_ID_BITS: u32 = 32;

/// Which endpoints a persona calls, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mix {
    /// Mostly chat completions.
    Chat,
    /// Retrieval-augmented: many embeddings, file uploads.
    Retrieval,
    /// Agent runs dominate.
    Agentic,
}

impl Mix {
    /// Relative weight of each entry of [`Call::API`].
    fn weights(self) -> [u32; 5] {
        match self {
            Mix::Chat => [65, 12, 5, 12, 6],
            Mix::Retrieval => [35, 45, 5, 5, 10],
            Mix::Agentic => [30, 10, 5, 50, 5],
        }
    }

    /// Draws the endpoint of one call.
    pub(super) fn pick(self, rng: &mut ChaCha8Rng) -> Call {
        Call::API[weighted_index(rng, &self.weights())]
    }

    /// Share of calls that consume tokens.
    fn token_share(self) -> f64 {
        let weights = self.weights();
        let used: u32 = Call::API
            .iter()
            .zip(weights)
            .filter(|(call, _)| call.uses_tokens())
            .map(|(_, w)| w)
            .sum();
        f64::from(used) / f64::from(weights.iter().sum::<u32>())
    }
}

/// Who a user is: working hours, volume and habits. Fixed for the whole run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Persona {
    /// Local time minus UTC, in minutes.
    pub(super) offset_min: i16,
    /// Local start of the working shift, minutes after midnight.
    pub(super) shift_start_min: u16,
    /// Length of the shift; a night shift runs past local midnight.
    pub(super) shift_len_min: u16,
    /// Works nights (every shift covers 01:00–06:00 local).
    pub(super) night_shift: bool,
    /// Weekend volume as a share of a weekday's; zero for users who rest.
    pub(super) weekend_share: f64,
    /// Median number of API calls on a weekday.
    pub(super) weekday_requests: f64,
    /// Median tokens of one call.
    pub(super) token_median: f64,
    /// Share of tasks run with the developer key (zero without one).
    pub(super) developer_share: f64,
    /// Endpoint mix.
    pub(super) mix: Mix,
    /// Client libraries: the first for agent keys, the second for the
    /// second agent key and the developer key.
    pub(super) sdk: [AgentRef; 2],
    /// Browser used for console logins and key management.
    pub(super) browser: AgentRef,
    /// Preferred chat model, an index into the model table.
    pub(super) model: usize,
    /// Preferred gateway region, an index into the region table.
    pub(super) region: usize,
    /// Confirms every login with a second factor (`mfa_verify`).
    pub(super) mfa: bool,
    /// Makes admin calls on weekdays, in local business hours.
    pub(super) admin: bool,
}

impl Persona {
    /// Expected tokens of a typical weekday: the yardstick attack sizes are
    /// multiples of.
    pub(super) fn typical_weekday_tokens(&self) -> f64 {
        let mean_tokens = self.token_median * (TOKEN_SIGMA * TOKEN_SIGMA / 2.0).exp();
        self.weekday_requests * mean_tokens * self.mix.token_share()
    }
}

/// One of a user's API keys, by its public number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ApiKey {
    /// The 32-bit number written as 8 hex digits after the prefix.
    pub(super) number: u32,
    /// A developer key (`dk_`) rather than an agent key (`ak_`).
    pub(super) developer: bool,
}

impl ApiKey {
    /// Prefix of the public id.
    pub(super) fn prefix(self) -> &'static str {
        if self.developer { "dk_" } else { "ak_" }
    }

    /// The contract's `key_type`.
    pub(super) fn key_type(self) -> &'static str {
        if self.developer { "developer" } else { "agent" }
    }

    /// The public id, as written in `api_key_id`.
    pub(super) fn id(self) -> String {
        format!("{}{:08x}", self.prefix(), self.number)
    }
}

/// An address a user's events have used, or will use.
#[derive(Debug, Clone, Copy)]
struct Address {
    ip: IpAddr,
    used: bool,
}

/// Everything kept about one user across the run.
#[derive(Debug, Clone)]
pub(super) struct UserState {
    /// Position in the population; the RNG streams derive from it.
    pub(super) index: u32,
    /// An account that exists; `false` for an id only an attacker tries.
    pub(super) registered: bool,
    /// 24-bit number written as `usr_` and 6 hex digits.
    pub(super) public_id: u32,
    /// Habits, fixed for the run.
    pub(super) persona: Persona,
    keys: [ApiKey; 3],
    agent_keys: u8,
    developer_key: bool,
    /// Keys created in the console during the run, oldest first; slot
    /// `FIXED_KEY_SLOTS + i` refers to entry `i`.
    created: Vec<ApiKey>,
    /// Bit `i` set: created key `i` is revoked.
    revoked: u64,
    /// Every address this user's events use, indexed by `Record::ip`.
    addresses: Vec<Address>,
    /// Current address of each home network, as indices into `addresses`.
    homes: [u8; MAX_HOMES],
    home_count: u8,
    /// Sessions started so far; the first ones visit every home once, so a
    /// user's usual networks all appear in their first days.
    sessions: u32,
    /// User-specific strings referenced by records (leaked-secret carriers).
    pub(super) extras: Vec<Box<str>>,
    /// Daily usage so far, by UTC day.
    pub(super) usage: UsageHistory,
    /// Daily usage so far, by local calendar day.
    pub(super) local_usage: UsageHistory,
    /// The attack this user suffers, if any.
    pub(super) attack: Option<AttackPlan>,
    /// Login attempts other people make in this user's name (credential
    /// stuffing, password spraying), sorted by time, not yet generated.
    pub(super) incoming: Vec<Attempt>,
}

/// Key slots before the first created key: the fixed keys' table.
const FIXED_KEY_SLOTS: usize = 3;

impl UserState {
    /// Draws the persona, keys and home addresses of user `index`.
    pub(super) fn new(seed: u64, index: u32) -> UserState {
        let mut rng = user_rng(seed, index, PERSONA_STREAM);
        let mut persona = draw_persona(&mut rng);
        let mut habits = user_rng(seed, index, HABITS_STREAM);
        persona.mfa = habits.gen_bool(MFA_SHARE);
        persona.admin = !persona.night_shift && habits.gen_bool(ADMIN_SHARE_OF_DAY_SHIFT);
        let agent_keys = if rng.gen_bool(SECOND_AGENT_KEY_SHARE) {
            2
        } else {
            1
        };
        let developer_key = rng.gen_bool(DEVELOPER_KEY_SHARE);
        let key_number = |slot: u64| key_number(seed, (u64::from(index) << 2) | slot);
        let keys = [
            ApiKey {
                number: key_number(0),
                developer: false,
            },
            ApiKey {
                number: key_number(1),
                developer: agent_keys == 1,
            },
            ApiKey {
                number: key_number(2),
                developer: true,
            },
        ];
        let mut user = UserState {
            index,
            registered: true,
            public_id: u32::try_from(permute(u64::from(index), USER_ID_BITS, seed)).unwrap_or(0),
            persona: Persona {
                developer_share: if developer_key {
                    persona.developer_share
                } else {
                    0.0
                },
                ..persona
            },
            keys,
            agent_keys,
            developer_key,
            created: Vec::new(),
            revoked: 0,
            addresses: Vec::with_capacity(4),
            homes: [0; MAX_HOMES],
            home_count: 0,
            sessions: 0,
            extras: Vec::new(),
            usage: UsageHistory::default(),
            local_usage: UsageHistory::default(),
            attack: None,
            incoming: Vec::new(),
        };
        user.draw_homes(&mut rng);
        user
    }

    /// An id no account has, at position `index` past the population: the
    /// id permutation is a bijection, so it differs from every real user's.
    pub(super) fn unregistered(seed: u64, index: u32) -> UserState {
        UserState {
            registered: false,
            ..UserState::new(seed, index)
        }
    }

    /// The random stream of one local day.
    pub(super) fn day_rng(&self, seed: u64, day: u32) -> ChaCha8Rng {
        user_rng(seed, self.index, u64::from(day) + 1)
    }

    /// The random stream of the console activity of one local day.
    pub(super) fn account_rng(&self, seed: u64, day: u32) -> ChaCha8Rng {
        user_rng(seed, self.index, ACCOUNT_STREAMS + u64::from(day))
    }

    /// The random stream of this user's attack, apart from the benign days.
    pub(super) fn attack_rng(&self, seed: u64) -> ChaCha8Rng {
        user_rng(seed, self.index, ATTACK_STREAM)
    }

    /// The `user_id` of every event of this user.
    pub(super) fn user_id(&self) -> String {
        format!("usr_{:06x}", self.public_id)
    }

    /// The user's keys: agent keys first, then the developer key if any.
    pub(super) fn keys(&self) -> &[ApiKey] {
        &self.keys[..usize::from(self.agent_keys) + usize::from(self.developer_key)]
    }

    /// Number of agent keys (1 or 2); they occupy the first slots.
    pub(super) fn agent_key_count(&self) -> usize {
        usize::from(self.agent_keys)
    }

    /// Slot of the developer key, if the user has one.
    pub(super) fn developer_slot(&self) -> Option<usize> {
        self.developer_key.then_some(usize::from(self.agent_keys))
    }

    /// The key in `slot`: one of [`UserState::keys`], or a created key.
    pub(super) fn key(&self, slot: usize) -> ApiKey {
        match slot.checked_sub(FIXED_KEY_SLOTS) {
            Some(i) => self.created[i],
            None => self.keys()[slot],
        }
    }

    /// Creates a key with an id no other key has and returns its slot, or
    /// `None` once the user has created as many as slots allow.
    pub(super) fn create_key(&mut self, seed: u64, developer: bool) -> Option<usize> {
        let n = self.created.len();
        if n >= MAX_CREATED_KEYS {
            return None;
        }
        // Fixed keys number `index << 2 | slot` with slot 0..=2, below 2^26;
        // the bits above tell the created keys apart.
        let input = (u64::try_from(n + 1).unwrap_or(0) << 26) | (u64::from(self.index) << 2) | 3;
        self.created.push(ApiKey {
            number: key_number(seed, input),
            developer,
        });
        Some(FIXED_KEY_SLOTS + n)
    }

    /// The slot of the oldest created key not yet revoked.
    pub(super) fn oldest_live_created(&self) -> Option<usize> {
        (0..self.created.len())
            .find(|&i| self.revoked & (1 << i) == 0)
            .map(|i| FIXED_KEY_SLOTS + i)
    }

    /// Marks the created key in `slot` revoked.
    pub(super) fn revoke_created(&mut self, slot: usize) {
        if let Some(i) = slot.checked_sub(FIXED_KEY_SLOTS) {
            self.revoked |= 1 << i;
        }
    }

    /// The address with table index `index`.
    pub(super) fn address(&self, index: u8) -> IpAddr {
        self.addresses[usize::from(index)].ip
    }

    /// Picks the home a session connects from, and remembers it as used.
    pub(super) fn session_address(&mut self, rng: &mut ChaCha8Rng) -> u8 {
        let count = usize::from(self.home_count);
        let first_visit = usize::try_from(self.sessions).ok().filter(|&n| n < count);
        self.sessions = self.sessions.saturating_add(1);
        let slot = first_visit.unwrap_or_else(|| weighted_index(rng, &HOME_WEIGHTS[..count]));
        let index = self.homes[slot];
        self.addresses[usize::from(index)].used = true;
        index
    }

    /// An address earlier events already used, preferring the main home:
    /// where an attack from a "known" address comes from.
    pub(super) fn established_address(&self) -> u8 {
        let homes = &self.homes[..usize::from(self.home_count)];
        homes
            .iter()
            .copied()
            .find(|&i| self.addresses[usize::from(i)].used)
            .or_else(|| {
                let used = self.addresses.iter().position(|a| a.used)?;
                u8::try_from(used).ok()
            })
            .unwrap_or(self.homes[0])
    }

    /// Adds an address the user's events may use (an attacker's) and returns
    /// its index.
    pub(super) fn add_address(&mut self, ip: IpAddr) -> u8 {
        self.addresses.push(Address { ip, used: true });
        u8::try_from(self.addresses.len() - 1).unwrap_or(u8::MAX)
    }

    /// The index of `ip` in the address table, added if new; `None` when the
    /// table is full (it never is in practice: homes stop moving at
    /// [`MAX_ADDRESSES`], leaving room for dozens of attackers).
    pub(super) fn attacker_slot(&mut self, ip: IpAddr) -> Option<u8> {
        if let Some(i) = self.addresses.iter().position(|a| a.ip == ip) {
            return u8::try_from(i).ok();
        }
        if self.addresses.len() > usize::from(u8::MAX) {
            return None;
        }
        Some(self.add_address(ip))
    }

    /// Whether any address of this user shares `ip`'s first two octets.
    pub(super) fn knows_v4_slash16(&self, ip: Ipv4Addr) -> bool {
        self.addresses.iter().any(|a| match a.ip {
            IpAddr::V4(v4) => v4.octets()[..2] == ip.octets()[..2],
            IpAddr::V6(_) => false,
        })
    }

    /// Adds a user-specific string and returns its index.
    pub(super) fn add_extra(&mut self, text: String) -> usize {
        self.extras.push(text.into_boxed_str());
        self.extras.len() - 1
    }

    /// Moves homes the way real addresses move, at the start of a day: now
    /// and then a new host inside a known /24 (or /64), very rarely a new
    /// network.
    pub(super) fn evolve_addresses(&mut self, rng: &mut ChaCha8Rng) {
        if self.addresses.len() >= MAX_ADDRESSES {
            return;
        }
        if rng.gen_bool(CHURN_RATE) {
            let slot = rng.gen_range(0..usize::from(self.home_count));
            let current = self.address(self.homes[slot]);
            let next = self.neighbour(current, rng);
            self.homes[slot] = self.push_home(next);
        }
        if rng.gen_bool(NEW_NETWORK_RATE) {
            let ip = IpAddr::V4(self.fresh_v4_network(rng));
            let index = self.push_home(ip);
            if usize::from(self.home_count) < MAX_HOMES {
                self.homes[usize::from(self.home_count)] = index;
                self.home_count += 1;
            } else {
                self.homes[rng.gen_range(0..MAX_HOMES)] = index;
            }
        }
    }

    fn draw_homes(&mut self, rng: &mut ChaCha8Rng) {
        let count = 1 + weighted_index(rng, &[50, 35, 15]);
        for slot in 0..count {
            let ip = if slot == 0 && rng.gen_bool(IPV6_SHARE) {
                IpAddr::V6(v6_home(rng))
            } else {
                IpAddr::V4(self.fresh_v4_network(rng))
            };
            self.homes[slot] = self.push_home(ip);
        }
        self.home_count = u8::try_from(count).unwrap_or(1);
    }

    fn push_home(&mut self, ip: IpAddr) -> u8 {
        self.addresses.push(Address { ip, used: false });
        u8::try_from(self.addresses.len() - 1).unwrap_or(u8::MAX)
    }

    /// A v4 address in a /24 none of this user's addresses is in.
    fn fresh_v4_network(&self, rng: &mut ChaCha8Rng) -> Ipv4Addr {
        loop {
            let first = *HOME_FIRST_OCTETS
                .choose(rng)
                .unwrap_or(&HOME_FIRST_OCTETS[0]);
            let ip = Ipv4Addr::new(first, rng.r#gen(), rng.r#gen(), rng.gen_range(2..=250));
            let taken = self.addresses.iter().any(|a| match a.ip {
                IpAddr::V4(v4) => v4.octets()[..3] == ip.octets()[..3],
                IpAddr::V6(_) => false,
            });
            if !taken {
                return ip;
            }
        }
    }

    /// Another address in `ip`'s /24 (v4) or /64 (v6) that the user never had.
    fn neighbour(&self, ip: IpAddr, rng: &mut ChaCha8Rng) -> IpAddr {
        loop {
            let next = match ip {
                IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    IpAddr::V4(Ipv4Addr::new(a, b, c, rng.gen_range(2..=250)))
                }
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    let iid: [u16; 4] = rng.r#gen();
                    IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], iid[0], iid[1], iid[2], iid[3],
                    ))
                }
            };
            if self.addresses.iter().all(|a| a.ip != next) {
                return next;
            }
        }
    }
}

/// The public number of the key derived from `input` (unique per input).
fn key_number(seed: u64, input: u64) -> u32 {
    u32::try_from(permute(input, KEY_ID_BITS, seed ^ 0x6b65_7973)).unwrap_or(0)
}

/// The random stream `stream` of user `index`: every user has its own key,
/// derived from the seed and the index only.
fn user_rng(seed: u64, index: u32, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(mix64(seed ^ mix64(u64::from(index) ^ 0x7573_6572)));
    rng.set_stream(stream);
    rng
}

fn draw_persona(rng: &mut ChaCha8Rng) -> Persona {
    let offset_weights = OFFSETS.map(|(_, w)| w);
    let offset_min = OFFSETS[weighted_index(rng, &offset_weights)].0;
    let night_shift = rng.gen_bool(NIGHT_SHIFT_SHARE);
    let (shift_start_min, shift_len_min) = if night_shift {
        // Starts 21:00–23:00 and always reaches 06:00 the next morning.
        let start: u16 = 21 * 60 + rng.gen_range(0..=8) * 15;
        let shortest = (30 * 60 - start).max(7 * 60);
        (start, rng.gen_range(shortest / 15..=9 * 4) * 15)
    } else {
        (
            7 * 60 + rng.gen_range(0..=12) * 15,
            7 * 60 + rng.gen_range(0..=6) * 30,
        )
    };
    let weekend_share = if rng.gen_bool(NO_WEEKEND_SHARE) {
        0.0
    } else {
        rng.gen_range(0.05..=0.30)
    };
    let (low, high) = WEEKDAY_REQUESTS_RANGE;
    let volume = LogNormal::new(WEEKDAY_REQUESTS_MEDIAN.ln(), WEEKDAY_REQUESTS_SIGMA)
        .map_or(WEEKDAY_REQUESTS_MEDIAN, |d| d.sample(rng));
    let (tok_low, tok_high) = TOKEN_MEDIAN_RANGE;
    let token_median = rng.gen_range(tok_low.ln()..tok_high.ln()).exp();
    let developer_share = rng.gen_range(0.10..0.35);
    let mix = [Mix::Chat, Mix::Retrieval, Mix::Agentic][weighted_index(rng, &[50, 30, 20])];
    let mut sdk: Vec<usize> = SDK_AGENTS.collect();
    sdk.shuffle(rng);
    Persona {
        offset_min,
        shift_start_min,
        shift_len_min,
        night_shift,
        weekend_share,
        weekday_requests: volume.clamp(low, high),
        token_median,
        developer_share,
        mix,
        sdk: [AgentRef::shared(sdk[0]), AgentRef::shared(sdk[1])],
        browser: AgentRef::shared(rng.gen_range(BROWSER_AGENTS)),
        model: rng.gen_range(0..EMBEDDING_MODEL),
        region: rng.gen_range(0..REGIONS.len()),
        mfa: false,
        admin: false,
    }
}

fn v6_home(rng: &mut ChaCha8Rng) -> Ipv6Addr {
    let first = *HOME_V6_FIRST_HEXTETS
        .choose(rng)
        .unwrap_or(&HOME_V6_FIRST_HEXTETS[0]);
    let s: [u16; 7] = rng.r#gen();
    Ipv6Addr::new(first, s[0], s[1], s[2], s[3], s[4], s[5], s[6])
}

/// Index drawn in proportion to `weights` (which must not all be zero).
pub(super) fn weighted_index(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut pick = rng.gen_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if pick < w {
            return i;
        }
        pick -= w;
    }
    weights.len() - 1
}

/// The `SplitMix64` finaliser: a bijection that scatters nearby inputs.
pub(super) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A keyed bijection on `bits`-bit numbers: distinct inputs give distinct
/// outputs, so ids derived from distinct indices never collide.
pub(super) fn permute(value: u64, bits: u32, key: u64) -> u64 {
    let mask = (1u64 << bits) - 1;
    let mut v = value & mask;
    let mut k = key;
    for _ in 0..3 {
        k = mix64(k.wrapping_add(0x9e37_79b9_7f4a_7c15));
        // Xor with a constant, multiplication by an odd number and an
        // xor-shift are each invertible modulo 2^bits.
        v = ((v ^ k) & mask).wrapping_mul((k >> 32) | 1) & mask;
        v ^= v >> (bits / 2 + 1);
    }
    v
}
