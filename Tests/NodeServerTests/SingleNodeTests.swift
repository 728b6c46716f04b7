import NIOCore
import RocketWSClient
import RocketWSTestKit
import Testing

@testable import NodeServer

/// A real node on loopback ports, driven by the real WebSocket and HTTP clients: every method of the contract.
@Suite(.serialized) struct SingleNodeTests {
    @Test func webSocketMethodsAnswerAsTheContractSays() async throws {
        let node = try await InProcessNode.start()
        let ws = try await node.client()
        #expect(try await ws.call(method: "subscribe", params: ["channel": "chat"]) == "subscribed")
        #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"])
        #expect(try await ws.call(method: "unsubscribe", params: ["channel": "chat"]) == "unsubscribed")
        await #expect(throws: RocketWSClient.JSONRPCError.self) { try await ws.call(method: "emit", params: ["channel": "chat", "data": [:]]) }
        do {
            _ = try await ws.call(method: "subscribe", params: ["channel": ""])
            Issue.record("empty channel accepted")
        } catch let error as RocketWSClient.JSONRPCError {
            #expect(error.code == -32602)
        }
        try await ws.close()
        await node.stop()
    }

    @Test func emitIsDeliveredWithMetaKeys() async throws {
        let node = try await InProcessNode.start()
        let a = try await node.client()
        let b = try await node.client()
        try await a.subscribe("chat")
        try await b.subscribe("chat")
        let backend = node.backend()
        let result = try await backend.call(method: "emit", params: ["channel": "chat", "data": ["message": "hola!", "n": 1]])
        #expect(result == ["emitted": 2, "nodes": 1])
        for client in [a, b] {
            let pushed = try #require(try await client.nextMessage(timeout: .seconds(10)))
            #expect(pushed["message"] == "hola!")
            #expect(pushed["n"] == 1)
            #expect(pushed["__type"] == "message")
            #expect(pushed["__channel"] == "chat")
            let ts = try #require(pushed["__ts"]?.intValue)
            #expect(abs(ts - Int(NodeAPI.unixSeconds())) < 5)
        }
        // A channel nobody listens to.
        #expect(try await backend.call(method: "emit", params: ["channel": "empty", "data": [:]]) == ["emitted": 0, "nodes": 0])
        await node.stop()
    }

    @Test func sendDataSkipsTheSenderAndRefusesNonSubscribers() async throws {
        let node = try await InProcessNode.start()
        let sender = try await node.client()
        let other = try await node.client()
        let outsider = try await node.client()
        try await sender.subscribe("room")
        try await other.subscribe("room")
        let result = try await sender.call(method: "send_data", params: ["channel": "room", "data": ["text": "hi"]])
        #expect(result == ["emitted": 1])
        let pushed = try #require(try await other.nextMessage())
        #expect(pushed["text"] == "hi")
        #expect(pushed["__channel"] == "room")
        #expect(try await sender.nextMessage(timeout: .milliseconds(300)) == nil)
        do {
            _ = try await outsider.call(method: "send_data", params: ["channel": "room", "data": ["text": "x"]])
            Issue.record("non-subscriber was allowed to send")
        } catch let error as RocketWSClient.JSONRPCError {
            #expect(error.code == -32000)
            #expect(error.message.contains("not subscribed"))
        }
        await node.stop()
    }

    @Test func notifyAllReachesEveryClient() async throws {
        let node = try await InProcessNode.start()
        let subscribed = try await node.client()
        let idle = try await node.client()
        try await subscribed.subscribe("x")
        #expect(try await idle.call(method: "heartbeat") == ["heartbeat": "ok"])  // the session is registered
        let result = try await node.backend().call(method: "notify_all", params: ["data": ["system": "maintenance"]])
        #expect(result == ["notified": 2, "nodes": 1])
        for client in [subscribed, idle] {
            let pushed = try #require(try await client.nextMessage())
            #expect(pushed["__type"] == "broadcast")
            #expect(pushed["system"] == "maintenance")
            #expect(pushed["__channel"] == nil)
        }
        await node.stop()
    }

