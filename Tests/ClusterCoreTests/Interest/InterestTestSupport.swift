@testable import ClusterCore

extension InterestDirective {
    /// The message and destination (nil = broadcast) of a send/broadcast directive.
    var outgoing: (message: InterestMessage, to: String?)? {
        switch self {
        case .broadcast(let message): return (message, nil)
        case .send(let message, let to): return (message, to)
        case .acknowledged, .routesChanged, .ignored: return nil
        }
    }
}

extension Array where Element == InterestDirective {
    var deltas: [InterestDelta] {
        self.compactMap { if case .broadcast(.delta(let d)) = $0 { return d } else { return nil } }
    }

    var snapshotChunks: [InterestSnapshotChunk] {
        self.compactMap { if case .send(.snapshot(let c), _) = $0 { return c } else { return nil } }
    }

    var syncRequests: [(InterestSyncRequest, String)] {
        self.compactMap { if case .send(.syncRequest(let r), let to) = $0 { return (r, to) } else { return nil } }
    }

    var acks: [(InterestAck, String)] {
        self.compactMap { if case .send(.ack(let a), let to) = $0 { return (a, to) } else { return nil } }
    }

    var ignoredReasons: [InterestIgnoredReason] {
        self.compactMap { if case .ignored(let r) = $0 { return r } else { return nil } }
    }
}
