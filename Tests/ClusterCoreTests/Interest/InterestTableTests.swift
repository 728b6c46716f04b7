import Testing

@testable import ClusterCore

/// Rebuilds the reverse index from the per-owner views and checks it equals the maintained one.
func interestCheckInvariants(_ table: InterestTable, sourceLocation: SourceLocation = #_sourceLocation) {
    var rebuilt: [String: Set<String>] = [:]
    for (owner, remote) in table.remotes {
        for channel in remote.channels { rebuilt[channel, default: []].insert(owner) }
    }
    #expect(rebuilt == table.routes, sourceLocation: sourceLocation)
    #expect(!table.routes.values.contains { $0.isEmpty }, sourceLocation: sourceLocation)
}

@Suite struct InterestTableLocalTests {
    @Test func onlyFirstAndLastSubscriberProduceOps() {
        var a = InterestTable(nodeName: "a", epoch: 1)
        let first = a.localSubscribed(channel: "chat")
        #expect(first.op == .add("chat"))
        #expect(first.visibleAt == 1)
        let second = a.localSubscribed(channel: "chat")
        #expect(second.op == nil)
        #expect(second.count == 2)
        #expect(second.visibleAt == 1, "a later subscriber waits for the same add")
        #expect(a.localUnsubscribed(channel: "chat").op == nil)
        let last = a.localUnsubscribed(channel: "chat")
        #expect(last.op == .remove("chat"))
        #expect(last.count == 0)
        #expect(a.localUnsubscribed(channel: "chat").op == nil, "unsubscribing an absent channel is a no-op")
        #expect(a.localCountChanged(channel: "x", count: 5).op == .add("x"))
        #expect(a.localCountChanged(channel: "x", count: 3).op == nil)
        #expect(a.version == 3)

        let directives = a.flush()
        #expect(
            directives.deltas == [
                InterestDelta(owner: "a", epoch: 1, fromVersion: 1, ops: [.add("chat"), .remove("chat"), .add("x")])
            ]
        )
        #expect(a.flush().isEmpty, "nothing left to flush")
        #expect(a.flushedVersion == 3)
        #expect(a.publishedLocalChannels == ["x"])
    }

    @Test func flushIsBoundedByOpsAndBytes() {
        var settings = InterestTable.Settings()
        settings.maxOpsPerDelta = 256
        var a = InterestTable(nodeName: "a", epoch: 7, settings: settings)
        for i in 0..<1_000 { a.localSubscribed(channel: "c\(i)") }
        let deltas = a.flush().deltas
        #expect(deltas.map(\.ops.count) == [256, 256, 256, 232])
        var next: UInt64 = 1
        for delta in deltas {
            #expect(delta.fromVersion == next)
            next = delta.toVersion + 1
        }
        #expect(next == 1_001)

        settings.maxBytesPerMessage = 1_024
        var b = InterestTable(nodeName: "b", epoch: 1, settings: settings)
        for i in 0..<100 { b.localSubscribed(channel: String(repeating: "x", count: 200) + "\(i)") }
        let small = b.flush().deltas
        #expect(small.count > 20)
        #expect(small.allSatisfy { InterestMessage.delta($0).encoded().count <= 1_024 })
        #expect(small.reduce(0) { $0 + $1.ops.count } == 100)
    }
}

@Suite struct InterestTableRemoteTests {
    private func delta(_ from: UInt64, _ ops: [InterestOp], epoch: UInt64 = 1, owner: String = "a") -> InterestDelta {
        InterestDelta(owner: owner, epoch: epoch, fromVersion: from, ops: ops)
    }

    @Test func contiguousDeltasApplyAndAreAcked() {
        var b = InterestTable(nodeName: "b", epoch: 1)
        let out = b.apply(.delta(self.delta(1, [.add("x"), .add("y")])), from: "a")
        #expect(out.contains(.routesChanged(owner: "a")))
        #expect(out.acks.map(\.0) == [InterestAck(owner: "a", epoch: 1, version: 2)])
        #expect(out.acks.map(\.1) == ["a"])
        #expect(b.route("x") == ["a"])
        _ = b.apply(.delta(self.delta(3, [.remove("x")])), from: "a")
        #expect(b.route("x").isEmpty)
        #expect(b.route("y") == ["a"])
        #expect(b.knownState(of: "a")! == (1, 3))
        interestCheckInvariants(b)
    }

