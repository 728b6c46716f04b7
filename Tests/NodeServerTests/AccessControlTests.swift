import NIOCore
import RocketWSClient
import RocketWSTestKit
import Testing

@testable import NodeServer

/// Origins, connection and channel limits, request rate, private channels.
@Suite(.serialized) struct AccessControlTests {
    private func code(of error: any Error) -> Int? {
        (error as? RocketWSClient.JSONRPCError)?.code
    }

    @Test func originAllowList() async throws {
        let node = try await InProcessNode.start { $0.webSocket.allowedOrigins = ["https://app.example"] }
        let allowed = try await node.client(headers: [("Origin", "https://app.example")])
        #expect(try await allowed.call(method: "heartbeat") == ["heartbeat": "ok"])
        do {
            _ = try await node.client(headers: [("Origin", "https://evil.example")])
            Issue.record("a foreign origin was let in")
        } catch let error as ClientError {
            #expect(error.status == 403)
        }
        await node.stop()
    }

    @Test func connectionLimitRefusesCleanly() async throws {
        let node = try await InProcessNode.start { $0.webSocket.maxConnections = 2 }
        let a = try await node.client()
        let b = try await node.client()
        do {
            _ = try await node.client()
            Issue.record("a third connection was let in")
        } catch let error as ClientError {
            #expect(error.status == 503)
        }
        try await a.close()
        #expect(await eventually { (try? await node.client()) != nil })
        #expect(try await b.call(method: "heartbeat") == ["heartbeat": "ok"])
        await node.stop()
    }

    @Test func channelsPerConnectionAreLimited() async throws {
        let node = try await InProcessNode.start { $0.webSocket.maxChannelsPerConnection = 3 }
        let ws = try await node.client()
        for channel in ["a", "b", "c"] { try await ws.subscribe(channel) }
        try await ws.subscribe("a")  // already subscribed: not a new channel
        do {
            try await ws.subscribe("d")
            Issue.record("a fourth channel was accepted")
        } catch {
            #expect(code(of: error) == -32001)
        }
        #expect(try await ws.call(method: "unsubscribe", params: ["channel": "a"]) == "unsubscribed")
        try await ws.subscribe("d")
        await node.stop()
    }

    @Test func requestRateIsLimitedPerConnection() async throws {
        let node = try await InProcessNode.start { $0.webSocket.maxRequestsPerSecond = 5 }
        let ws = try await node.client()
        for id in 0..<20 { try await ws.send(text: #"{"jsonrpc":"2.0","id":\#(id),"method":"heartbeat"}"#) }
        var ok = 0
        var limited = 0
        for _ in 0..<20 {
            let answer = try #require(try await ws.nextMessage())
            if answer["result"] != nil { ok += 1 }
            if answer["error"]?["code"] == -32001 { limited += 1 }
        }
        #expect(ok >= 5 && ok < 20)
        #expect(ok + limited == 20)
        // Another connection has its own budget.
        #expect(try await node.client().call(method: "heartbeat") == ["heartbeat": "ok"])
        await node.stop()
    }

    @Test func privateChannelsNeedATokenSignedForTheConnection() async throws {
        let node = try await InProcessNode.start { $0.webSocket.privateChannelSecret = "backend-secret" }
        let ws = try await node.client()
        let other = try await node.client()
        let id = try #require(try await ws.call(method: "connection_id")["connection_id"]?.stringValue)
        let otherID = try #require(try await other.call(method: "connection_id")["connection_id"]?.stringValue)
        #expect(id != otherID)
        let channel = "private-user-42"
        let token = PrivateChannelToken.sign(connectionID: id, channel: channel, secret: "backend-secret")
        for params: JSON in [["channel": .string(channel)], ["channel": .string(channel), "token": "00"]] {
            do {
                _ = try await ws.call(method: "subscribe", params: params)
                Issue.record("private channel without a valid token")
            } catch {
                #expect(code(of: error) == -32003)
            }
        }
        // The token of one connection does not open the channel on another.
        await #expect(throws: RocketWSClient.JSONRPCError.self) {
            try await other.call(method: "subscribe", params: ["channel": .string(channel), "token": .string(token)])
        }
        #expect(try await ws.call(method: "subscribe", params: ["channel": .string(channel), "token": .string(token)]) == "subscribed")
        let result = try await node.backend().call(method: "emit", params: ["channel": .string(channel), "data": ["secret": 1]])
        #expect(result == ["emitted": 1, "nodes": 1])
        #expect(try await ws.nextMessage()?["secret"] == 1)
        await node.stop()
    }

    @Test func privateChannelsAreRefusedWithoutASecret() async throws {
        let node = try await InProcessNode.start()
        let ws = try await node.client()
        do {
            _ = try await ws.call(method: "subscribe", params: ["channel": "private-x", "token": "ab"])
            Issue.record("private channel accepted without a node secret")
        } catch {
            #expect(code(of: error) == -32003)
        }
        await node.stop()
    }
}