    @Test func backendViewsAndNotificationsAndBatches() async throws {
        let node = try await InProcessNode.start()
        let a = try await node.client()
        let b = try await node.client()
        try await a.subscribe("news")
        try await a.subscribe("sport")
        try await b.subscribe("news")
        let backend = node.backend()
        #expect(try await backend.call(method: "total_subscribers", params: ["channel": "news"]) == ["total": 2, "nodes": ["solo": 2]])
        #expect(try await backend.call(method: "total_subscribers") == ["total": 3, "nodes": ["solo": 3]])
        #expect(try await backend.call(method: "total_subscribers", params: ["channel": "none"]) == ["total": 0, "nodes": [:]])
        #expect(try await backend.call(method: "available_channels") == ["news", "sport"])
        #expect(try await backend.call(method: "ping") == ["ping": "ok"])
        #expect(try await backend.call(method: "heartbeat") == ["heartbeat": "ok"])
        #expect(try await backend.call(method: "flush_dead_clients") == ["flushed": 0])
        let status = try await backend.call(method: "cluster_status")
        #expect(status["node"] == "solo")
        let members = try #require(status["members"]?.arrayValue)
        #expect(members.count == 1)
        #expect(members[0]["state"] == "alive")
        #expect(members[0]["connections"] == 2)
        #expect(members[0]["subscriptions"] == 3)
        #expect(status["channels"] == [["channel": "news", "subscribers": 2, "nodes": 1], ["channel": "sport", "subscribers": 1, "nodes": 1]])

        // A notification is answered 204 and still delivered.
        try await backend.notify(method: "emit", params: ["channel": "sport", "data": ["goal": 1]])
        #expect(try await a.nextMessage()?["goal"] == 1)

        // A batch: N answers, notifications excepted, errors in place.
        let batch = try await backend.postRaw(body: """
            [{"jsonrpc":"2.0","id":1,"method":"ping"},
             {"jsonrpc":"2.0","method":"emit","params":{"channel":"news","data":{"k":1}}},
             {"jsonrpc":"2.0","id":2,"method":"nope"},
             {"jsonrpc":"2.0","id":3,"method":"emit","params":{"channel":"news"}}]
            """)
        #expect(batch.status == 200)
        let answers = try #require(try batch.json().arrayValue)
        #expect(answers.count == 3)
        #expect(answers[0]["result"] == ["ping": "ok"])
        #expect(answers[1]["error"]?["code"] == -32601)
        #expect(answers[2]["error"]?["code"] == -32602)
        let notifications = try await backend.postRaw(body: #"[{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","method":"ping"}]"#)
        #expect(notifications.status == 204)
        await node.stop()
    }

    @Test func badInputGetsClearErrorsAndTheNodeKeepsServing() async throws {
        let node = try await InProcessNode.start { $0.messagesSource.maxBodyBytes = 4096; $0.webSocket.maxMessageBytes = 4096 }
        let backend = node.backend()
        let cases: [(String, Int)] = [
            ("{not json", -32700),
            (#"{"jsonrpc":"2.0","id":1}"#, -32600),
            (#"{"jsonrpc":"2.0","id":1,"method":"launch"}"#, -32601),
            (#"{"jsonrpc":"2.0","id":1,"method":"emit","params":{"channel":"c","data":5}}"#, -32602),
            ("[]", -32600),
        ]
        for (body, code) in cases {
            let response = try await backend.postRaw(body: body)
            #expect(response.status == 200)
            #expect(try response.json()["error"]?["code"]?.intValue == code, "\(body)")
        }
        let big = try await node.backend().postRaw(body: #"{"jsonrpc":"2.0","id":1,"method":"emit","params":{"channel":"c","data":{"x":""# + String(repeating: "a", count: 5000) + #""}}}"#)
        #expect(big.status == 413)
        let get = try await backend.get(path: "/")
        #expect(get.status == 405)
        #expect(try await backend.get(path: "/nothing").status == 404)

        // WebSocket: bad JSON answered, binary frames closed 1003, oversized messages closed 1009.
        let ws = try await node.client()
        try await ws.send(text: "{oops")
        #expect(try await ws.nextMessage()?["error"]?["code"] == -32700)
        let binary = try await node.client()
        try await binary.sendBinary([1, 2, 3])
        #expect(await closeCode(of: binary) == 1003)
        let oversized = try await node.client()
        try await oversized.send(text: String(repeating: " ", count: 5000))
        #expect(await closeCode(of: oversized) == 1009)

        #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"])
        #expect(try await backend.call(method: "ping") == ["ping": "ok"])
        #expect(try await backend.get(path: "/healthz").status == 200)
        await node.stop()
    }

    @Test func apiKeyIsRequiredWhenSet() async throws {
        let node = try await InProcessNode.start { $0.messagesSource.apiKey = "s3cret" }
        let response = try await node.backend().postRaw(body: #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        #expect(response.status == 401)
        #expect(try await node.backend(apiKey: "wrong").get(path: "/metrics").status == 401)
        #expect(try await node.backend(apiKey: "s3cret").call(method: "ping") == ["ping": "ok"])
        #expect(try await node.backend().get(path: "/healthz").status == 200)
        let metrics = try await node.backend(apiKey: "s3cret").get(path: "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("rocketws_unauthorized_total") || metrics.text.contains("rocketws_connections"))
        await node.stop()
    }

    @Test func metricsCountTraffic() async throws {
        let node = try await InProcessNode.start { $0.webSocket.flushDelay = .milliseconds(20) }
        let ws = try await node.client()
        try await ws.subscribe("m")
        _ = try await node.backend().call(method: "emit", params: ["channel": "m", "data": ["a": 1]])
        _ = try await ws.nextMessage()
        let text = try await node.backend().get(path: "/metrics").text
        #expect(text.contains("rocketws_connections 1"))
        #expect(text.contains("rocketws_subscriptions 1"))
        #expect(text.contains("rocketws_messages_in_total 1"))
        #expect(text.contains("rocketws_messages_out_total 1"))
        #expect(text.contains("rocketws_publish_latency_seconds_bucket"))
        // An idle node's fan-out window is the base one (--flush-delay-us; 0 by default, 20 ms here).
        #expect(text.contains("rocketws_fanout_window_seconds 0.02\n"))
        await node.stop()
    }
}
