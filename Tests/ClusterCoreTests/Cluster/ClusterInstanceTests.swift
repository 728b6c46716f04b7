import Testing

@testable import ClusterCore

@Suite("Cluster.Instance")
struct ClusterInstanceTests {
    typealias F = Fixture

    @Test("a broadcast goes to every active peer once, and its ack completes the emit with the peer's count")
    func broadcastAndAck() {
        var a = F.started(peers: [F.b, F.c])
        let (answer, out) = a.broadcast(data: F.data, timestamp: 7, awaitCounts: true, now: .seconds(1))
        guard case .later(let id) = answer else {
            Issue.record("an emit with counts to peers must wait: \(answer)")
            return
        }
        guard let send = out.reportingSends.first, case .push(let push) = send.frame else {
            Issue.record("no push sent: \(out)")
            return
        }
        #expect(out.reportingSends.count == 1)
        #expect(send.peers.sorted() == ["b", "c"])
        #expect(push.requestID == id && push.channel == nil && push.timestamp == 7 && push.data == F.data)
        let reported = a.sent(send.frame, to: send.peers, outcomes: [.queued, .queued], now: .seconds(1))
        #expect(reported.counted(.forwardsSent) == 2)
        #expect(a.onFrame(.ack(requestID: id, count: 3), from: "b", now: .seconds(1)).countCompletions.isEmpty)
        let done = a.onFrame(.ack(requestID: id, count: 4), from: "c", now: .seconds(1)).countCompletions
        #expect(done.count == 1)
        #expect(done.first?.id == id)
        #expect(done.first?.counts == [NodeCount(node: "b", count: 3), NodeCount(node: "c", count: 4)])
        #expect(a.pendingRequestCount == 0)
    }

