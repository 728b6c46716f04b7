import ClusterKit
import NIOCore
import RocketWSProtocol

/// Identity and presence: connection tokens, `connect`, `subscribe` with `presence`, the `presence` and
/// `presence_stats` answers, and the backends' `disconnect` and `unsubscribe` by user.
extension NodeAPI {
    /// With `--token-secret`, a connection without an identity may only `connect`: anything else is answered
    /// -32005 and the connection closed with 1008.
    func identityGate(_ request: JSONRPCRequest, session: WebSocketSession, on loop: any EventLoop) -> EventLoopFuture<Outcome>? {
        guard tokenVerifier != nil, session.identity == nil, request.method != "connect" else { return nil }
        metrics.tokensRefused.increment()
        session.closeAfterReply = (1008, "connection token required")
        return loop.makeSucceededFuture(.failure(.unauthorized(TokenRefusal.missing.description)))
    }

    /// `connect {"token"}`: verifies the token and gives the connection its identity.
    func connect(_ request: JSONRPCRequest, session: WebSocketSession, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        guard let verifier = tokenVerifier else {
            return loop.makeSucceededFuture(.failure(.unauthorized("this node takes no connection tokens (no --token-secret)")))
        }
        guard session.identity == nil else {
            return loop.makeSucceededFuture(.failure(.invalidParams("this connection already has an identity")))
        }
        let token = request.paramsValue()?["token"]?.stringValue
        let bound = NIOLoopBound(session, eventLoop: loop)
        let metrics = self.metrics
        return loop.makeFutureWithTask { () async -> Result<ConnectionIdentity, TokenRefusal> in
            do throws(TokenRefusal) {
                return .success(try await verifier.verify(token))
            } catch {
                return .failure(error)
            }
        }.map { verdict -> Outcome in
            let session = bound.value
            switch verdict {
            case .success(let identity):
                session.identity = identity
                return .success(.object(["user": .string(identity.user)]))
            case .failure(let refusal):
                metrics.tokensRefused.increment()
                session.closeAfterReply = (1008, "invalid connection token")
                return .failure(.unauthorized(refusal.description))
            }
        }
    }

    /// `subscribe {"channel", "presence": true}`: the subscription `subscribing` makes (plain or with history),
    /// which also makes the user a member once it is in place.
    func subscribeWithPresence(
        _ session: WebSocketSession, to channel: String, on loop: any EventLoop, subscribing: () -> EventLoopFuture<Outcome>
    ) -> EventLoopFuture<Outcome> {
        guard tokenVerifier != nil, let identity = session.identity else {
            return loop.makeSucceededFuture(.failure(.unauthorized("presence needs a connection token (this node has no --token-secret)")))
        }
        let cluster = self.cluster
        let bound = NIOLoopBound(session, eventLoop: loop)
        // The user joins once the subscription is in place (at once for a plain one already visible).
        return subscribing().map { outcome in
            let session = bound.value
            if session.channels.contains(channel), session.presenceChannels.insert(channel).inserted {
                cluster.presenceJoined(channel: channel, user: identity.user, info: identity.info)
            }
            return outcome
        }
    }

    /// Unsubscribes `session` from `channel` (and from its presence).
    func unsubscribe(_ session: WebSocketSession, from channel: String) {
        if hub.unsubscribe(session, from: channel).deactivated { cluster.localChannelDeactivated(channel) }
        if session.presenceChannels.remove(channel) != nil, let user = session.identity?.user {
            cluster.presenceLeft(channel: channel, user: user)
        }
    }

    /// `presence {"channel"}` (WebSocket and backend).
    func presenceList(_ channel: String, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        cluster.presenceMembers(channel: channel, on: loop).map { members in
            let values: [JSONValue] = members.map { member in
                .object([
                    "user": .string(member.user),
                    "info": (try? JSONValue(parsing: member.info)) ?? .object([:]),
                    "connections": .int(member.connections),
                ])
            }
            return .success(.object(["members": .array(values)]))
        }
    }

    /// The backends' presence methods: `presence`, `presence_stats`, `disconnect`, `unsubscribe`.
    func backendPresenceMethod(_ request: JSONRPCRequest, on loop: any EventLoop) -> EventLoopFuture<Outcome> {
        let params = request.paramsValue()
        switch request.method {
        case "presence", "presence_stats":
            switch request.channelParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let channel):
                guard request.method == "presence_stats" else { return presenceList(channel, on: loop) }
                return cluster.presenceStats(channel: channel, on: loop).map { stats in
                    .success(.object(["users": .int(stats.users), "connections": .int(stats.connections)]))
                }
            }
        case "disconnect":
            guard let user = params?["user"]?.stringValue, !user.isEmpty else {
                return loop.makeSucceededFuture(.failure(.invalidParams("params must be an object with a \"user\" string")))
            }
            return cluster.presenceOrder(.disconnect(user: user), on: loop).map { .success(.object(["disconnected": .int($0)])) }
        default:
            guard let user = params?["user"]?.stringValue, !user.isEmpty else {
                return loop.makeSucceededFuture(.failure(.invalidParams("params must be an object with \"user\" and \"channel\"")))
            }
            switch request.channelParam() {
            case .failure(let error): return loop.makeSucceededFuture(.failure(error))
            case .success(let channel):
                return cluster.presenceOrder(.unsubscribe(user: user, channel: channel), on: loop)
                    .map { .success(.object(["unsubscribed": .int($0)])) }
            }
        }
    }

    // MARK: ClusterDeliveryDelegate

    /// Pushes `{"__type": "join" | "leave", "__channel", "user", "info"}` to the channel's local subscribers.
    public func deliverPresence(_ events: [PresenceEvent]) {
        let allocator = self.allocator
        let timestamp = Self.unixSeconds()
        for event in events {
            var body: [UInt8] = Array(#"{"user":"#.utf8)
            JSONString.appendQuoted(event.user, to: &body)
            body.append(contentsOf: #","info":"#.utf8)
            body.append(contentsOf: event.info.utf8)
            body.append(UInt8(ascii: "}"))
            var data = allocator.buffer(capacity: body.count)
            data.writeBytes(body)
            let kind: PushKind = event.kind == .join ? .join : .leave
            let receipt = hub.publish(to: event.channel) {
                PushFrame.make(data: data, kind: kind, timestamp: timestamp, channel: event.channel, allocator: allocator)
            }
            metrics.presenceEventsOut.increment(by: Int64(receipt.count))
        }
    }

    /// A backend's `disconnect` (close 4000) or `unsubscribe` of a user, on this node's connections.
    public func applyPresenceOrder(_ request: PresenceRequest) -> EventLoopFuture<Int> {
        switch request {
        case .disconnect(let user):
            return hub.countSessions { session in
                guard session.isOpen, session.identity?.user == user else { return 0 }
                session.close(code: 4000, reason: "disconnected by the backend")
                return 1
            }
        case .unsubscribe(let user, let channel):
            return hub.countSessions { [self] session in
                guard session.isOpen, session.identity?.user == user, session.channels.contains(channel) else { return 0 }
                unsubscribe(session, from: channel)
                return 1
            }
        case .counts:
            return hub.countSessions { _ in 0 }
        }
    }
}
