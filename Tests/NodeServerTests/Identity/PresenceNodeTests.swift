import NIOCore
import RocketWSClient
import RocketWSTestKit
import Testing

@testable import NodeServer

/// Identity and presence on one node (the serving side alone): the token's `channels`, presence without a
/// token secret, the answers, the pushes and the backends' orders.
@Suite(.serialized) struct PresenceNodeTests {
    private func code(of error: any Error) -> Int? {
        (error as? RocketWSClient.JSONRPCError)?.code
    }

    private func client(_ node: InProcessNode, as user: String, channels: [String]? = nil) async throws -> WebSocketClient {
        let token = try await TestTokens.mint(user: user, info: ["name": user], channels: channels)
        return try await WebSocketClient.connect(host: "127.0.0.1", port: node.ports.webSocket, path: "/?token=\(token)")
    }

    @Test func presenceNeedsATokenSecret() async throws {
        let node = try await InProcessNode.start()
        let ws = try await node.client()
        await #expect { try await ws.call(method: "subscribe", params: ["channel": "room", "presence": true]) } throws: { code(of: $0) == -32005 }
        // The connection stays open and a plain subscribe works.
        try await ws.subscribe("room")
        await node.stop()
    }

    @Test func theChannelsClaimAdmitsListedPrivateChannels() async throws {
        let node = try await InProcessNode.start {
            $0.webSocket.tokenSecret = TestTokens.secret
            $0.webSocket.privateChannelSecret = "private-secret"
        }
        let ws = try await client(node, as: "alice", channels: ["private-alice"])
        try await ws.subscribe("private-alice")
        await #expect { try await ws.subscribe("private-bob") } throws: { code(of: $0) == -32003 }
        await node.stop()
    }

    @Test func joinsLeavesAnswersAndOrders() async throws {
        let node = try await InProcessNode.start { $0.webSocket.tokenSecret = TestTokens.secret }
        let watcher = try await client(node, as: "watcher")
        #expect(try await watcher.call(method: "subscribe", params: ["channel": "room", "presence": true]) == "subscribed")
        #expect(try await watcher.nextMessage()?["user"] == "watcher")
        let alice = [try await client(node, as: "alice"), try await client(node, as: "alice")]
        for ws in alice { #expect(try await ws.call(method: "subscribe", params: ["channel": "room", "presence": true]) == "subscribed") }
        let join = try #require(try await watcher.nextMessage())
        #expect(join["__type"] == "join")
        #expect(join["__channel"] == "room")
        #expect(join["user"] == "alice")
        #expect(join["info"] == ["name": "alice"])
        let backend = node.backend()
        #expect(try await backend.call(method: "presence_stats", params: ["channel": "room"]) == ["users": 2, "connections": 3])
        let listed = try await watcher.call(method: "presence", params: ["channel": "room"])
        #expect(listed == ["members": [["user": "alice", "info": ["name": "alice"], "connections": 2], ["user": "watcher", "info": ["name": "watcher"], "connections": 1]]])
        #expect(try await backend.call(method: "unsubscribe", params: ["user": "alice", "channel": "room"]) == ["unsubscribed": 2])
        let leave = try #require(try await watcher.nextMessage())
        #expect(leave["__type"] == "leave")
        #expect(leave["user"] == "alice")
        #expect(try await backend.call(method: "disconnect", params: ["user": "alice"]) == ["disconnected": 2])
        for ws in alice { #expect(await closeCode(of: ws) == 4000) }
        await #expect { try await backend.call(method: "disconnect", params: ["who": "alice"]) } throws: { code(of: $0) == -32602 }
        await node.stop()
    }
}
