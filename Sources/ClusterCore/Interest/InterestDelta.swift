/// A contiguous run of an owner's ops, versions `fromVersion ... toVersion` of epoch `epoch`.
///
/// The op at index `i` of ``ops`` has version `fromVersion + i`. A delta always carries at least
/// one op and at most ``InterestTable/Settings/maxOpsPerDelta`` ops (and about
/// ``InterestTable/Settings/maxBytesPerMessage`` bytes once encoded).
public struct InterestDelta: Sendable, Hashable {
    /// The node whose channel set changed (the sole authority for it).
    public var owner: String
    /// The owner's process epoch (higher after a restart).
    public var epoch: UInt64
    /// Version of the first op.
    public var fromVersion: UInt64
    /// The ops, in version order; never empty.
    public var ops: [InterestOp]

    public init(owner: String, epoch: UInt64, fromVersion: UInt64, ops: [InterestOp]) {
        precondition(!ops.isEmpty, "an InterestDelta carries at least one op")
        precondition(fromVersion >= 1, "versions start at 1")
        self.owner = owner
        self.epoch = epoch
        self.fromVersion = fromVersion
        self.ops = ops
    }

    /// Version of the last op: the owner's version once this delta is applied.
    public var toVersion: UInt64 { self.fromVersion + UInt64(self.ops.count) - 1 }
}