    @Test func reapplyIsIdempotentAndOverlapAppliesOnlyTheSuffix() {
        var b = InterestTable(nodeName: "b", epoch: 1)
        let d1 = self.delta(1, [.add("x"), .add("y"), .add("z")])
        _ = b.apply(.delta(d1), from: "a")
        let again = b.apply(.delta(d1), from: "a")
        #expect(again.ignoredReasons == [.alreadyApplied(owner: "a")])
        #expect(again.acks.map(\.0.version) == [3], "a duplicate is re-acked")
        // versions 2...5: 2 and 3 known; 4 removes x, 5 adds w.
        _ = b.apply(.delta(self.delta(2, [.remove("y"), .remove("z"), .remove("x"), .add("w")])), from: "a")
        #expect(b.channels(of: "a") == ["y", "z", "w"])
        #expect(b.knownState(of: "a")!.version == 5)
        interestCheckInvariants(b)
    }

    @Test func gapRequestsOneSyncFromTheOwner() {
        var b = InterestTable(nodeName: "b", epoch: 1)
        _ = b.apply(.delta(self.delta(1, [.add("x")])), from: "a")
        let gap = b.apply(.delta(self.delta(5, [.add("y")])), from: "a")
        #expect(gap.ignoredReasons == [.gap(owner: "a")])
        #expect(gap.syncRequests.map(\.0) == [InterestSyncRequest(owner: "a", knownEpoch: 1, knownVersion: 1)])
        #expect(gap.syncRequests.map(\.1) == ["a"])
        #expect(b.route("y").isEmpty)
        let again = b.apply(.delta(self.delta(6, [.add("z")])), from: "a")
        #expect(again.syncRequests.isEmpty, "one outstanding request at a time")
        // An unknown owner's delta that does not start at 1 is also a gap.
        #expect(b.apply(.delta(self.delta(3, [.add("q")], owner: "c")), from: "c").syncRequests.count == 1)
    }

    @Test func epochRestartReplacesTheOldViewAndOlderEpochsAreIgnored() {
        var b = InterestTable(nodeName: "b", epoch: 1)
        _ = b.apply(.delta(self.delta(1, [.add("old1"), .add("old2")], epoch: 5)), from: "a")
        // Restarted owner, first delta of the new epoch: starts from an empty set.
        let restarted = b.apply(.delta(self.delta(1, [.add("new")], epoch: 9)), from: "a")
        #expect(restarted.contains(.routesChanged(owner: "a")))
        #expect(b.channels(of: "a") == ["new"])
        #expect(b.route("old1").isEmpty)
        #expect(b.knownState(of: "a")! == (9, 1))
        // Late delta of the old epoch.
        let stale = b.apply(.delta(self.delta(3, [.add("old3")], epoch: 5)), from: "a")
        #expect(stale.ignoredReasons == [.staleEpoch(owner: "a")])
        #expect(b.route("old3").isEmpty)
        // A newer epoch that does not start at 1: sync.
        let newer = b.apply(.delta(self.delta(4, [.add("n")], epoch: 10)), from: "a")
        #expect(newer.syncRequests.map(\.0) == [InterestSyncRequest(owner: "a", knownEpoch: 9, knownVersion: 1)])
        interestCheckInvariants(b)
    }

    @Test func ownTableIsNeverChangedByOthers() {
        var a = InterestTable(nodeName: "a", epoch: 1)
        #expect(a.apply(.delta(self.delta(1, [.add("x")])), from: "b").ignoredReasons == [.ownTable])
        #expect(a.route("x").isEmpty)
    }

    @Test func removeNodeDropsItsRoutesAndAcks() {
        var a = InterestTable(nodeName: "a", epoch: 1)
        var b = InterestTable(nodeName: "b", epoch: 1)
        var c = InterestTable(nodeName: "c", epoch: 1)
        b.localSubscribed(channel: "x")
        c.localSubscribed(channel: "x")
        c.localSubscribed(channel: "y")
        for d in b.flush().deltas { _ = a.apply(.delta(d), from: "b") }
        for d in c.flush().deltas { _ = a.apply(.delta(d), from: "c") }
        #expect(a.route("x") == ["b", "c"])
        #expect(a.removeNode("c") == [.routesChanged(owner: "c")])
        #expect(a.route("x") == ["b"])
        #expect(a.route("y").isEmpty)
        #expect(a.knownState(of: "c") == nil)
        #expect(a.removeNode("c").isEmpty)
        interestCheckInvariants(a)
    }

