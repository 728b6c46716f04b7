import Testing

@testable import ClusterCore

@Suite("Rendezvous ownership and the stream ring")
struct RendezvousAndStreamTests {
    @Test("every node computes the same order; removing a member moves only its channels")
    func rendezvousIsStable() {
        let members = ["n0", "n1", "n2", "n3", "n4"]
        var moved = 0
        for c in 0..<1000 {
            let channel = "ch-\(c)"
            let order = Rendezvous.order(channel: channel, members: members)
            #expect(order == Rendezvous.order(channel: channel, members: members.reversed()))
            let without = Rendezvous.order(channel: channel, members: members.filter { $0 != "n2" })
            #expect(without == order.filter { $0 != "n2" })
            if order.first == "n2" { moved += 1 }
        }
        // About a fifth of the channels belong to each node.
        #expect((120...280).contains(moved), "n2 owned \(moved) of 1000")
        // A fixed hash: the same on every platform and process.
        #expect(Rendezvous.score(channel: "chat", member: "n1") == Rendezvous.score(channel: "chat", member: "n1"))
        #expect(Rendezvous.score(channel: "chat", member: "n1") != Rendezvous.score(channel: "chat", member: "n2"))
    }

    @Test("the ring keeps the last `size` entries, none past the TTL, and never drops an unreleased one")
    func ringBounds() {
        var stream = History.Stream<[UInt8]>(epoch: "e", lease: 1, holder: "n0")
        for i in 1...10 {
            _ = stream.append(timestamp: 100 + i, key: .init(origin: "o", id: UInt64(i)), data: [1, 2, 3], bytes: 3)
        }
        stream.released = 8
        stream.trim(size: 3, ttlSeconds: 300, unixNow: 110)
        #expect(stream.entries.map(\.offset) == [8, 9, 10])
        #expect(stream.bytes == 9)
        stream.trim(size: 1, ttlSeconds: 300, unixNow: 110)
        // 9 and 10 are not released: kept whatever the size.
        #expect(stream.entries.map(\.offset) == [9, 10])
        stream.released = 10
        stream.trim(size: 3, ttlSeconds: 1, unixNow: 110)
        #expect(stream.entries.map(\.offset) == [9, 10])
        let range = stream.range(after: 8, limit: nil)
        #expect(range.entries.map(\.offset) == [9, 10])
        #expect(range.canRecover(epoch: "e", after: 8))
        #expect(!range.canRecover(epoch: "e", after: 7))
        #expect(range.canRecover(epoch: "e", after: 10))
        #expect(!range.canRecover(epoch: "e", after: 11))
        #expect(!range.canRecover(epoch: "other", after: 10))
        #expect(stream.range(after: nil, limit: 2).entries.map(\.offset) == [9, 10])
        #expect(stream.offset(of: .init(origin: "o", id: 9)) == 9)
        #expect(stream.offset(of: .init(origin: "o", id: 2)) == nil)
    }

    @Test("dropping what was not released gives the offsets back")
    func dropUnreleased() {
        var stream = History.Stream<[UInt8]>(epoch: "e", lease: 1, holder: "n0")
        for i in 1...4 { _ = stream.append(timestamp: 1, key: .init(origin: "o", id: UInt64(i)), data: [1], bytes: 1) }
        stream.released = 2
        stream.dropUnreleased()
        #expect(stream.top == 2)
        #expect(stream.append(timestamp: 1, key: .init(origin: "o", id: 9), data: [1], bytes: 1).offset == 3)
    }
}
