extension Cluster {
    /// A channel message (`channel` set) or a `notify_all` (`channel` nil) on its way to or from another node.
    /// `Data` is the raw JSON object, opaque to the instance (the shell's byte buffer; bytes in tests).
    public struct Push<Data: Sendable>: Sendable {
        /// The request whose counts the sender waits for; 0 when it wants no acknowledgement.
        public var requestID: RequestID
        /// Unix seconds of acceptance.
        public var timestamp: Int
        public var channel: String?
        public var data: Data

        public init(requestID: RequestID, timestamp: Int, channel: String?, data: Data) {
            self.requestID = requestID
            self.timestamp = timestamp
            self.channel = channel
            self.data = data
        }
    }

    /// One application frame between two nodes, decoded (the shell encodes and decodes the bytes).
    public enum Frame<Data: Sendable>: Sendable {
        case membership(Membership.Message)
        case interest(InterestMessage)
        case push(Push<Data>)
        /// How many local subscribers a forwarded push reached.
        case ack(requestID: RequestID, count: Int)
        case statsRequest(requestID: RequestID)
        case statsResponse(requestID: RequestID, stats: LocalStats)
        /// Presence gossip (deltas, digests, sync requests, snapshot chunks).
        case presence(PresenceMessage)
        /// A presence question or order for this node's own connections.
        case presenceRequest(requestID: RequestID, request: PresenceRequest)
        case presenceReply(requestID: RequestID, reply: PresenceReply)
        case history(History.Message<Data>)
    }

    /// What the mesh did with one frame handed to it.
    public enum SendOutcome: Sendable, Hashable {
        /// In the peer's queue, in order after everything queued before.
        case queued
        /// The peer's queue was full (or the frame too large): dropped.
        case dropped
        /// No link to the peer right now: nothing was queued.
        case notConnected
    }

    /// The answer to a request: at once, or later through a completion directive with its ID.
    public enum Answer<Value: Sendable>: Sendable {
        case now(Value)
        case later(RequestID)
    }
}
