extension InterestTable {
    /// Tunables of the interest protocol. All defaults are safe for clusters of ~100 nodes and
    /// ~1 million channels per node.
    public struct Settings: Sendable, Hashable {
        public init() {}

        /// Most ops in one ``InterestDelta``; a flush of more pending ops produces several deltas.
        /// Default 256.
        public var maxOpsPerDelta: Int = 256 {
            willSet { precondition(newValue >= 1, "maxOpsPerDelta must be >= 1") }
        }

        /// Most channels in one ``InterestSnapshotChunk``. Default 512. A full snapshot is always
        /// split into chunks of at most this many channels, so a peer with 500,000 channels
        /// never produces one huge burst (the failure NATS saw with 467,969 subscriptions).
        public var maxChannelsPerChunk: Int = 512 {
            willSet { precondition(newValue >= 1, "maxChannelsPerChunk must be >= 1") }
        }

        /// Soft bound on the encoded size of a delta or snapshot chunk, in bytes: a message is
        /// closed before the item that would make it exceed this. Default 65,536. Must be at
        /// least 1,024 so that one item (a channel name is <= 255 bytes) always fits.
        public var maxBytesPerMessage: Int = 65_536 {
            willSet { precondition(newValue >= 1_024, "maxBytesPerMessage must be >= 1024") }
        }

        /// Suggested period between ``InterestTable/onDigestTick()`` calls. Default 1 s. The
        /// table has no clock: the shell schedules the tick.
        public var digestInterval: Duration = .seconds(1)

        /// After requesting a sync from an owner, how many further digests from that owner still
        /// showing it ahead (with no snapshot chunk received in between) are tolerated before the
        /// request is sent again, because the request or a chunk was lost. Default 1: a retry every
        /// second digest round. A snapshot still streaming in resets the count, so a large one is
        /// not requested twice.
        public var syncRetryDigests: Int = 1 {
            willSet { precondition(newValue >= 0, "syncRetryDigests must be >= 0") }
        }

        /// Most deltas buffered for an owner while its snapshot is being assembled (deltas
        /// newer than the snapshot's version, sent by the owner between chunks). Default 64;
        /// beyond it further deltas are dropped and repaired by the next digest.
        public var maxBufferedDeltas: Int = 64 {
            willSet { precondition(newValue >= 0, "maxBufferedDeltas must be >= 0") }
        }
    }
}
