import ClusterKit
import NIOCore

extension SoloCluster {
    public func presenceJoined(channel: String, user: String, info: String) {
        let events = presence.withLock { state in
            state.table.localJoined(channel: channel, user: user, info: info).flatMap { state.events(for: $0) }
        }
        if !events.isEmpty { delegate?.deliverPresence(events) }
    }

    public func presenceLeft(channel: String, user: String) {
        let events = presence.withLock { state in
            state.table.localLeft(channel: channel, user: user).flatMap { state.events(for: $0) }
        }
        if !events.isEmpty { delegate?.deliverPresence(events) }
    }

    public func presenceStats(channel: String, on loop: any EventLoop) -> EventLoopFuture<(users: Int, connections: Int)> {
        loop.makeSucceededFuture(presence.withLock { ($0.table.userCount(in: channel), $0.table.localConnectionCount(in: channel)) })
    }

    public func presenceMembers(channel: String, on loop: any EventLoop) -> EventLoopFuture<[PresenceMember]> {
        let members = presence.withLock { state in
            let counts = state.table.localUserCounts(in: channel)
            return state.table.members(of: channel).map { PresenceMember(user: $0.user, info: $0.info, connections: counts[$0.user] ?? 0) }
        }
        return loop.makeSucceededFuture(members)
    }

    public func presenceOrder(_ request: PresenceRequest, on loop: any EventLoop) -> EventLoopFuture<Int> {
        guard let delegate else { return loop.makeSucceededFuture(0) }
        return delegate.applyPresenceOrder(request).hop(to: loop)
    }
}

/// The presence of a cluster of one: the same table; leaves are announced at once (no other node can hold
/// the user meanwhile, and the serving-side tests that use it have no clock to wait for).
struct SoloPresence: Sendable {
    var table: PresenceTable

    func events(for directive: PresenceDirective) -> [PresenceEvent] {
        switch directive {
        case .broadcast, .send: []
        case .changed(.appeared(let channel, let user, let info)): [PresenceEvent(kind: .join, channel: channel, user: user, info: info)]
        case .changed(.vanished(let channel, let user, let info)): [PresenceEvent(kind: .leave, channel: channel, user: user, info: info)]
        }
    }
}