    @Test func routeIsADictionaryLookupOverManyOwners() {
        var table = InterestTable(nodeName: "me", epoch: 1)
        for owner in 0..<200 {
            let ops = (0..<500).map { InterestOp.add("ch\(($0 * 7 + owner) % 1_000)") }
            _ = table.apply(
                .delta(InterestDelta(owner: "n\(owner)", epoch: 1, fromVersion: 1, ops: ops)),
                from: "n\(owner)"
            )
        }
        #expect(table.remoteRoutes.count == 1_000)
        interestCheckInvariants(table)
        // Every route answer equals a brute-force scan of the owners.
        for c in stride(from: 0, to: 1_000, by: 37) {
            let channel = "ch\(c)"
            let brute = Set((0..<200).map { "n\($0)" }.filter { table.channels(of: $0).contains(channel) })
            #expect(table.route(channel) == brute)
        }
        // 1,000,000 lookups stay cheap (a dictionary hit each; no per-owner scan).
        var total = 0
        for i in 0..<1_000_000 { total &+= table.route("ch\(i % 1_000)").count }
        #expect(total == 100_000_000)
        #expect(table.route("absent").isEmpty)
    }
}

@Suite struct InterestTableSnapshotTests {
    @Test func hundredThousandChannelsNeverExceedTheChunkBound() {
        var settings = InterestTable.Settings()
        settings.maxChannelsPerChunk = 512
        var a = InterestTable(nodeName: "a", epoch: 3, settings: settings)
        for i in 0..<100_000 { a.localSubscribed(channel: "channel-\(i)") }
        _ = a.flush()
        let sync = a.makeSync(for: "b", knownEpoch: 0, knownVersion: 0)
        let chunks = sync.snapshotChunks
        #expect(chunks.count == sync.count)
        #expect(chunks.count >= 100_000 / 512)
        #expect(chunks.allSatisfy { $0.channels.count <= 512 })
        #expect(chunks.allSatisfy { InterestMessage.snapshot($0).encoded().count <= settings.maxBytesPerMessage })
        #expect(chunks.enumerated().allSatisfy { Int($0.element.index) == $0.offset })
        #expect(chunks.last!.isLast && chunks.dropLast().allSatisfy { !$0.isLast })
        #expect(chunks.allSatisfy { $0.version == 100_000 && $0.epoch == 3 })
        let largest = chunks.map { InterestMessage.snapshot($0).encoded().count }.max() ?? 0
        print("interest snapshot: 100000 channels -> \(chunks.count) chunks, largest \(largest) bytes")

        var b = InterestTable(nodeName: "b", epoch: 1)
        var acks: [InterestAck] = []
        for chunk in chunks { acks += b.apply(.snapshot(chunk), from: "a").acks.map(\.0) }
        #expect(acks == [InterestAck(owner: "a", epoch: 3, version: 100_000)], "one ack, at the end")
        #expect(b.channels(of: "a").count == 100_000)
        #expect(b.route("channel-99999") == ["a"])
        interestCheckInvariants(b)
        // Re-delivering the whole snapshot is idempotent.
        let again = b.apply(.snapshot(chunks[0]), from: "a")
        #expect(again.ignoredReasons == [.alreadyApplied(owner: "a")])
    }

    @Test func oldViewKeepsRoutingUntilTheSnapshotEnds() {
        var settings = InterestTable.Settings()
        settings.maxChannelsPerChunk = 2
        var a = InterestTable(nodeName: "a", epoch: 1, settings: settings)
        var b = InterestTable(nodeName: "b", epoch: 1)
        for channel in ["keep", "drop"] { a.localSubscribed(channel: channel) }
        for d in a.flush().deltas { _ = b.apply(.delta(d), from: "a") }
        // b loses the next deltas; a's set becomes keep, n1...n5.
        a.localUnsubscribed(channel: "drop")
        for i in 1...5 { a.localSubscribed(channel: "n\(i)") }
        _ = a.flush()
        let chunks = a.makeSnapshot()
        #expect(chunks.count == 3)
        for chunk in chunks.dropLast() {
            _ = b.apply(.snapshot(chunk), from: "a")
            #expect(b.route("keep") == ["a"], "present in both views: always routed")
            #expect(b.route("drop") == ["a"], "old view kept until the end")
        }
        // A delta sent by a between chunks is buffered and replayed after the swap.
        a.localSubscribed(channel: "late")
        let late = a.flush().deltas
        #expect(b.apply(.delta(late[0]), from: "a").isEmpty)
        let end = b.apply(.snapshot(chunks.last!), from: "a")
        #expect(end.acks.map(\.0.version) == [8, 9])
        #expect(b.channels(of: "a") == ["keep", "n1", "n2", "n3", "n4", "n5", "late"])
        #expect(b.route("drop").isEmpty)
        interestCheckInvariants(b)
    }

