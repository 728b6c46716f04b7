/// Anti-entropy summary: owners' `(epoch, version)` as applied by the sender. The periodic digest
/// (``InterestTable/digest(for:)``) holds two entries: the sender itself and the receiver.
///
/// The sender's entry about **itself** is authoritative (it is the owner's own published state)
/// and drives ``InterestTable/apply(_:from:)`` to request a sync when the receiver is behind. The
/// entry about the **receiver** doubles as an acknowledgement (it repairs lost acks). Other
/// entries are informational.
public struct InterestDigest: Sendable, Hashable {
    /// One owner's applied state as seen by the digest's sender.
    public struct Entry: Sendable, Hashable {
        public var owner: String
        public var epoch: UInt64
        public var version: UInt64

        public init(owner: String, epoch: UInt64, version: UInt64) {
            self.owner = owner
            self.epoch = epoch
            self.version = version
        }
    }

    /// Entries sorted by owner name; at most one per owner.
    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// The entry for `owner`, if present.
    public func entry(for owner: String) -> Entry? {
        self.entries.first { $0.owner == owner }
    }
}
