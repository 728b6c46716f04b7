import Testing

@testable import ClusterCore

/// Delivers every directive between tables the way a mesh without loss would (broadcasts to all others).
private func pump(_ tables: inout [String: PresenceTable], _ initial: [(from: String, PresenceDirective)]) -> [PresenceChange] {
    var queue = initial
    var changes: [PresenceChange] = []
    while !queue.isEmpty {
        let (from, directive) = queue.removeFirst()
        switch directive {
        case .changed(let change): changes.append(change)
        case .broadcast(let message):
            for name in tables.keys.sorted() where name != from {
                queue += tables[name]!.apply(PresenceMessage.decode(message.encoded())!, from: from).map { (name, $0) }
            }
        case .send(let message, let to):
            queue += tables[to]!.apply(PresenceMessage.decode(message.encoded())!, from: from).map { (to, $0) }
        }
    }
    return changes
}

@Suite("Presence table")
struct PresenceTableTests {
    @Test("only a user's first connection on a node joins and their last one leaves")
    func firstAndLast() {
        var a = PresenceTable(nodeName: "a", epoch: 1)
        #expect(a.localJoined(channel: "room", user: "u", info: "{}") == [.changed(.appeared(channel: "room", user: "u", info: "{}"))])
        #expect(a.localJoined(channel: "room", user: "u", info: "{}") == [])
        #expect(a.localConnectionCount(in: "room") == 2)
        #expect(a.localLeft(channel: "room", user: "u") == [])
        #expect(a.userCount(in: "room") == 1)
        #expect(a.localLeft(channel: "room", user: "u") == [.changed(.vanished(channel: "room", user: "u", info: "{}"))])
        #expect(a.userCount(in: "room") == 0)
        #expect(a.localLeft(channel: "room", user: "u") == [])
        // Two ops travel (join and leave), in one delta.
        let flushed = a.flush()
        #expect(flushed == [.broadcast(.delta(owner: "a", epoch: 1, fromVersion: 1, ops: [.join(channel: "room", user: "u", info: "{}"), .leave(channel: "room", user: "u")]))])
    }

