//! What one client may cost a server: the limits every node and edge-host enforce, as
//! flags with environment fallbacks.
//!
//! The defaults are meant for the open network. A server that trusts its clients to hang up,
//! to send small bodies and to come one at a time is stopped by the first one that does not:
//! idle half-open connections exhaust its file descriptors, a large body its memory, a burst
//! its queue. Every limit here turns such a client into a clear refusal for that client alone.

use std::time::Duration;

/// Connection and request limits of one server. The environment names are the same in every
/// node and in edge-host: each runs as its own process, so one name per setting suffices.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpLimits {
    /// Seconds a client has to send a complete request head after connecting; a client still
    /// sending it then is disconnected.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a keep-alive connection may sit idle between requests before it is closed.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Seconds an ordinary request may take, body upload included; past it the client gets
    /// 503 `request_timeout`. Long-polls keep their own documented ceilings.
    #[arg(long, env = "HTTP_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Open connections at most; 0 derives it from the open-files limit (raised to its hard
    /// limit at start), keeping a quarter of it and 64 more for the node's files and its
    /// own outgoing calls. A connection past the cap is answered 503 and closed.
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 0)]
    pub max_connections: usize,

    /// Requests handled at once at most; the excess is shed with 503 and `Retry-After`
    /// instead of queueing without bound.
    #[arg(long, env = "HTTP_MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            request_timeout_secs: 30,
            max_connections: 0,
            max_in_flight: 512,
        }
    }
}

impl HttpLimits {
    /// The header-read timeout.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs.max(1))
    }

    /// The keep-alive idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }

    /// The whole-request timeout of ordinary routes.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }

    /// Requests in flight at most (at least one).
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.max(1)
    }

    /// The connection cap: the flag's value, or one derived from the open-files limit after
    /// raising it as far as the process may.
    pub fn connection_cap(&self) -> usize {
        if self.max_connections > 0 {
            return self.max_connections;
        }
        cap_for_file_limit(raise_file_limit())
    }
}

/// Raises the soft open-files limit to the hard limit, as nginx and most servers do (the soft
/// default of 1,024 is far below what a server needs); returns the limit now in force.
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    }
}

/// The connections a process with `file_limit` descriptors may accept: a quarter and 64 more
/// stay free for its store's files, its outgoing calls and the accept that refuses the next.
pub fn cap_for_file_limit(file_limit: u64) -> usize {
    let usable = (file_limit - file_limit / 4).saturating_sub(64).max(16);
    usize::try_from(usable).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_files_and_outgoing_calls() {
        assert_eq!(cap_for_file_limit(1024), 704);
        assert_eq!(cap_for_file_limit(65_536), 49_088);
        assert_eq!(cap_for_file_limit(10), 16);
    }

    #[test]
    fn defaults_match_the_flags() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            limits: HttpLimits,
        }
        let parsed = Cli::parse_from(["x"]).limits;
        let default = HttpLimits::default();
        assert_eq!(parsed.header_timeout_secs, default.header_timeout_secs);
        assert_eq!(parsed.idle_timeout_secs, default.idle_timeout_secs);
        assert_eq!(parsed.request_timeout_secs, default.request_timeout_secs);
        assert_eq!(parsed.max_connections, default.max_connections);
        assert_eq!(parsed.max_in_flight, default.max_in_flight);
    }
}