    @Test func aLostChunkRestartsTheSync() {
        var settings = InterestTable.Settings()
        settings.maxChannelsPerChunk = 1
        var a = InterestTable(nodeName: "a", epoch: 1, settings: settings)
        for i in 0..<4 { a.localSubscribed(channel: "c\(i)") }
        _ = a.flush()
        var b = InterestTable(nodeName: "b", epoch: 1)
        let chunks = a.makeSnapshot()
        _ = b.apply(.snapshot(chunks[0]), from: "a")
        let skipped = b.apply(.snapshot(chunks[2]), from: "a")
        #expect(skipped.ignoredReasons == [.unexpectedChunk(owner: "a")])
        #expect(skipped.syncRequests.map(\.1) == ["a"])
        #expect(b.apply(.snapshot(chunks[3]), from: "a").ignoredReasons == [.unexpectedChunk(owner: "a")])
        #expect(b.channels(of: "a").isEmpty)
        let request = skipped.syncRequests[0].0
        for d in a.apply(.syncRequest(request), from: "b") {
            guard let (message, to) = d.outgoing else { continue }
            #expect(to == "b")
            _ = b.apply(message, from: "a")
        }
        #expect(b.channels(of: "a") == ["c0", "c1", "c2", "c3"])
    }

    @Test func syncRequestsAreAnsweredAndJoinSendsASnapshot() {
        var a = InterestTable(nodeName: "a", epoch: 2)
        a.localSubscribed(channel: "x")
        _ = a.flush()
        #expect(a.onSyncRequest(InterestSyncRequest(owner: "a", knownEpoch: 2, knownVersion: 1), from: "b").isEmpty)
        #expect(
            a.onSyncRequest(InterestSyncRequest(owner: "a", knownEpoch: 2, knownVersion: 0), from: "b").snapshotChunks
                .count == 1
        )
        #expect(
            a.onSyncRequest(InterestSyncRequest(owner: "z", knownEpoch: 0, knownVersion: 0), from: "b").ignoredReasons
                == [.notForThisNode]
        )
        let join = a.nodeJoined("c")
        #expect(
            join == [
                .send(
                    .snapshot(
                        InterestSnapshotChunk(owner: "a", epoch: 2, version: 1, index: 0, isLast: true, channels: ["x"])
                    ),
                    to: "c"
                )
            ]
        )
        // An empty table still sends one (empty, last) chunk.
        var empty = InterestTable(nodeName: "e", epoch: 1)
        #expect(empty.nodeJoined("c").snapshotChunks.map(\.isLast) == [true])
    }
}

@Suite struct InterestTableAckAndDigestTests {
    @Test func subscribeIsVisibleOnceEveryAlivePeerAcked() {
        var a = InterestTable(nodeName: "a", epoch: 1)
        var b = InterestTable(nodeName: "b", epoch: 1)
        var c = InterestTable(nodeName: "c", epoch: 1)
        let change = a.localSubscribed(channel: "chat")
        #expect(!a.isAcknowledged(version: change.visibleAt, by: ["b", "c"]))
        #expect(a.isAcknowledged(version: change.visibleAt, by: [String]()), "alone: visible at once")
        let delta = a.flush().deltas[0]
        #expect(delta.toVersion >= change.visibleAt)
        let ackB = b.apply(.delta(delta), from: "a").acks[0]
        let ackC = c.apply(.delta(delta), from: "a").acks[0]
        #expect(a.apply(.ack(ackB.0), from: "b") == [.acknowledged(peer: "b", version: 1)])
        #expect(!a.isAcknowledged(version: change.visibleAt, by: ["a", "b", "c"]))
        #expect(a.apply(.ack(ackB.0), from: "b").isEmpty, "duplicate ack")
        _ = a.apply(.ack(ackC.0), from: "c")
        #expect(a.isAcknowledged(version: change.visibleAt, by: ["a", "b", "c"]))
        // A second subscriber is visible at once; a new peer must ack first.
        let second = a.localSubscribed(channel: "chat")
        #expect(a.isAcknowledged(version: second.visibleAt, by: ["b", "c"]))
        #expect(!a.isAcknowledged(version: second.visibleAt, by: ["b", "c", "d"]))
        // Acks for another epoch or owner, or beyond what was flushed, do not count.
        #expect(a.onAck(InterestAck(owner: "a", epoch: 2, version: 1), from: "d").ignoredReasons == [.notForThisNode])
        #expect(a.onAck(InterestAck(owner: "x", epoch: 1, version: 1), from: "d").ignoredReasons == [.notForThisNode])
        _ = a.onAck(InterestAck(owner: "a", epoch: 1, version: 99), from: "d")
        #expect(a.acknowledgedVersion(by: "d") == 1)
        // nodeJoined forgets what a (restarted) peer acked.
        _ = a.nodeJoined("d")
        #expect(a.acknowledgedVersion(by: "d") == 0)
    }

