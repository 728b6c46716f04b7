/// "I have applied `owner`'s table of epoch `epoch` up to and including `version`."
///
/// Sent by a receiver to the owner after every applied (or already applied) delta and after a
/// completed snapshot. The owner uses it for subscribe visibility
/// (``InterestTable/isAcknowledged(version:by:)``).
public struct InterestAck: Sendable, Hashable {
    /// The node whose table is acknowledged (the ack's destination).
    public var owner: String
    /// The owner's epoch the version belongs to.
    public var epoch: UInt64
    /// Highest contiguous version applied by the sender.
    public var version: UInt64

    public init(owner: String, epoch: UInt64, version: UInt64) {
        self.owner = owner
        self.epoch = epoch
        self.version = version
    }
}
