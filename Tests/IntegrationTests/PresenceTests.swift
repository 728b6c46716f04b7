import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// Identity and presence across real node processes: tokens at the door, one member per user cluster-wide,
/// the leave hold, a crashed node's users, and the backends' `disconnect`.
@Suite(.serialized) struct PresenceTests {
    private static let tokenArguments = ["--token-secret", TestTokens.secret]

    /// A connection of `user` to `node`, identified with `?token=`.
    private func connect(_ node: NodeProcess, as user: String, info: [String: String]? = nil) async throws -> WebSocketClient {
        let token = try await TestTokens.mint(user: user, info: info)
        let client = try await WebSocketClient.connect(host: node.host, port: node.wsPort, path: "/?token=\(token)")
        return client
    }

    private func joinPresence(_ client: WebSocketClient, _ channel: String) async throws {
        let result = try await client.call(method: "subscribe", params: ["channel": .string(channel), "presence": true])
        #expect(result == "subscribed")
    }

    /// The next join or leave push for `user`, skipping others; nil after `timeout`.
    private func nextPresence(_ client: WebSocketClient, user: String, timeout: Duration = .seconds(20)) async throws -> JSONValue? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let message = try await client.nextMessage(timeout: deadline - ContinuousClock.now) else { return nil }
            if message["user"]?.stringValue == user, ["join", "leave"].contains(message["__type"]?.stringValue ?? "") { return message }
        }
        return nil
    }

    private func members(_ backend: MessagesSourceClient, _ channel: String) async throws -> [String: Int] {
        let result = try await backend.call(method: "presence", params: ["channel": .string(channel)])
        var out: [String: Int] = [:]
        for member in result["members"]?.arrayValue ?? [] {
            out[member["user"]?.stringValue ?? "?"] = member["connections"]?.intValue
        }
        return out
    }

    @Test func badTokensAreRefusedAsTheContractSays() async throws {
        let cluster = try await TestCluster.start(count: 1, arguments: Self.tokenArguments)
        defer { cluster.killAll() }
        let node = cluster.node(1)
        let expired = try await TestTokens.mint(user: "alice", expiresIn: -120)
        let wronglySigned = try await TestTokens.mint(user: "alice", secret: "not-the-node-secret-but-long-enough-42")
        for token in ["garbage", expired, wronglySigned] {
            await #expect(throws: ClientError.handshakeFailed(status: 401), "token \(token.prefix(16))") {
                _ = try await WebSocketClient.connect(host: node.host, port: node.wsPort, path: "/?token=\(token)")
            }
        }
        // Without a token, only `connect` is allowed: anything else is -32005, then close 1008.
        let anonymous = try await node.webSocket()
        await #expect {
            try await anonymous.call(method: "subscribe", params: ["channel": "room"])
        } throws: { ($0 as? JSONRPCError)?.code == -32005 }
        #expect(await closeCode(of: anonymous) == 1008)
        // A bad token in `connect`: the same.
        let badConnect = try await node.webSocket()
        await #expect {
            try await badConnect.call(method: "connect", params: ["token": .string(expired)])
        } throws: { ($0 as? JSONRPCError)?.code == -32005 }
        #expect(await closeCode(of: badConnect) == 1008)
        // A good token in `connect` opens the door, presence included.
        let good = try await node.webSocket()
        let token = try await TestTokens.mint(user: "alice", info: ["name": "Alice"])
        #expect(try await good.call(method: "connect", params: ["token": .string(token)]) == ["user": "alice"])
        try await joinPresence(good, "room")
        #expect(try await good.call(method: "presence", params: ["channel": "room"]) == ["members": [["user": "alice", "info": ["name": "Alice"], "connections": 1]]])
        #expect(try await node.metric("rocketws_tokens_refused_total") == 5)
    }

    @Test func oneUserOnTwoNodesIsOneMemberAndLeavesOnceAfterTheHold() async throws {
        let cluster = try await TestCluster.start(count: 3, arguments: Self.tokenArguments)
        defer { cluster.killAll() }
        let watcher = try await connect(cluster.node(3), as: "watcher")
        try await joinPresence(watcher, "room")
        let aliceOn1 = try await connect(cluster.node(1), as: "alice", info: ["name": "Alice"])
        let aliceOn2 = try await connect(cluster.node(2), as: "alice", info: ["name": "Alice"])
        try await joinPresence(aliceOn1, "room")
        let join = try #require(try await nextPresence(watcher, user: "alice"))
        #expect(join["__type"] == "join")
        #expect(join["__channel"] == "room")
        #expect(join["info"] == ["name": "Alice"])
        try await joinPresence(aliceOn2, "room")
        for i in 1...3 {
            let backend = cluster.backend(i)
            #expect(await eventually { (try? await members(backend, "room")) == ["alice": 2, "watcher": 1] }, "presence on n\(i)")
            #expect(try await backend.call(method: "presence_stats", params: ["channel": "room"]) == ["users": 2, "connections": 3])
        }
        // Closing one keeps alice present; no leave comes, even after the hold.
        try await aliceOn1.close()
        #expect(try await nextPresence(watcher, user: "alice", timeout: .seconds(7)) == nil, "no leave while alice has a connection")
        #expect(try await members(cluster.backend(3), "room") == ["alice": 1, "watcher": 1])
        // Closing both: one leave, after the 5 s hold.
        let closedAt = ContinuousClock.now
        try await aliceOn2.close()
        let leave = try #require(try await nextPresence(watcher, user: "alice"))
        let held = ContinuousClock.now - closedAt
        #expect(leave["__type"] == "leave")
        #expect(leave["info"] == ["name": "Alice"])
        #expect(held >= .milliseconds(4_900) && held < .seconds(9), "leave after \(held)")
        #expect(try await nextPresence(watcher, user: "alice", timeout: .seconds(2)) == nil, "exactly one leave")
        #expect(try await cluster.backend(1).call(method: "presence_stats", params: ["channel": "room"]) == ["users": 1, "connections": 1])
    }

    @Test func aKilledNodesUsersLeaveEverywhereWithinDetectionPlusHold() async throws {
        let cluster = try await TestCluster.start(count: 3, arguments: Self.tokenArguments)
        defer { cluster.killAll() }
        let watchers = [try await connect(cluster.node(1), as: "w1"), try await connect(cluster.node(3), as: "w3")]
        for watcher in watchers { try await joinPresence(watcher, "room") }
        let alice = try await connect(cluster.node(2), as: "alice")
        try await joinPresence(alice, "room")
        for watcher in watchers { #expect(try await nextPresence(watcher, user: "alice")?["__type"] == "join") }
        let killedAt = ContinuousClock.now
        cluster.node(2).kill9()
        for (i, watcher) in watchers.enumerated() {
            let leave = try await nextPresence(watcher, user: "alice", timeout: .seconds(30))
            #expect(leave?["__type"] == "leave", "watcher \(i)")
            let after = ContinuousClock.now - killedAt
            #expect(after < .seconds(25), "leave \(after) after the kill")
            print("watcher \(i): leave \(after) after kill -9")
        }
        for i in [1, 3] { #expect(try await members(cluster.backend(i), "room").keys.sorted() == ["w1", "w3"]) }
    }

    @Test func disconnectClosesAUsersConnectionsOnEveryNodeWith4000() async throws {
        let cluster = try await TestCluster.start(count: 3, arguments: Self.tokenArguments)
        defer { cluster.killAll() }
        let aliceOn1 = try await connect(cluster.node(1), as: "alice")
        let aliceOn2 = try await connect(cluster.node(2), as: "alice")
        let bob = try await connect(cluster.node(3), as: "bob")
        for client in [aliceOn1, aliceOn2, bob] { try await joinPresence(client, "room") }
        #expect(await eventually { (try? await members(cluster.backend(3), "room")) == ["alice": 2, "bob": 1] })
        #expect(try await cluster.backend(3).call(method: "disconnect", params: ["user": "alice"]) == ["disconnected": 2])
        #expect(await closeCode(of: aliceOn1) == 4000)
        #expect(await closeCode(of: aliceOn2) == 4000)
        #expect(try await bob.call(method: "heartbeat") == ["heartbeat": "ok"])
        #expect(try await cluster.backend(1).call(method: "unsubscribe", params: ["user": "bob", "channel": "room"]) == ["unsubscribed": 1])
        #expect(await eventually { (try? await members(cluster.backend(2), "room")) == [:] })
        #expect(try await cluster.backend(2).call(method: "disconnect", params: ["user": "nobody"]) == ["disconnected": 0])
    }
}
