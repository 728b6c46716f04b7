extension Cluster.Instance {
    // MARK: Presence: local connections

    /// A connection of `user` (with its token's `info` as JSON text) subscribed to `channel` with presence.
    /// The user's first connection in the channel on this node goes out in the next delta; their first
    /// anywhere is announced here at once (unless they come back within the leave hold).
    public mutating func presenceJoined(channel: String, user: String, info: String, now: Duration) -> [Cluster.Directive<Data>] {
        var out: [Cluster.Directive<Data>] = []
        absorbPresence(presence.localJoined(channel: channel, user: user, info: info), now: now, into: &out)
        schedulePresenceFlush(now: now)
        arm(&out)
        return out
    }

    /// A presence connection of `user` left `channel` (unsubscribed, closed, or removed by a backend).
    public mutating func presenceLeft(channel: String, user: String, now: Duration) -> [Cluster.Directive<Data>] {
        var out: [Cluster.Directive<Data>] = []
        absorbPresence(presence.localLeft(channel: channel, user: user), now: now, into: &out)
        schedulePresenceFlush(now: now)
        arm(&out)
        return out
    }

    // MARK: Presence: views and requests

    /// Users present in `channel` cluster-wide (from the replicated counts, no listing).
    public func presenceUserCount(in channel: String) -> Int { presence.userCount(in: channel) }

    /// The members of `channel` cluster-wide with their info.
    public func presenceMembers(of channel: String) -> [(user: String, info: String)] { presence.members(of: channel) }

    /// Sends `request` to every other active node; the answer is their replies (who does not answer within
    /// `statsTimeout` is left out). The shell adds this node's own reply.
    public mutating func requestPresence(_ request: PresenceRequest, now: Duration) -> (Cluster.Answer<[PresenceReply]>, [Cluster.Directive<Data>]) {
        let peers = activePeers
        guard !peers.isEmpty else { return (.now([]), []) }
        let id = makeRequestID()
        pending[id] = Cluster.PendingRequest(kind: .presence, waiting: Set(peers))
        presenceDeadlines.append(now + settings.statsTimeout, id)
        var out: [Cluster.Directive<Data>] = []
        sendInOrder(.presenceRequest(requestID: id, request: request), to: peers, now: now, into: &out)
        arm(&out)
        return (.later(id), out)
    }

    // MARK: Internals

    private mutating func schedulePresenceFlush(now: Duration) {
        guard presence.hasPendingOps, presenceFlushAt == nil else { return }
        presenceFlushAt = now + settings.presenceFlushDelay
    }

    /// Due work of presence: the gathered local ops go out, held leaves whose time has come are announced.
    mutating func presenceTick(now: Duration, into out: inout [Cluster.Directive<Data>]) {
        if let at = presenceFlushAt, at <= now {
            presenceFlushAt = nil
            absorbPresence(presence.flush(), now: now, into: &out)
        }
        let leaves = presenceHold.due(now: now)
        if !leaves.isEmpty { out.append(.presenceEvents(leaves)) }
    }

    mutating func absorbPresence(_ directives: [PresenceDirective], now: Duration, into out: inout [Cluster.Directive<Data>]) {
        var events: [PresenceEvent] = []
        for directive in directives {
            switch directive {
            case .broadcast(let message):
                let peers = activePeers
                if !peers.isEmpty { out.append(.send(.presence(message), to: peers)) }
            case .send(let message, let peer):
                out.append(.send(.presence(message), to: [peer]))
            case .changed(let change):
                events += presenceHold.apply(change, now: now)
            }
        }
        if !events.isEmpty { out.append(.presenceEvents(events)) }
    }
}
