/// What ``InterestTable`` asks its shell to do. The shell MUST carry out every directive, in
/// order, with an exhaustive `switch` (no `default:`).
public enum InterestDirective: Sendable, Hashable {
    /// Send `message` to every alive peer (this node's deltas).
    case broadcast(InterestMessage)
    /// Send `message` to one peer (acks, digests, sync requests, snapshot chunks).
    case send(InterestMessage, to: String)
    /// `peer` has now applied this node's table up to `version`. The shell SHOULD re-check its
    /// pending "subscribed" replies with ``InterestTable/isAcknowledged(version:by:)``.
    case acknowledged(peer: String, version: UInt64)
    /// The routes of `owner` changed (it gained or lost channels): informational, for channel
    /// views and metrics.
    case routesChanged(owner: String)
    /// The input was ignored; nothing to do but perhaps log at trace level.
    case ignored(InterestIgnoredReason)
}

/// Why an input changed nothing. Purely informational.
public enum InterestIgnoredReason: Sendable, Hashable {
    /// The message is about this node's own table, which only this node changes.
    case ownTable
    /// The message belongs to an older epoch of its owner than the one already known.
    case staleEpoch(owner: String)
    /// The delta or snapshot was already applied (idempotent re-delivery).
    case alreadyApplied(owner: String)
    /// A delta did not follow the known version; a sync was or had already been requested.
    case gap(owner: String)
    /// A snapshot chunk did not continue the snapshot being assembled.
    case unexpectedChunk(owner: String)
    /// An ack or sync request addressed to another node, or for an epoch of ours that is not
    /// the current one.
    case notForThisNode
}