    @Test func digestRequestsSyncWhenTheSenderIsAheadAndActsAsAck() {
        var settings = InterestTable.Settings()
        settings.syncRetryDigests = 2
        var a = InterestTable(nodeName: "a", epoch: 4)
        var b = InterestTable(nodeName: "b", epoch: 1, settings: settings)
        a.localSubscribed(channel: "x")
        _ = a.flush()  // lost on the way to b
        b.localSubscribed(channel: "y")
        _ = b.flush()
        let digest = a.digest()
        #expect(digest.entries == [.init(owner: "a", epoch: 4, version: 1)])
        let first = b.apply(.digest(digest), from: "a")
        #expect(first.syncRequests.map(\.0) == [InterestSyncRequest(owner: "a", knownEpoch: 0, knownVersion: 0)])
        // Still ahead: wait syncRetryDigests digests, then ask again.
        #expect(b.apply(.digest(digest), from: "a").syncRequests.isEmpty)
        #expect(b.apply(.digest(digest), from: "a").syncRequests.isEmpty)
        #expect(b.apply(.digest(digest), from: "a").syncRequests.count == 1)
        // Entries about other owners never trigger requests.
        let hearsay = InterestDigest(entries: [
            .init(owner: "a", epoch: 4, version: 0), .init(owner: "z", epoch: 1, version: 50),
        ])
        #expect(b.apply(.digest(hearsay), from: "a").syncRequests.isEmpty)
        // The sender's entry about the receiver acknowledges it.
        let fromB = InterestDigest(entries: [
            .init(owner: "a", epoch: 4, version: 1), .init(owner: "b", epoch: 1, version: 0),
        ])
        #expect(a.apply(.digest(fromB), from: "b") == [.acknowledged(peer: "b", version: 1)])
        // A fresh peer with version 0 is learnt without a sync.
        var c = InterestTable(nodeName: "c", epoch: 1)
        #expect(c.apply(.digest(InterestTable(nodeName: "n", epoch: 8).digest()), from: "n").syncRequests.isEmpty)
        #expect(c.knownState(of: "n")! == (8, 0))
    }

    @Test func aStreamingSnapshotIsNotRequestedAgainAndOlderEpochsAreIgnored() {
        var settings = InterestTable.Settings()
        settings.maxChannelsPerChunk = 1
        settings.syncRetryDigests = 1
        var a = InterestTable(nodeName: "a", epoch: 2, settings: settings)
        for i in 0..<3 { a.localSubscribed(channel: "c\(i)") }
        _ = a.flush()
        var b = InterestTable(nodeName: "b", epoch: 1, settings: settings)
        let digest = a.digest(for: "b")
        #expect(b.apply(.digest(digest), from: "a").syncRequests.count == 1)
        let chunks = a.makeSnapshot()
        var requests = 0
        for chunk in chunks.dropLast() {
            _ = b.apply(.snapshot(chunk), from: "a")
            // Two digests between chunks would trigger a retry; progress resets the count.
            requests += b.apply(.digest(digest), from: "a").syncRequests.count
        }
        #expect(requests == 0)
        _ = b.apply(.snapshot(chunks.last!), from: "a")
        #expect(b.channels(of: "a") == ["c0", "c1", "c2"])
        let older = InterestDigest(entries: [.init(owner: "a", epoch: 1, version: 99)])
        #expect(b.apply(.digest(older), from: "a").syncRequests.isEmpty)
    }

    @Test func digestTickFlushesThenSendsEachPeerItsDigest() {
        var a = InterestTable(nodeName: "a", epoch: 1)
        var b = InterestTable(nodeName: "b", epoch: 5)
        a.localSubscribed(channel: "x")
        for d in a.flush().deltas { _ = b.apply(.delta(d), from: "a") }
        b.localSubscribed(channel: "y")
        let tick = b.onDigestTick(peers: ["a", "b", "c"])
        #expect(tick.count == 3, "one delta, two digests (none to itself)")
        #expect(tick.deltas.count == 1)
        #expect(
            tick[1]
                == .send(
                    .digest(
                        InterestDigest(entries: [
                            .init(owner: "a", epoch: 1, version: 1), .init(owner: "b", epoch: 5, version: 1),
                        ])
                    ),
                    to: "a"
                )
        )
        #expect(tick[2] == .send(.digest(InterestDigest(entries: [.init(owner: "b", epoch: 5, version: 1)])), to: "c"))
        #expect(b.digest().entries.map(\.owner) == ["a", "b"])
    }
}
