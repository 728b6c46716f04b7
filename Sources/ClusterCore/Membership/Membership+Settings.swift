extension Membership {
    /// Tunables of the membership protocol. The defaults target a LAN cluster whose nodes talk over a
    /// persistent TCP (h2c) mesh.
    ///
    /// ## Why the defaults meet "a crashed node is dead within 3 s and a leaver is `left` within 1 s" on 3 nodes
    ///
    /// Detection time is *wait for a probe* + *one failed probe period* + *suspicion timeout* + *gossip*:
    /// - Each node probes one member per ``probeInterval`` (200 ms), round-robin over a shuffled list, so a
    ///   given member is probed by a given node at least once in every `2 (n-1) - 1` periods; with 3 nodes that is
    ///   at most 3 periods (600 ms), and when the mesh reports the dropped TCP connection
    ///   (``Instance/onPeerDisconnected(name:now:)``) the member is probed in the very next period.
    /// - A probe fails at the end of its period: direct `ping` timeout ``probeTimeout`` (100 ms), then
    ///   ``indirectProbeCount`` ping-reqs until the period ends (200 ms). The suspicion starts ≤ 800 ms after the crash.
    /// - Suspicion timeout (Lifeguard IV-B): `min = suspicionTimeoutMin × max(1, log10 n)` = 1 s for n ≤ 10 and
    ///   `max = suspicionTimeoutMaxMultiplier × min` = 3 s. It falls from `max` to `min` as
    ///   `k = min(suspicionConfirmations, n - 2)` independent confirmations arrive: with 3 nodes k = 1, and the
    ///   other survivor's own failed probe (≤ 800 ms after the crash) is that confirmation, so the timeout is 1 s.
    /// - `dead` reaches the last node on the next piggybacked message (≤ 1–2 periods); each survivor also runs
    ///   its own timer. Total ≈ 0.8 + 1.0 + 0.4 = 2.2 s worst case. Measured in the deterministic simulation
    ///   (`MembershipSimulationTests`): 1.2 s with the disconnect hint, at most 1.7 s without it (8 seeds, 0 and
    ///   5 % loss), 2.2 s at 20 % loss.
    /// - Leave: ``Instance/leave(now:)`` sends the `left` news directly to every active member at once (one mesh
    ///   round trip, milliseconds) and also piggybacks it for retransmission, so others see `left` well under 1 s
    ///   (simulation: 5 ms; 205 ms with 50 nodes at 20 % loss, where the direct message may be lost).
    ///
    /// The probe timeout (100 ms) and the 200 ms period assume a LAN; on a WAN raise both (keep
    /// `probeTimeout < probeInterval`) and the suspicion timeout with them.
    ///
    /// Cluster growth: the probe load per node is one probe per period whatever n is; dissemination needs
    /// `retransmitMultiplier × ⌈log10(n+1)⌉` transmissions per update, and the suspicion timeout grows with log n
    /// only beyond 10 nodes (2 s at 100), the time gossip needs to reach everybody.
    public struct Settings: Sendable, Hashable {
        public init() {}

        /// Base protocol period: one probe is started every `probeInterval × (localHealth + 1)` (Lifeguard IV-A).
        public var probeInterval: Duration = .milliseconds(200) {
            willSet { precondition(newValue > .zero, "probeInterval must be positive") }
        }

        /// How long a direct `ping` waits for its `ack` (scaled by `localHealth + 1`) before ping-reqs go out.
        /// Must be shorter than ``probeInterval``; 100 ms is generous for a LAN round trip over TCP.
        public var probeTimeout: Duration = .milliseconds(100) {
            willSet { precondition(newValue > .zero, "probeTimeout must be positive") }
        }

        /// Number of members asked to probe a silent target indirectly (SWIM's k).
        public var indirectProbeCount: Int = 2 {
            willSet { precondition(newValue >= 0, "indirectProbeCount must be >= 0") }
        }

        /// Upper bound of the local health multiplier (Lifeguard's awareness score, memberlist uses 8):
        /// probe interval and timeout stretch at most `(maxLocalHealth + 1)` times.
        public var maxLocalHealth: Int = 8 {
            willSet { precondition(newValue >= 0, "maxLocalHealth must be >= 0") }
        }

        /// Shortest suspicion timeout for a cluster of up to 10 members; multiplied by `log10(n)` beyond.
        public var suspicionTimeoutMin: Duration = .seconds(1) {
            willSet { precondition(newValue > .zero, "suspicionTimeoutMin must be positive") }
        }

        /// The longest suspicion timeout (no confirmation at all) is this many times the shortest.
        public var suspicionTimeoutMaxMultiplier: Int = 3 {
            willSet { precondition(newValue >= 1, "suspicionTimeoutMaxMultiplier must be >= 1") }
        }

        /// Number of independent confirmations (other nodes suspecting the same member) after which the
        /// suspicion timeout reaches its minimum; capped at `n - 2`.
        public var suspicionConfirmations: Int = 3 {
            willSet { precondition(newValue >= 0, "suspicionConfirmations must be >= 0") }
        }

        /// SWIM's lambda: every update is piggybacked `retransmitMultiplier × ⌈log10(n + 1)⌉` times.
        public var retransmitMultiplier: Int = 4 {
            willSet { precondition(newValue >= 1, "retransmitMultiplier must be >= 1") }
        }

        /// Most gossip entries piggybacked on one ping, ping-req, ack or nack.
        public var maxPiggybackedUpdates: Int = 32 {
            willSet { precondition(newValue >= 1, "maxPiggybackedUpdates must be >= 1") }
        }

        /// Most entries in one full-state `sync` chunk.
        public var maxSyncEntriesPerMessage: Int = 64 {
            willSet { precondition(newValue >= 1, "maxSyncEntriesPerMessage must be >= 1") }
        }

        /// Anti-entropy period: each node pushes its full state to one random active member (and asks for
        /// theirs) and tries to reach one random recently `dead` member, so that a healed partition rejoins.
        public var syncInterval: Duration = .seconds(5) {
            willSet { precondition(newValue > .zero, "syncInterval must be positive") }
        }

        /// `dead` and `left` members are forgotten (``Directive/memberRemoved(_:)``) this long after the change.
        public var reapTimeout: Duration = .seconds(30) {
            willSet { precondition(newValue >= .zero, "reapTimeout must be >= 0") }
        }

        /// After reaping, a name is remembered with its last incarnation for this long, so that stale news
        /// cannot resurrect it; news with a higher incarnation is always accepted. Dead (not left) tombstoned
        /// members are still contacted by the anti-entropy round, so a partition shorter than this heals by
        /// itself; after a longer one the shell must re-dial its seeds.
        public var tombstoneTimeout: Duration = .seconds(300) {
            willSet { precondition(newValue >= .zero, "tombstoneTimeout must be >= 0") }
        }

        /// An intermediary answers `nack` when the target stays silent for this fraction of ``probeTimeout``.
        public var nackFraction: Double = 0.8 {
            willSet { precondition(newValue > 0 && newValue <= 1, "nackFraction must be in (0, 1]") }
        }
    }
}