    @Test("a forward to a channel no other node has is answered at once, with nothing sent")
    func forwardWithoutRoute() {
        var a = F.started(peers: [F.b])
        let (answer, out) = a.forward(channel: "chat", data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard case .now(let counts) = answer else {
            Issue.record("expected an immediate answer: \(answer)")
            return
        }
        #expect(counts.isEmpty)
        #expect(out.isEmpty)
        #expect(a.pendingRequestCount == 0)
    }

    @Test("a forward reaches exactly the nodes that route the channel (learned from their interest)")
    func forwardFollowsInterest() {
        var a = F.started(peers: [F.b, F.c])
        var b = F.started(F.b, peers: [F.a])
        let (_, published) = b.localChannelActivated("chat", now: .seconds(1))
        for send in published.interestSends where send.peers.contains("a") {
            _ = a.onFrame(.interest(send.message), from: "b", now: .seconds(1))
        }
        #expect(a.interest.route("chat") == ["b"])
        let (answer, out) = a.forward(channel: "chat", data: F.data, timestamp: 1, awaitCounts: false, now: .seconds(1))
        guard case .now = answer, let send = out.reportingSends.first else {
            Issue.record("expected an unacknowledged send: \(answer) \(out)")
            return
        }
        #expect(send.peers == ["b"])
        guard case .push(let push) = send.frame else {
            Issue.record("not a push: \(send.frame)")
            return
        }
        #expect(push.requestID == 0 && push.channel == "chat")
    }

    @Test("a frame the mesh dropped (full queue) is not waited for and not counted as sent")
    func droppedFrame() {
        var a = F.started(peers: [F.b])
        let (answer, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard case .later(let id) = answer, let send = out.reportingSends.first else {
            Issue.record("expected a waiting broadcast: \(answer)")
            return
        }
        let reported = a.sent(send.frame, to: send.peers, outcomes: [.dropped], now: .seconds(1))
        #expect(reported.counted(.forwardsSent) == 0)
        #expect(reported.countCompletions.map(\.id) == [id])
        #expect(reported.countCompletions.first?.counts == [])
    }

    @Test("a frame to a member without a link waits in its outbox, is offered again, and follows in order")
    func outboxRetry() {
        var a = F.started(peers: [F.b])
        let (answer, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard case .later(let id) = answer, let send = out.reportingSends.first else {
            Issue.record("expected a waiting broadcast: \(answer)")
            return
        }
        let reported = a.sent(send.frame, to: send.peers, outcomes: [.notConnected], now: .seconds(1))
        #expect(reported.counted(.forwardsSent) == 1)
        #expect(a.outboxCount(for: "b") == 1)
        // A second message while the first waits goes behind it, not to the mesh.
        let (_, second) = a.broadcast(data: Array(#"{"m":2}"#.utf8), timestamp: 2, awaitCounts: false, now: .seconds(1))
        #expect(second.reportingSends.isEmpty)
        #expect(a.outboxCount(for: "b") == 2)
        let tick = a.onTick(now: .seconds(1) + .milliseconds(10))
        let offers = tick.compactMap { if case .offerOutbox(let peer, let frames) = $0 { (peer, frames) } else { nil } }
        guard let offer = offers.first else {
            Issue.record("no outbox offer on the retry tick: \(tick)")
            return
        }
        #expect(offer.0 == "b" && offer.1.count == 2)
        guard case .push(let first) = offer.1[0], case .push(let next) = offer.1[1] else {
            Issue.record("offer holds no pushes")
            return
        }
        #expect(first.timestamp == 1 && next.timestamp == 2)
        let taken = a.outboxOffered(to: "b", outcomes: [.queued, .queued], now: .seconds(1) + .milliseconds(10))
        #expect(taken.counted(.forwardsDropped) == 0)
        #expect(a.outboxCount(for: "b") == 0)
        #expect(a.onFrame(.ack(requestID: id, count: 1), from: "b", now: .seconds(1)).countCompletions.map(\.id) == [id])
    }

    @Test("frames past the forward timeout leave the outbox as dropped; the emit completes without that node")
    func outboxExpiry() {
        var a = F.started(peers: [F.b])
        let (answer, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard case .later(let id) = answer, let send = out.reportingSends.first else {
            Issue.record("expected a waiting broadcast: \(answer)")
            return
        }
        _ = a.sent(send.frame, to: send.peers, outcomes: [.notConnected], now: .seconds(1))
        let stillDown = a.outboxOffered(to: "b", outcomes: [.notConnected], now: .milliseconds(1500))
        #expect(stillDown.counted(.forwardsDropped) == 0)
        #expect(a.outboxCount(for: "b") == 1)
        let expired = a.outboxOffered(to: "b", outcomes: [.notConnected], now: .seconds(3))
        #expect(expired.counted(.forwardsDropped) == 1)
        #expect(a.outboxCount(for: "b") == 0)
        #expect(expired.countCompletions.map(\.id) == [id])
    }

    @Test("an emit whose acks do not come completes at the forward timeout with what it has")
    func forwardTimeout() {
        var a = F.started(peers: [F.b, F.c])
        let (answer, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard case .later(let id) = answer, let send = out.reportingSends.first else {
            Issue.record("expected a waiting broadcast: \(answer)")
            return
        }
        _ = a.sent(send.frame, to: send.peers, outcomes: [.queued, .queued], now: .seconds(1))
        _ = a.onFrame(.ack(requestID: id, count: 5), from: "c", now: .seconds(1))
        #expect(a.onTick(now: .milliseconds(2999)).countCompletions.isEmpty)
        let done = a.onTick(now: .seconds(3)).countCompletions
        #expect(done.map(\.id) == [id])
        #expect(done.first?.counts == [NodeCount(node: "c", count: 5)])
    }

    @Test("a lost link ends the wait for its forwards (no resend: it could deliver twice)")
    func linkDownEndsForwardWait() {
        var a = F.started(peers: [F.b])
        let (answer, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard case .later(let id) = answer, let send = out.reportingSends.first else {
            Issue.record("expected a waiting broadcast: \(answer)")
            return
        }
        _ = a.sent(send.frame, to: send.peers, outcomes: [.queued], now: .seconds(1))
        let down = a.linkDown(name: "b", now: .seconds(1))
        #expect(down.countCompletions.map(\.id) == [id])
        #expect(!down.contains { if case .sendReporting(.push, _) = $0 { true } else { false } })
    }

    @Test("a status query is asked again when the link comes back, and completes with the answer")
    func statsResendOnLinkUp() {
        var a = F.started(peers: [F.b])
        let (answer, out) = a.requestStats(now: .seconds(1))
        guard case .later(let id) = answer, let send = out.reportingSends.first, case .statsRequest(id) = send.frame else {
            Issue.record("expected a waiting status query: \(answer) \(out)")
            return
        }
        _ = a.sent(send.frame, to: send.peers, outcomes: [.queued], now: .seconds(1))
        _ = a.linkDown(name: "b", now: .milliseconds(1100))
        let up = a.linkUp(name: "b", address: F.b.address, incarnation: F.b.incarnation, now: .milliseconds(1200))
        #expect(up.reportingSends.contains { if case .statsRequest(id) = $0.frame { $0.peers == ["b"] } else { false } })
        let stats = LocalStats(node: "b", connections: 2, subscriptions: 3, channels: ["chat": 3])
        let done = a.onFrame(.statsResponse(requestID: id, stats: stats), from: "b", now: .milliseconds(1300))
        #expect(done.statsCompletions.map(\.id) == [id])
        #expect(done.statsCompletions.first?.stats == [stats])
    }

    @Test("a first subscriber waits until every active peer acknowledged; a second waiter shares the wait")
    func visibilityAcknowledged() {
        var a = F.started(peers: [F.b])
        var b = F.started(F.b, peers: [F.a])
        let (answer, out) = a.localChannelActivated("chat", now: .seconds(1))
        guard case .later(let id) = answer else {
            Issue.record("expected a visibility wait: \(answer)")
            return
        }
        guard case .later(let second) = a.whenVisible("chat") else {
            Issue.record("whenVisible must join the activation in flight")
            return
        }
        #expect(a.visibilityWaiterCount == 2)
        var acks: [InterestMessage] = []
        for send in out.interestSends where send.peers.contains("b") {
            acks += b.onFrame(.interest(send.message), from: "a", now: .seconds(1)).interestSends.filter { $0.peers == ["a"] }.map(\.message)
        }
        var completed: [Cluster.RequestID] = []
        for ack in acks { completed += a.onFrame(.interest(ack), from: "b", now: .seconds(1)).visibilityCompletions }
        #expect(completed.sorted() == [id, second].sorted())
        #expect(a.visibilityWaiterCount == 0)
        guard case .now = a.whenVisible("chat") else {
            Issue.record("nothing in flight any more")
            return
        }
    }

    @Test("a peer that does not acknowledge in time is reported, probed, and the subscriber answered")
    func visibilityTimeout() {
        var a = F.started(peers: [F.b])
        let (answer, _) = a.localChannelActivated("chat", now: .seconds(1))
        guard case .later(let id) = answer else {
            Issue.record("expected a visibility wait: \(answer)")
            return
        }
        let tick = a.onTick(now: .seconds(2))
        #expect(tick.visibilityCompletions == [id])
        let laggards = tick.compactMap { if case .report(.visibilityTimedOut("chat", let peers)) = $0 { peers } else { nil } }
        #expect(laggards == [["b"]])
    }

    @Test("a push from a peer is delivered, with an ack only when the sender asked for counts")
    func incomingPush() {
        var a = F.started(peers: [F.b])
        let asked = a.onFrame(.push(.init(requestID: 9, timestamp: 1, channel: "chat", data: F.data)), from: "b", now: .seconds(1))
        guard case .deliver(let push, "b", let ack) = asked.first else {
            Issue.record("expected a delivery: \(asked)")
            return
        }
        #expect(push.channel == "chat" && ack == 9)
        let unasked = a.onFrame(.push(.init(requestID: 0, timestamp: 1, channel: nil, data: F.data)), from: "b", now: .seconds(1))
        guard case .deliver(_, "b", nil) = unasked.first else {
            Issue.record("expected a delivery without ack: \(unasked)")
            return
        }
    }

    @Test("a malformed frame is counted and reported, nothing else")
    func malformedFrame() {
        let a = F.started(peers: [F.b])
        let out = a.onMalformedFrame(kind: 99, from: "b")
        #expect(out.counted(.malformedFrames) == 1)
        #expect(out.count == 2)
    }

    @Test("a member that leaves takes its outbox (counted dropped), its pending answers and its dialing")
    func memberLeft() {
        var a = F.started(peers: [F.b])
        var b = F.started(F.b, peers: [F.a])
        let (_, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        guard let send = out.reportingSends.first else {
            Issue.record("nothing sent")
            return
        }
        _ = a.sent(send.frame, to: send.peers, outcomes: [.notConnected], now: .seconds(1))
        var result: [F.Directive] = []
        for case .send(.membership(let message), let peers) in b.leave(now: .seconds(1)) where peers.contains("a") {
            result += a.onFrame(.membership(message), from: "b", now: .seconds(1))
        }
        #expect(result.counted(.forwardsDropped) == 1)
        #expect(result.countCompletions.count == 1)
        #expect(result.contains { if case .forget(F.b.address) = $0 { true } else { false } })
        #expect(a.outboxCount(for: "b") == 0)
        #expect(a.memberViews.first { $0.name == "b" }?.state == .left)
    }

    @Test("one timer: a tick is asked for only when something is due earlier than the one already set")
    func oneTimer() {
        var a = F.instance(F.a)
        let started = a.start(seeds: [F.a.address, F.b.address], now: .zero)
        #expect(started.ticks.count == 1)
        #expect(started.contains { if case .connect(F.b.address) = $0 { true } else { false } })
        #expect(!started.contains { if case .connect(F.a.address) = $0 { true } else { false } })
        _ = a.linkUp(name: "b", address: F.b.address, incarnation: F.b.incarnation, now: .zero)
        // A later deadline (the forward timeout) does not move the timer.
        let (_, out) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .milliseconds(1))
        #expect(out.ticks.isEmpty)
    }

    @Test("stop answers every request and waiter with what it has and asks for no more ticks")
    func stopCompletesEverything() {
        var a = F.started(peers: [F.b])
        let (forward, _) = a.broadcast(data: F.data, timestamp: 1, awaitCounts: true, now: .seconds(1))
        let (stats, _) = a.requestStats(now: .seconds(1))
        let (visible, _) = a.localChannelActivated("chat", now: .seconds(1))
        guard case .later(let f) = forward, case .later(let s) = stats, case .later(let v) = visible else {
            Issue.record("expected three waits")
            return
        }
        _ = a.leave(now: .seconds(1))
        let out = a.stop()
        #expect(out.countCompletions.map(\.id) == [f])
        #expect(out.statsCompletions.map(\.id) == [s])
        #expect(out.visibilityCompletions == [v])
        #expect(a.linkDown(name: "b", now: .seconds(2)).ticks.isEmpty)
    }
}
