import Foundation
import RocketWSClient
import Testing

/// rocketws-admin and the clients against the real `rocketws-node` binary.
@Suite struct NodeIntegrationTests {
    @Test func emitStatusChannelsAgainstNode() async throws {
        let node = try await NodeLauncher.start(name: "admin-a")
        do {
            let ws = try await WebSocketClient.connect(url: node.wsURL)
            try await ws.subscribe("chat")

            let emit = try await BinaryRunner.run(["emit", "chat", #"{"text":"hello"}"#, "--node", node.msURL])
            #expect(emit.status == 0, "\(emit.stderr)")
            let result = try JSONValue(parsing: emit.stdout)
            #expect(result["emitted"] == 1)
            let pushed = try #require(try await ws.nextMessage(timeout: .seconds(20)))
            #expect(pushed["text"] == "hello")
            #expect(pushed["__type"] == "message")
            #expect(pushed["__channel"] == "chat")

            let status = try await BinaryRunner.run(["status", "--node", node.msURL])
            #expect(status.status == 0, "\(status.stderr)")
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
        } catch {
            Issue.record("node log: \(node.log)")
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test func scriptedShellAgainstNode() async throws {
        let node = try await NodeLauncher.start(name: "admin-b")
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        try await ws.subscribe("chat")
        let script = """
            emit chat {"a":1}
            total_subscribers chat
            available_channels
            exit
            """
        let result = try await BinaryRunner.run(["shell", "--node", node.msURL], stdin: script)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        if lines.count == 3 {
            #expect(try JSONValue(parsing: lines[0])["emitted"] == 1)
            #expect(try JSONValue(parsing: lines[1])["total"] == 1)
            #expect(try JSONValue(parsing: lines[2]) == ["chat"])
        }
        #expect(try await ws.nextMessage(timeout: .seconds(20))?["a"] == 1)
        try await ws.close()
        await node.stop()
    }

    @Test func apiKeyAgainstNode() async throws {
        let node = try await NodeLauncher.start(name: "admin-c", arguments: ["--api-key", "k3y"])
        let wrong = try await BinaryRunner.run(["ping", "--node", node.msURL, "--api-key", "nope"])
        #expect(wrong.status == 1)
        #expect(wrong.stderrLines.count == 1)
        #expect(wrong.stderr.contains("401"))
        let missing = try await BinaryRunner.run(["status", "--node", node.msURL])
        #expect(missing.status == 1)
        #expect(missing.stderrLines.count == 1)
        let right = try await BinaryRunner.run(
            ["ping", "--node", node.msURL],
            environment: ["ROCKETWS_API_KEY": "k3y"]
        )
        #expect(right.status == 0, "\(right.stderr)")
        await node.stop()
    }

    @Test func benchAgainstNode() async throws {
        let node = try await NodeLauncher.start(name: "admin-d")
        for extra in [[String](), ["--notify"]] {
            let result = try await BinaryRunner.run(
                [
                    "bench", "--node", node.msURL, "--ws", node.wsURL, "--subscribers", "50", "--messages", "500",
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
        }
        await node.stop()
    }

    @Test func clientsAgainstNode() async throws {
        let node = try await NodeLauncher.start(name: "admin-e")
        let ms = try MessagesSourceClient(url: node.msURL)
        let ws = try await WebSocketClient.connect(url: node.wsURL)
        let other = try await WebSocketClient.connect(url: node.wsURL)
        try await ws.subscribe("room")
        try await other.subscribe("room")
        // send_data from one subscriber reaches the other, not the sender.
        #expect(
            try await ws.call(method: "send_data", params: ["channel": "room", "data": ["x": 1]]) == ["emitted": 1]
        )
        #expect(try await other.nextMessage(timeout: .seconds(20))?["x"] == 1)
        #expect(try await ws.nextMessage(timeout: .milliseconds(300)) == nil)
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
        await node.stop()
    }

    @Test func oversizedBodyThenKeepGoing() async throws {
        let node = try await NodeLauncher.start(name: "admin-f", arguments: ["--max-message-bytes", "2000"])
        let ms = try MessagesSourceClient(url: node.msURL)
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
        await node.stop()
    }

    @Test func twoNodeClusterStatusAndBench() async throws {
        let peer1 = try await FreePort.find()
        let peer2 = try await FreePort.find()
        let n1 = try await NodeLauncher.start(name: "admin-g1", arguments: ["--peer-conn", "127.0.0.1:\(peer1)"])
        let n2 = try await NodeLauncher.start(
            name: "admin-g2",
            arguments: ["--peer-conn", "127.0.0.1:\(peer2)", "--join", "127.0.0.1:\(peer1)"]
        )
        do {
            // Wait (with a deadline) until each node sees both members alive.
            for node in [n1, n2] {
                let client = try MessagesSourceClient(url: node.msURL)
                let deadline = ContinuousClock.now.advanced(by: .seconds(60))
                var alive = 0
                while ContinuousClock.now < deadline {
                    let status = try await client.call(method: "cluster_status")
                    alive = status["members"]?.arrayValue?.filter { $0["state"] == "alive" }.count ?? 0
                    if alive == 2 { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(alive == 2, "\(node.name) sees \(alive) alive members")
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
        } catch {
            Issue.record("logs: \(n1.log)\n\(n2.log)")
            await n2.stop()
            await n1.stop()
            throw error
        }
        await n2.stop()
        await n1.stop()
    }
}
