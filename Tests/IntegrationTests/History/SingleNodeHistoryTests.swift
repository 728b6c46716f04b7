import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// History on one node process: off answers -32004; on, emits get positions, frames carry them, `history`
/// returns the kept messages, and the ring keeps `--history-size` of them.
@Suite(.serialized) struct SingleNodeHistoryTests {
    private func code(_ body: () async throws -> Void) async -> Int? {
        do {
            try await body()
            return nil
        } catch let error as JSONRPCError {
            return error.code
        } catch {
            return -1
        }
    }

    @Test(.timeLimit(.minutes(1))) func historyOffAnswersMinus32004() async throws {
        let node = try await NodeProcess.start(name: "h-off")
        defer { node.kill9() }
        let client = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        #expect(await code { try await client.call(method: "subscribe", params: ["channel": "c", "history": true]) } == -32004)
        #expect(await code { try await client.call(method: "subscribe", params: ["channel": "c", "recover": ["epoch": "e", "offset": 1]]) } == -32004)
        let backend = MessagesSourceClient(host: "127.0.0.1", port: node.msPort)
        #expect(await code { _ = try await backend.call(method: "history", params: ["channel": "c"]) } == -32004)
        // Plain subscribe and emit are unchanged: no position in the answer or the frame.
        try await client.subscribe("c")
        let result = try await backend.call(method: "emit", params: ["channel": "c", "data": ["k": 1]])
        #expect(result == ["emitted": 1, "nodes": 1])
        let frame = try #require(try await client.nextMessage())
        #expect(frame["__offset"] == nil && frame["__epoch"] == nil && frame["k"] == 1)
        await client.abort()
    }

    @Test(.timeLimit(.minutes(1))) func historyOnGivesPositionsAndKeepsTheLastMessages() async throws {
        let node = try await NodeProcess.start(name: "h-on", arguments: ["--history-size", "3"])
        defer { node.kill9() }
        let backend = MessagesSourceClient(host: "127.0.0.1", port: node.msPort)
        let client = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        let subscribed = try await client.call(method: "subscribe", params: ["channel": "c", "history": true])
        let epoch = try #require(subscribed["epoch"]?.stringValue)
        #expect(subscribed["subscribed"] == true && subscribed["offset"] == 0)
        for k in 1...5 {
            let result = try await backend.call(method: "emit", params: ["channel": "c", "data": ["k": .int(k)]])
            #expect(result == ["emitted": 1, "nodes": 1, "epoch": .string(epoch), "offset": .int(k)])
            let frame = try #require(try await client.nextMessage())
            #expect(frame["__offset"] == .int(k) && frame["__epoch"] == .string(epoch) && frame["k"] == .int(k) && frame["__channel"] == "c")
        }
        let history = try await backend.call(method: "history", params: ["channel": "c", "limit": 2])
        #expect(history["epoch"] == .string(epoch) && history["offset"] == 5)
        #expect(history["messages"]?.arrayValue?.map { $0["offset"] } == [4, 5])
        #expect(history["messages"]?.arrayValue?.map { $0["data"] } == [["k": 4], ["k": 5]])
        let all = try await backend.call(method: "history", params: ["channel": "c"])
        #expect(all["messages"]?.arrayValue?.count == 3)
        // Recovery: within the ring it replays, beyond it (offset 1 was dropped) it cannot.
        let late = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        let recovered = try await late.call(method: "subscribe", params: ["channel": "c", "recover": ["epoch": .string(epoch), "offset": 3]])
        #expect(recovered == ["subscribed": true, "epoch": .string(epoch), "offset": 5, "recovered": true])
        #expect(try await late.nextMessage()?["k"] == 4)
        #expect(try await late.nextMessage()?["k"] == 5)
        let other = try await WebSocketClient.connect(host: "127.0.0.1", port: node.wsPort)
        let gone = try await other.call(method: "subscribe", params: ["channel": "c", "recover": ["epoch": .string(epoch), "offset": 1]])
        #expect(gone["recovered"] == false)
        #expect(try await other.nextMessage(timeout: .milliseconds(300)) == nil)
        // send_data skips its sender and is kept too.
        let sent = try await late.call(method: "send_data", params: ["channel": "c", "data": ["k": 6]])
        #expect(sent == ["emitted": 2])
        #expect(try await client.nextMessage()?["__offset"] == 6)
        #expect(try await late.nextMessage(timeout: .milliseconds(300)) == nil)
        let metrics = try await backend.get(path: "/metrics").text
        #expect(metrics.contains("rocketws_history_messages 3"))
        #expect(metrics.contains("rocketws_recoveries_total{recovered=\"true\"} 1"))
        for c in [client, late, other] { await c.abort() }
    }
}
