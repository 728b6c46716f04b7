/// One bounded piece of an owner's full channel set at `(epoch, version)`.
///
/// A snapshot is the sequence of chunks with `index` 0, 1, 2 ... where the last one has
/// `isLast == true` (a snapshot of an empty set is a single empty, last chunk). Each chunk carries
/// at most ``InterestTable/Settings/maxChannelsPerChunk`` channels and about
/// ``InterestTable/Settings/maxBytesPerMessage`` encoded bytes: never one unbounded dump.
public struct InterestSnapshotChunk: Sendable, Hashable {
    public var owner: String
    public var epoch: UInt64
    /// The owner's version the whole snapshot represents.
    public var version: UInt64
    /// Position in the sequence, starting at 0 (chunk 0 begins a snapshot).
    public var index: UInt32
    /// Whether this chunk ends the snapshot.
    public var isLast: Bool
    /// Channels of this chunk (disjoint from the other chunks of the same snapshot).
    public var channels: [String]

    public init(owner: String, epoch: UInt64, version: UInt64, index: UInt32, isLast: Bool, channels: [String]) {
        self.owner = owner
        self.epoch = epoch
        self.version = version
        self.index = index
        self.isLast = isLast
        self.channels = channels
    }
}