    @Test("a user on two nodes is one member; closing one keeps them present, closing both makes them vanish once")
    func userOnTwoNodes() {
        var tables = ["a": PresenceTable(nodeName: "a", epoch: 1), "b": PresenceTable(nodeName: "b", epoch: 1), "c": PresenceTable(nodeName: "c", epoch: 1)]
        _ = tables["a"]!.localJoined(channel: "room", user: "u", info: #"{"n":1}"#)
        _ = tables["b"]!.localJoined(channel: "room", user: "u", info: #"{"n":1}"#)
        var changes = pump(&tables, tables["a"]!.flush().map { ("a", $0) } + tables["b"]!.flush().map { ("b", $0) })
        #expect(changes.filter { if case .appeared = $0 { true } else { false } }.count == 1)  // only c saw a new member
        for name in ["a", "b", "c"] {
            #expect(tables[name]!.userCount(in: "room") == 1)
            #expect(tables[name]!.holders(of: "u", in: "room") == ["a", "b"])
        }
        _ = tables["a"]!.localLeft(channel: "room", user: "u")
        changes = pump(&tables, tables["a"]!.flush().map { ("a", $0) })
        #expect(changes.isEmpty)
        #expect(tables["c"]!.userCount(in: "room") == 1)
        let vanished = tables["b"]!.localLeft(channel: "room", user: "u")
        changes = pump(&tables, vanished.map { ("b", $0) } + tables["b"]!.flush().map { ("b", $0) })
        // b itself, then a and c: one vanish per node.
        #expect(changes == Array(repeating: .vanished(channel: "room", user: "u", info: #"{"n":1}"#), count: 3))
        for name in ["a", "b", "c"] { #expect(tables[name]!.userCount(in: "room") == 0) }
    }

    @Test("a lost delta is a gap: the receiver asks for a snapshot and converges")
    func gapRepair() {
        var a = PresenceTable(nodeName: "a", epoch: 1)
        var b = PresenceTable(nodeName: "b", epoch: 1)
        _ = a.localJoined(channel: "room", user: "u1", info: "{}")
        _ = a.flush()  // lost
        _ = a.localJoined(channel: "room", user: "u2", info: "{}")
        guard case .broadcast(let second) = a.flush().first! else { Issue.record("no delta"); return }
        let asked = b.apply(second, from: "a")
        #expect(asked == [.send(.syncRequest(owner: "a"), to: "a")])
        #expect(b.userCount(in: "room") == 0)
        var tables = ["a": a, "b": b]
        _ = pump(&tables, asked.map { ("b", $0) })
        #expect(tables["b"]!.members(of: "room").map(\.user) == ["u1", "u2"])
        #expect(tables["b"]!.knownState(of: "a")! == (1, 2))
    }

    @Test("a digest showing the owner ahead asks for a sync; a digest of what is known does nothing")
    func digestRepair() {
        var a = PresenceTable(nodeName: "a", epoch: 1)
        var b = PresenceTable(nodeName: "b", epoch: 1)
        _ = a.localJoined(channel: "room", user: "u1", info: "{}")
        _ = a.flush()  // lost
        let asked = b.apply(a.digest(), from: "a")
        #expect(asked == [.send(.syncRequest(owner: "a"), to: "a")])
        // The request is lost too: the next digest waits (one retry every second digest), the one after asks again.
        #expect(b.apply(a.digest(), from: "a") == [])
        #expect(b.apply(a.digest(), from: "a") == asked)
        var tables = ["a": a, "b": b]
        _ = pump(&tables, asked.map { ("b", $0) })
        #expect(tables["b"]!.apply(tables["a"]!.digest(), from: "a") == [])
        #expect(tables["b"]!.isPresent("u1", in: "room"))
    }

    @Test("a restarted owner's snapshot replaces its old entries by diff: who is in both never vanishes")
    func restart() {
        var tables = ["a": PresenceTable(nodeName: "a", epoch: 1), "b": PresenceTable(nodeName: "b", epoch: 1)]
        _ = tables["a"]!.localJoined(channel: "room", user: "stays", info: "{}")
        _ = tables["a"]!.localJoined(channel: "room", user: "goes", info: "{}")
        _ = pump(&tables, tables["a"]!.flush().map { ("a", $0) })
        #expect(tables["b"]!.userCount(in: "room") == 2)
        tables["a"] = PresenceTable(nodeName: "a", epoch: 2)
        _ = tables["a"]!.localJoined(channel: "room", user: "stays", info: "{}")
        _ = tables["a"]!.flush()
        let changes = pump(&tables, tables["a"]!.nodeJoined("b").map { ("a", $0) })
        #expect(changes == [.vanished(channel: "room", user: "goes", info: "{}")])
        #expect(tables["b"]!.knownState(of: "a")! == (2, 1))
    }

    @Test("a node declared dead takes its users with it at once")
    func deadNode() {
        var tables = ["a": PresenceTable(nodeName: "a", epoch: 1), "b": PresenceTable(nodeName: "b", epoch: 1)]
        for user in ["u1", "u2"] { _ = tables["a"]!.localJoined(channel: "room", user: user, info: "{}") }
        _ = tables["b"]!.localJoined(channel: "room", user: "u1", info: "{}")
        _ = pump(&tables, tables["a"]!.flush().map { ("a", $0) })
        let changes = tables["b"]!.removeNode("a")
        #expect(changes == [.changed(.vanished(channel: "room", user: "u2", info: "{}"))])
        #expect(tables["b"]!.members(of: "room").map(\.user) == ["u1"])
    }

    @Test("snapshots are chunked and deltas arriving meanwhile are replayed after the swap")
    func chunkedSnapshot() {
        var settings = PresenceTable.Settings()
        settings.maxEntriesPerChunk = 3
        var a = PresenceTable(nodeName: "a", epoch: 1, settings: settings)
        var b = PresenceTable(nodeName: "b", epoch: 1)
        for i in 0..<10 { _ = a.localJoined(channel: "room", user: "u\(i)", info: "{}") }
        _ = a.flush()
        let chunks = a.nodeJoined("b")
        #expect(chunks.count == 4)
        for directive in chunks.prefix(2) {
            guard case .send(let message, _) = directive else { continue }
            _ = b.apply(message, from: "a")
        }
        _ = a.localJoined(channel: "room", user: "late", info: "{}")
        guard case .broadcast(let delta) = a.flush().first! else { return }
        #expect(b.apply(delta, from: "a") == [])
        #expect(b.userCount(in: "room") == 0)
        for directive in chunks.dropFirst(2) {
            guard case .send(let message, _) = directive else { continue }
            _ = b.apply(message, from: "a")
        }
        #expect(b.userCount(in: "room") == 11)
        #expect(b.knownState(of: "a")! == (1, 11))
    }

    @Test("wire formats round-trip and truncated or extended bytes do not decode")
    func wire() {
        let messages: [PresenceMessage] = [
            .delta(owner: "a", epoch: 7, fromVersion: 3, ops: [.join(channel: "room", user: "ü", info: #"{"name":"Ann"}"#), .leave(channel: "room", user: "b")]),
            .digest(owner: "a", epoch: 7, version: 9),
            .syncRequest(owner: "a"),
            .snapshot(owner: "a", epoch: 7, version: 9, index: 2, isLast: true, entries: [PresenceEntry(channel: "c", user: "u", info: "{}")]),
        ]
        for message in messages {
            let bytes = message.encoded()
            #expect(PresenceMessage.decode(bytes) == message)
            #expect(PresenceMessage.decode(bytes.dropLast()) == nil)
            #expect(PresenceMessage.decode(bytes + [0]) == nil)
        }
        let requests: [PresenceRequest] = [.counts(channel: "room", perUser: true), .disconnect(user: "u"), .unsubscribe(user: "u", channel: "room")]
        for request in requests {
            #expect(PresenceRequest.decode(request.encoded(id: 5))! == (5, request))
        }
        let replies: [PresenceReply] = [.counts(connections: 3, perUser: ["u": 2, "v": 1]), .affected(4)]
        for reply in replies {
            #expect(PresenceReply.decode(reply.encoded(id: 6))! == (6, reply))
            #expect(PresenceReply.decode(reply.encoded(id: 6).dropLast()) == nil)
        }
    }
}

@Suite("Presence leave hold")
struct PresenceHoldTests {
    @Test("a user back within the hold produces neither a leave nor a second join")
    func backWithinHold() {
        var hold = PresenceHold(hold: .seconds(5))
        #expect(hold.apply(.appeared(channel: "r", user: "u", info: "{}"), now: .zero).map(\.kind) == [.join])
        #expect(hold.apply(.vanished(channel: "r", user: "u", info: "{}"), now: .seconds(1)) == [])
        #expect(hold.apply(.appeared(channel: "r", user: "u", info: "{}"), now: .seconds(5)) == [])
        #expect(hold.due(now: .seconds(10)) == [])
        #expect(hold.nextDeadline == nil)
    }

    @Test("a user still gone when the hold runs out leaves once, with their info")
    func leaveAfterHold() {
        var hold = PresenceHold(hold: .seconds(5))
        _ = hold.apply(.vanished(channel: "r", user: "u", info: #"{"a":1}"#), now: .seconds(1))
        #expect(hold.nextDeadline == .seconds(6))
        #expect(hold.due(now: .milliseconds(5999)) == [])
        #expect(hold.due(now: .seconds(6)) == [PresenceEvent(kind: .leave, channel: "r", user: "u", info: #"{"a":1}"#)])
        #expect(hold.due(now: .seconds(60)) == [])
    }

    @Test("a user who leaves, returns and leaves again is held from the second leave")
    func secondLeave() {
        var hold = PresenceHold(hold: .seconds(5))
        _ = hold.apply(.vanished(channel: "r", user: "u", info: "{}"), now: .seconds(0))
        _ = hold.apply(.appeared(channel: "r", user: "u", info: "{}"), now: .seconds(1))
        _ = hold.apply(.vanished(channel: "r", user: "u", info: "{}"), now: .seconds(3))
        #expect(hold.due(now: .seconds(5)) == [])
        #expect(hold.due(now: .seconds(8)).map(\.kind) == [.leave])
    }
}
