/// "Send me your channel set": sent by a receiver to `owner` when it saw a gap, a newer epoch or
/// a digest that is ahead of its view. The owner answers with a chunked snapshot
/// (``InterestSnapshotChunk``), see ``InterestTable/makeSync(for:knownEpoch:knownVersion:)``.
public struct InterestSyncRequest: Sendable, Hashable {
    /// The node whose table is requested (the request's destination).
    public var owner: String
    /// The requester's known epoch of `owner` (0 when unknown).
    public var knownEpoch: UInt64
    /// The requester's known version of `owner` (0 when unknown).
    public var knownVersion: UInt64

    public init(owner: String, knownEpoch: UInt64, knownVersion: UInt64) {
        self.owner = owner
        self.knownEpoch = knownEpoch
        self.knownVersion = knownVersion
    }
}
