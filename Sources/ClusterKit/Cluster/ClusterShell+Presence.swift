import NIOCore

/// One member of a presence channel as a `presence` answer lists it.
public struct PresenceMember: Sendable, Equatable {
    public var user: String
    /// The user's `info` as JSON text.
    public var info: String
    /// The user's connections in the channel, cluster-wide.
    public var connections: Int

    public init(user: String, info: String, connections: Int) {
        self.user = user
        self.info = info
        self.connections = connections
    }
}

extension ClusterShell {
    /// A connection of `user` subscribed to `channel` with presence (`info`: its token's info as JSON text).
    public func presenceJoined(channel: String, user: String, info: String) {
        onLoop { [self] in execute(instance.presenceJoined(channel: channel, user: user, info: info, now: now)) }
    }

    /// A presence connection of `user` left `channel`.
    public func presenceLeft(channel: String, user: String) {
        onLoop { [self] in execute(instance.presenceLeft(channel: channel, user: user, now: now)) }
    }

    /// `presence_stats`: users from the replicated counts, connections summed from every node's own count.
    public func presenceStats(channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<(users: Int, connections: Int)> {
        loop.flatSubmit { [self] in
            let local = instance.presence.localConnectionCount(in: channel)
            return ask(.counts(channel: channel, perUser: false)).map { [self] replies in
                var connections = local
                for case .counts(let count, _) in replies { connections += count }
                return (instance.presenceUserCount(in: channel), connections)
            }
        }.hop(to: eventLoop)
    }

    /// `presence`: the channel's members cluster-wide with each one's connections on every node.
    public func presenceMembers(channel: String, on eventLoop: any EventLoop) -> EventLoopFuture<[PresenceMember]> {
        loop.flatSubmit { [self] in
            ask(.counts(channel: channel, perUser: true)).map { [self] replies in
                var connections = instance.presence.localUserCounts(in: channel)
                for case .counts(_, let perUser) in replies {
                    for (user, count) in perUser { connections[user, default: 0] += count }
                }
                return instance.presenceMembers(of: channel).map { member in
                    PresenceMember(user: member.user, info: member.info, connections: max(1, connections[member.user] ?? 0))
                }
            }
        }.hop(to: eventLoop)
    }

    /// A backend's `disconnect` or `unsubscribe` of a user: carried out here and on every other node; the
    /// future carries the connections affected cluster-wide.
    public func presenceOrder(_ request: PresenceRequest, on eventLoop: any EventLoop) -> EventLoopFuture<Int> {
        loop.flatSubmit { [self] in
            let local = delegate?.applyPresenceOrder(request).hop(to: loop) ?? loop.makeSucceededFuture(0)
            return ask(request).and(local).map { replies, here in
                var total = here
                for case .affected(let count) in replies { total += count }
                return total
            }
        }.hop(to: eventLoop)
    }

    private func ask(_ request: PresenceRequest) -> EventLoopFuture<[PresenceReply]> {
        let (answer, directives) = instance.requestPresence(request, now: now)
        return carryOut(answer, directives, pending: \.presenceRequests)
    }

    /// Answers another node's presence request from this node's own connections.
    func answerPresence(_ id: Cluster.RequestID, _ request: PresenceRequest, to peer: String) {
        let send: @Sendable (PresenceReply) -> Void = { [mesh, allocator = ByteBufferAllocator()] reply in
            let (kind, payload) = ClusterFrame.encode(.presenceReply(requestID: id, reply: reply), allocator: allocator)
            mesh.send(kind: kind, payload: payload, to: peer)
        }
        switch request {
        case .counts(let channel, let perUser):
            let presence = instance.presence
            send(.counts(connections: presence.localConnectionCount(in: channel), perUser: perUser ? presence.localUserCounts(in: channel) : [:]))
        case .disconnect, .unsubscribe:
            guard let delegate else { return send(.affected(0)) }
            delegate.applyPresenceOrder(request).whenComplete { result in
                send(.affected((try? result.get()) ?? 0))
            }
        }
    }
}
