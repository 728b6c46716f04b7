/// Cluster membership: a pure SWIM failure detector with the Lifeguard extensions.
///
/// `Membership` is a namespace. The protocol lives in ``Membership/Instance``, a `Sendable` value type
/// with no sockets, no clock and no global randomness inside: the I/O shell feeds it events
/// (`onTick`, `onMessage`, `onPeerConnected`, `onPeerDisconnected`, `leave`) together with the current
/// time, and carries out the ``Membership/Directive``s each call returns.
///
/// References:
/// - SWIM: A. Das, I. Gupta, A. Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process Group
///   Membership Protocol", DSN 2002. Section 3 (failure detector, ping / ping-req), 4.1 (infection-style
///   dissemination), 4.2 (suspicion and incarnation numbers), 4.3 (round-robin probe target selection).
/// - Lifeguard: A. Dadgar, J. Phillips, J. Currey, "Lifeguard: Local Health Awareness for More Accurate
///   Failure Detection", 2018. Section IV-A (local health multiplier), IV-B (dynamic suspicion timeout
///   with independent confirmations), IV-C (buddy system: tell a suspect that it is suspected).
///
/// Time is a `Duration` measured from an arbitrary origin that the shell fixes once for the lifetime of an
/// instance (for example `let origin = ContinuousClock.now` and `now: origin.duration(to: .now)`); it must
/// never go backwards. Tests drive it by hand.
public enum Membership {}
