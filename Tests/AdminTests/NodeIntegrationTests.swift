import Foundation
import RocketWSClient
import RocketWSTestKit
import Testing

/// rocketws-admin and the clients against the real `rocketws-node` binary.
@Suite struct NodeIntegrationTests {
    @Test func emitStatusChannelsAgainstNode() async throws {
        try await NodeProcess.with(name: "admin-a") { node in
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("chat")

            let emit = try await BinaryRunner.run(["emit", "chat", #"{"text":"hello"}"#, "--node", node.msURL])
            #expect(emit.status == 0, "\(emit.stderr)")
            #expect(try JSONValue(parsing: emit.stdout) == ["emitted": 1, "nodes": 1])
            let pushed = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(pushed["text"] == "hello")
            #expect(pushed["__type"] == "message")
            #expect(pushed["__channel"] == "chat")
            #expect(abs((pushed["__ts"]?.intValue ?? 0) - Int(Date().timeIntervalSince1970)) < 300, "\(pushed)")

            let status = try await BinaryRunner.run(["status", "--node", node.msURL])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("MEMBERS"))
            #expect(status.stdout.contains("SUBSCRIPTIONS"))
            #expect(status.stdout.contains("admin-a"))
            #expect(status.stdout.contains("chat"))

            let json = try JSONValue(
                parsing: try await BinaryRunner.run(["status", "--json", "--node", node.msURL]).stdout
            )
            #expect(json["node"] == "admin-a")
            #expect(json["members"]?[0]?["name"] == "admin-a")
            #expect(
                json["channels"]?.arrayValue?.contains { $0["channel"] == "chat" && $0["subscribers"] == 1 } == true
            )

            let channels = try await BinaryRunner.run(["channels", "--node", node.msURL])
            #expect(channels.stdout.contains("CHANNEL"))
            #expect(channels.stdout.contains("chat"))

            let notify = try await BinaryRunner.run(["notify-all", #"{"sys":true}"#, "--node", node.msURL])
            #expect(notify.status == 0, "\(notify.stderr)")
            #expect(try JSONValue(parsing: notify.stdout)["notified"] == 1)
            #expect(try await ws.nextMessage(timeout: .seconds(20))?["__type"] == "broadcast")

            let ping = try await BinaryRunner.run(["ping", "--node", node.msURL])
            #expect(ping.status == 0)

            let invalid = try await BinaryRunner.run(["emit", "", "{}", "--node", node.msURL])
            #expect(invalid.status != 0)
            let rpcError = try await BinaryRunner.run(["emit", "chat", "[1]", "--node", node.msURL])
            #expect(rpcError.status == 1)
            #expect(rpcError.stderrLines.count == 1)
            #expect(rpcError.stderr.contains("-32602"))
            try await ws.close()
        }
    }

    @Test func apiKeyAgainstNode() async throws {
        try await NodeProcess.with(name: "admin-c", apiKey: "k3y") { node in
            let wrong = try await BinaryRunner.run(["ping", "--node", node.msURL, "--api-key", "nope"])
            #expect(wrong.status == 1)
            #expect(wrong.stderrLines.count == 1)
            #expect(wrong.stderr.contains("401"))
            let missing = try await BinaryRunner.run(["status", "--node", node.msURL])
            #expect(missing.status == 1)
            #expect(missing.stderrLines.count == 1)
            #expect(missing.stderr.contains("401"))
            let right = try await BinaryRunner.run(
                ["ping", "--node", node.msURL],
                environment: ["ROCKETWS_API_KEY": "k3y"]
            )
            #expect(right.status == 0, "\(right.stderr)")
            let emit = try await BinaryRunner.run(["emit", "c", "{}", "--node", node.msURL, "--api-key", "k3y"])
            #expect(try JSONValue(parsing: emit.stdout) == ["emitted": 0, "nodes": 0], "\(emit.stderr)")
            // The contract lists the 401s in /metrics.
            #expect(try await node.metric("rocketws_unauthorized_total") == 2)
        }
    }

    @Test func benchAgainstNode() async throws {
        try await NodeProcess.with(name: "admin-d") { node in
            // Requests from two publishers, subscribers spread over two URLs (the same node twice); then
            // notifications from three publishers at a set rate.
            let runs = [
                ["--ws", "\(node.wsURL),\(node.wsURL)", "--publishers", "2"],
                ["--ws", node.wsURL, "--notify", "--publishers", "3", "--rate", "2000"],
            ]
            for extra in runs {
                let result = try await BinaryRunner.run(
                    [
                        "bench", "--node", node.msURL, "--subscribers", "50", "--messages", "500",
                        "--idle-timeout", "20", "--json",
                    ] + extra,
                    timeout: .seconds(300)
                )
                #expect(result.status == 0, "\(result.stderr)")
                let report = try JSONValue(parsing: result.stdout)
                #expect(report["lost"] == 0, "\(extra): \(result.stdout)")
                #expect(report["duplicated"] == 0)
                #expect(report["accepted"] == 500)
                #expect(report["delivered"] == 25_000)
                #expect(report["emit_errors"] == 0)
                for key in ["p50_ms", "p99_ms", "max_ms", "deliveries_per_second", "emits_per_second"] {
                    #expect(report[key]?.doubleValue != nil, "\(key)")
                }
            }
            let table = try await BinaryRunner.run(
                ["bench", "--node", node.msURL, "--ws", node.wsURL, "--subscribers", "5", "--messages", "50"],
                timeout: .seconds(120)
            )
            #expect(table.status == 0, "\(table.stderr)")
            #expect(table.stdout.contains("deliveries/s"))
            #expect(table.stdout.contains("latency p99 (ms)"))
        }
    }

    @Test func clientsAgainstNode() async throws {
        try await NodeProcess.with(name: "admin-e") { node in
            let ms = node.messagesSource()
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            let other = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("room")
            try await other.subscribe("room")
            // send_data from one subscriber reaches the other, not the sender (whose next message is n = 0 below).
            #expect(
                try await ws.call(method: "send_data", params: ["channel": "room", "data": ["x": 1]]) == ["emitted": 1]
            )
            let relayed = try #require(try await other.nextMessage(timeout: .seconds(20)))
            #expect(relayed["x"] == 1)
            #expect(relayed["__type"] == "message")
            #expect(relayed["__channel"] == "room")
            #expect(relayed["__ts"]?.intValue != nil)
            #expect(
                try await ms.call(method: "emit", params: ["channel": "room", "data": ["n": -1]])
                    == ["emitted": 2, "nodes": 1]
            )
            #expect(try await other.nextMessage(timeout: .seconds(20))?["n"] == -1)
            #expect(try await ws.nextMessage(timeout: .seconds(20))?["n"] == -1)
            // Interleaving: pushes while calls are pending.
            async let emits: Void = {
                for index in 0..<300 {
                    try await ms.call(method: "emit", params: ["channel": "room", "data": ["n": .int(index)]])
                }
            }()
            for _ in 0..<30 { #expect(try await ws.call(method: "heartbeat") == ["heartbeat": "ok"]) }
            try await emits
            for index in 0..<300 {
                #expect(try await ws.nextMessage(timeout: .seconds(20))?["n"]?.intValue == index)
            }
            try await ms.notify(method: "emit", params: ["channel": "room", "data": ["last": true]])
            #expect(try await ws.nextMessage(timeout: .seconds(20))?["last"] == true)
            let bad = try await ms.postRaw(body: "{oops")
            #expect(bad.status == 200)
            #expect(try bad.json()["error"]?["code"] == -32700)
            #expect(try await ms.get(path: "/healthz").status == 200)
            try await ws.close()
            try await other.close()
            try await ms.close()
        }
    }

    @Test func oversizedBodyThenKeepGoing() async throws {
        try await NodeProcess.with(name: "admin-f", arguments: ["--max-message-bytes", "2000"]) { node in
            let ms = node.messagesSource()
            let padding = String(repeating: "a", count: 50_000)
            let body =
                #"{"jsonrpc":"2.0","id":1,"method":"emit","params":{"channel":"c","data":{"x":""# + padding + #""}}}"#
            for _ in 0..<2 {
                let response = try await ms.postRaw(body: body)
                #expect(response.status == 413)
                // The node may close the connection after a 413; the client reconnects for the next request.
                #expect(try await ms.call(method: "ping") == ["ping": "ok"])
            }
            try await ms.close()
        }
    }

    @Test func twoNodeClusterStatusAndBench() async throws {
        let peer1 = freePort()
        let peer2 = freePort()
        try await NodeProcess.with(name: "admin-g1", arguments: ["--peer-conn", "127.0.0.1:\(peer1)"]) { n1 in
            let join = ["--peer-conn", "127.0.0.1:\(peer2)", "--join", "127.0.0.1:\(peer1)"]
            try await NodeProcess.with(name: "admin-g2", arguments: join) { n2 in
                // Wait (with a deadline) until each node sees both members alive.
                for node in [n1, n2] {
                    let client = node.messagesSource()
                    var alive = 0
                    let joined = try await eventually(timeout: .seconds(60)) {
                        let status = try await client.call(method: "cluster_status")
                        alive = status["members"]?.arrayValue?.filter { $0["state"] == "alive" }.count ?? 0
                        return alive == 2
                    }
                    #expect(joined, "\(node.name) sees \(alive) alive members")
                    try await client.close()
                }

                let status = try await BinaryRunner.run(["status", "--node", n1.msURL])
                #expect(status.status == 0, "\(status.stderr)")
                #expect(status.stdout.contains("admin-g1") && status.stdout.contains("admin-g2"))

                // Subscribers on n2 only, emits to n1: everything crosses the peer mesh.
                let result = try await BinaryRunner.run(
                    [
                        "bench", "--node", n1.msURL, "--ws", n2.wsURL, "--subscribers", "20", "--messages", "300",
                        "--idle-timeout", "20", "--json",
                    ],
                    timeout: .seconds(300)
                )
                #expect(result.status == 0, "\(result.stderr)")
                let report = try JSONValue(parsing: result.stdout)
                #expect(report["lost"] == 0, "\(result.stdout)")
                #expect(report["duplicated"] == 0)
                #expect(report["delivered"] == 6000)
            }
        }
    }
}
